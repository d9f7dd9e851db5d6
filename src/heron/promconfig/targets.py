"""From a discovered target to its final labels and scrape URL, as Prometheus 2.42 does it.

`populate_labels` is `scrape.PopulateLabels`: job, `__metrics_path__`, `__scheme__`,
`__scrape_interval__`, `__scrape_timeout__` and `__param_*` defaults go in first, then
`relabel_configs`, then the default port by scheme, the checks on interval and timeout, and
`instance` from `__address__`; `__meta_*` labels go last. The targets API shows the result as
`labels` and the pre-relabeling set as `discoveredLabels`, so both must match Prometheus'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import quote, quote_plus

from heron.config import parse_duration
from heron.promconfig.relabel import relabel
from heron.promconfig.types import ScrapeConfig

__all__ = [
    "format_duration",
    "populate_labels",
    "split_host_port",
    "target_url",
]

ADDRESS = "__address__"
SCHEME = "__scheme__"
METRICS_PATH = "__metrics_path__"
SCRAPE_INTERVAL = "__scrape_interval__"
SCRAPE_TIMEOUT = "__scrape_timeout__"
PARAM_PREFIX = "__param_"
META_PREFIX = "__meta_"


def format_duration(seconds: float) -> str:
    """Prometheus' `model.Duration.String()`: "1m", "1m30s", "90d" (years and weeks only when
    exact), "0s" for zero."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    out = []
    for unit, mult, exact in (
        ("y", 365 * 86_400_000, True),
        ("w", 7 * 86_400_000, True),
        ("d", 86_400_000, False),
        ("h", 3_600_000, False),
        ("m", 60_000, False),
        ("s", 1000, False),
        ("ms", 1, False),
    ):
        if exact and ms % mult:
            continue
        v = ms // mult
        if v > 0:
            out.append(f"{v}{unit}")
            ms -= v * mult
    return "".join(out)


def split_host_port(hostport: str) -> tuple[str, str] | None:
    """Go's `net.SplitHostPort`; None where it returns an error."""
    i = hostport.rfind(":")
    if i < 0:
        return None
    j = k = 0
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0 or end + 1 == len(hostport) or end + 1 != i:
            return None
        host = hostport[1:end]
        j, k = 1, end + 1
    else:
        host = hostport[:i]
        if ":" in host:
            return None
    if "[" in hostport[j:] or "]" in hostport[k:]:
        return None
    return host, hostport[i + 1 :]


def _valid_duration(text: str) -> float | None:
    try:
        return parse_duration(text) if text and text == text.strip() else None
    except ValueError:
        return None


def populate_labels(
    group_labels: Mapping[str, str], target: Mapping[str, str], cfg: ScrapeConfig
) -> tuple[dict[str, str] | None, dict[str, str], str | None]:
    """`scrape.PopulateLabels` for one discovered target.

    Returns (labels, discovered, error): labels is None when relabeling dropped the target
    (then `discovered` is its pre-relabeling set, for `droppedTargets`) or on an error (then
    `discovered` is empty and `error` says why, as Prometheus logs it). Arguments are not changed.
    """
    lset: dict[str, str] = dict(target)
    for name, value in group_labels.items():
        if name not in lset:
            lset[name] = value
    for name, value in (
        ("job", cfg.job_name),
        (SCRAPE_INTERVAL, format_duration(cfg.scrape_interval)),
        (SCRAPE_TIMEOUT, format_duration(cfg.scrape_timeout)),
        (METRICS_PATH, cfg.metrics_path),
        (SCHEME, cfg.scheme),
    ):
        if not lset.get(name):
            lset[name] = value
    for name, values in cfg.params.items():
        if values:
            lset[PARAM_PREFIX + name] = values[0]
    discovered = {name: value for name, value in lset.items() if value}

    result = relabel(discovered, cfg.relabel_configs)
    if result is None:
        return None, discovered, None
    addr = result.get(ADDRESS, "")
    if not addr:
        return None, {}, "no address"

    if split_host_port(addr) is None and split_host_port(addr + ":1234") is not None:
        scheme = result.get(SCHEME, "")
        if scheme in ("http", ""):
            addr += ":80"
        elif scheme == "https":
            addr += ":443"
        else:
            return None, {}, f'invalid scheme: "{cfg.scheme}"'
        result[ADDRESS] = addr
    if "/" in addr:
        return None, {}, f'"{addr}" is not a valid hostname'

    interval_text = result.get(SCRAPE_INTERVAL, "")
    interval = _valid_duration(interval_text)
    if interval is None:
        return None, {}, f'error parsing scrape interval: not a valid duration string: "{interval_text}"'
    if interval == 0:
        return None, {}, "scrape interval cannot be 0"
    timeout_text = result.get(SCRAPE_TIMEOUT, "")
    timeout = _valid_duration(timeout_text)
    if timeout is None:
        return None, {}, f'error parsing scrape timeout: not a valid duration string: "{timeout_text}"'
    if timeout == 0:
        return None, {}, "scrape timeout cannot be 0"
    if timeout > interval:
        return (
            None,
            {},
            f'scrape timeout cannot be greater than scrape interval ("{timeout_text}" > "{interval_text}")',
        )

    final = {name: value for name, value in result.items() if not name.startswith(META_PREFIX)}
    if not final.get("instance"):
        final["instance"] = addr
    for name, value in final.items():
        # Prometheus 2.42 checks values only (UTF-8); names such as __param_match[] pass.
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return None, {}, f'invalid label value for "{name}": {value!r}'
    return dict(sorted(final.items())), discovered, None


def _escape_query(params: Mapping[str, Sequence[str]]) -> str:
    """Go's `url.Values.Encode`: keys sorted, each value `key=value`, QueryEscape'd."""
    parts = []
    for key in sorted(params):
        k = quote_plus(key, safe="")
        parts.extend(f"{k}={quote_plus(v, safe='')}" for v in params[key])
    return "&".join(parts)


def target_url(labels: Mapping[str, str], params: Mapping[str, Sequence[str]] | None = None) -> str:
    """The scrape URL of a target from its final labels, as Prometheus' `Target.URL()`:
    `__scheme__://__address____metrics_path__?params`, where `__param_<name>` labels replace
    the first value of the scrape config's `params` (pass them to keep extra values)."""
    query: dict[str, list[str]] = {k: list(v) for k, v in (params or {}).items()}
    for name in sorted(labels):
        if name.startswith(PARAM_PREFIX):
            key = name[len(PARAM_PREFIX) :]
            if query.get(key):
                query[key][0] = labels[name]
            else:
                query[key] = [labels[name]]
    path = labels.get(METRICS_PATH, "")
    host = labels.get(ADDRESS, "")
    escaped = quote(path, safe="/$&+,:;=@")
    if host and escaped and not escaped.startswith("/"):
        escaped = "/" + escaped
    url = f"{labels.get(SCHEME, '')}://{host}{escaped}"
    encoded = _escape_query(query)
    return f"{url}?{encoded}" if encoded else url
