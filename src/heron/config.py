"""Heron's settings: one table, three sources, one-line errors.

Every setting is a row of `SETTINGS` (name, parser, default, help), in the style of Datasette's
settings table. The same row gives the YAML key (`retention_size`), the command-line flag
(`--retention-size`) and the environment variable (`HERON_RETENTION_SIZE`), so the three can
never drift apart, and the README's table is checked against it by a test.

Sources, in rising precedence: the YAML file named by `--config`, `HERON_*` environment
variables, command-line flags. Defaults are what a Kubernetes cluster needs, so most
deployments set nothing at all.

Bad input never starts a half-configured server: anything unknown or unparsable raises
`ConfigError`, whose message is a single line naming the key and where the value came from,
because that line is all an operator sees in `kubectl logs` of a crash-looping pod.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

if TYPE_CHECKING:
    from heron.promconfig.types import PromConfig
    from heron.storage.types import StorageOptions

__all__ = [
    "ConfigError",
    "Setting",
    "SETTINGS",
    "Settings",
    "load_settings",
    "load_prom_config",
    "PROM_SECTION_KEYS",
    "parse_duration",
    "parse_size",
    "parse_listen",
    "split_host_port",
    "ENV_PREFIX",
    "LOG_LEVELS",
    "LOG_FORMATS",
]

ENV_PREFIX = "HERON_"
# Prometheus-shaped sections of the same file: YAML only, read by `load_prom_config`
# (heron.promconfig), never by `load_settings`. The same names as heron.promconfig.SECTION_KEYS.
PROM_SECTION_KEYS = ("global", "scrape_configs", "remote_write")
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("logfmt", "json")


class ConfigError(Exception):
    """A setting could not be read. `str()` is one line: what, which key, from where.

    Example: ``config error: retention: invalid duration "15x" (from /etc/heron.yaml)``.
    """

    def __init__(self, key: str, problem: str, source: str) -> None:
        self.key = key
        self.problem = _one_line(problem)
        self.source = source
        super().__init__(f"config error: {key}: {self.problem} (from {source})")


# --------------------------------------------------------------------------------------------
# Parsers. Each takes the text a user wrote and returns a typed value, or raises ValueError
# with a short problem description (the caller adds the key and the source).


# Prometheus' duration syntax (model.ParseDuration): integer amounts, units in descending order,
# each at most once. Kept identical so a value copied from a Prometheus config means the same.
_DURATION_RE = re.compile(
    r"(?:(?P<y>[0-9]+)y)?(?:(?P<w>[0-9]+)w)?(?:(?P<d>[0-9]+)d)?(?:(?P<h>[0-9]+)h)?"
    r"(?:(?P<m>[0-9]+)m)?(?:(?P<s>[0-9]+)s)?(?:(?P<ms>[0-9]+)ms)?"
)
_DURATION_UNITS: dict[str, float] = {
    "y": 365 * 86400.0,
    "w": 7 * 86400.0,
    "d": 86400.0,
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 0.001,
}


def parse_duration(text: str) -> float:
    """Parse a Prometheus-style duration ("15d", "1h30m", "500ms", "2w", "1y", "0") to seconds.

    Raises ValueError for anything else, including fractions ("1.5h") and units out of order
    ("30m1h"), exactly as Prometheus does.
    """
    s = text.strip()
    if s == "0":
        return 0.0
    match = _DURATION_RE.fullmatch(s)
    if not s or match is None:
        raise ValueError(
            f"invalid duration {_quote(text)}: want e.g. 15d, 1h30m or 500ms; units are y w d h m s ms"
        )
    total_ms = 0
    for unit, amount in match.groupdict().items():
        if amount is not None:
            total_ms += int(amount) * round(_DURATION_UNITS[unit] * 1000)
    return total_ms / 1000.0


_SIZE_RE = re.compile(r"(?P<num>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>[A-Za-z]*)")
_SIZE_UNITS: dict[str, int] = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}


def parse_size(text: str) -> int:
    """Parse a byte size to an int: "512MiB", "1.5GiB", "10GB", "1KB" (= 1000), "262144".

    Binary units (KiB, MiB, GiB, TiB) are powers of 1024 and SI units (KB, MB, GB, TB) powers
    of 1000, because disk budgets are quoted both ways and guessing silently is worse than
    being exact. Units are case-insensitive; the result must be a whole number of bytes.
    """
    s = text.strip()
    match = _SIZE_RE.fullmatch(s)
    unit = match.group("unit").lower() if match else ""
    if match is None or unit not in _SIZE_UNITS:
        raise ValueError(f"invalid size {_quote(text)}: want e.g. 256KiB, 512MiB, 10GB or a number of bytes")
    try:
        value = Decimal(match.group("num")) * _SIZE_UNITS[unit]
    except InvalidOperation:  # pragma: no cover - the regex admits only plain decimals
        raise ValueError(f"invalid size {_quote(text)}") from None
    if value != value.to_integral_value():
        raise ValueError(f"invalid size {_quote(text)}: not a whole number of bytes")
    return int(value)


def split_host_port(text: str) -> tuple[str, int]:
    """Split "host:port" (IPv6 as "[::1]:9500"; empty host = all interfaces) into its parts."""
    s = text.strip()
    host, sep, port_text = s.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError(f"invalid address {_quote(text)}: want host:port, e.g. 127.0.0.1:9500")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"invalid address {_quote(text)}: put an IPv6 host in brackets, e.g. [::1]:9500")
    port = int(port_text)
    if port > 65535:
        raise ValueError(f"invalid address {_quote(text)}: port {port} is out of range 0-65535")
    return host, port


def parse_listen(text: str) -> str:
    """Validate a listen address; the text is kept as written so logs show what the user set."""
    split_host_port(text)
    return text.strip()


def _parse_optional_listen(text: str) -> str:
    """A listen address, or empty for none."""
    return parse_listen(text) if text.strip() else ""


def _parse_path(text: str) -> Path:
    if not text.strip():
        raise ValueError("empty path")
    return Path(text)


def _parse_ui_dir(text: str) -> Path | None:
    """Empty means the UI built into the package; otherwise a directory holding a UI build
    (checked now, so a typo fails at start rather than as a blank page)."""
    if not text.strip():
        return None
    path = Path(text.strip())
    if not (path / "index.html").is_file():
        raise ValueError(
            f"no index.html in {_quote(text.strip())}: want a directory built by `npm run build`"
        )
    return path


def _parse_url(text: str) -> str:
    value = text.strip()
    if not (value.startswith("http://") or value.startswith("https://")) or len(value) <= len("https://"):
        raise ValueError(f"invalid URL {_quote(text)}: want http://host:port or https://host:port")
    return value.rstrip("/")


_NODE_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")


def _parse_node_name(text: str) -> str:
    """Empty (find it at run time) or a Kubernetes node name: a DNS-1123 subdomain."""
    value = text.strip()
    if value and not _NODE_NAME_RE.fullmatch(value):
        raise ValueError(f"invalid node name {_quote(text)}: lowercase letters, digits, '-' and '.'")
    return value


def _parse_token_file(text: str) -> str:
    """Empty (no token) or a readable file, checked now so a typo fails at start-up."""
    value = text.strip()
    if value and not os.path.isfile(value):
        raise ValueError(f"no such file {_quote(text)}")
    return value


def _parse_optional_abs_path(text: str) -> str:
    """Empty, or an absolute path not checked now (a mounted secret appears with its volume and
    is read at each use, as Prometheus reads credentials files)."""
    value = text.strip()
    if value and not os.path.isabs(value):
        raise ValueError(f"want an absolute path, not {_quote(text)}")
    return value


KUBE_MODES = ("auto", "in-cluster", "kubeconfig", "none")
START_AT = ("beginning", "end")
_GLOB_RE = re.compile(r"[A-Za-z0-9._/*?\[\]!-]+")


def _parse_globs(text: str) -> tuple[str, ...]:
    """Comma-separated glob patterns on Kubernetes label keys; empty text means none."""
    patterns = tuple(p.strip() for p in text.split(",") if p.strip())
    for p in patterns:
        if not _GLOB_RE.fullmatch(p):
            raise ValueError(
                f"invalid label key pattern {_quote(p)}: want globs like app or team*, comma-separated"
            )
    return patterns


def _parse_label_names(text: str) -> tuple[str, ...]:
    """Comma-separated label names (discover_service_name); empty text means none."""
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    for n in names:
        if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", n):
            raise ValueError(
                f"invalid label name {_quote(n)}: want names like app or service, comma-separated"
            )
    return names


def _parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"invalid boolean {_quote(text)}: want true or false")


def _positive_number(text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"invalid number {_quote(text)}") from None
    if not value > 0 or value == float("inf"):
        raise ValueError(f"invalid number {_quote(text)}: must be greater than 0")
    return value


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in options:
            raise ValueError(f"invalid value {_quote(text)}: want one of {', '.join(options)}")
        return value

    return parse


def _duration(minimum: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = parse_duration(text)
        if value < minimum:
            raise ValueError(f"invalid duration {_quote(text)}: must be greater than 0")
        return value

    return parse


def _size(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = parse_size(text)
        if value < minimum:
            raise ValueError(f"invalid size {_quote(text)}: must be at least {minimum} bytes")
        return value

    return parse


def _integer(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise ValueError(f"invalid integer {_quote(text)}") from None
        if value < minimum:
            raise ValueError(f"invalid integer {_quote(text)}: must be at least {minimum}")
        return value

    return parse


def _parse_fsync(text: str) -> Literal["always"] | float:
    if text.strip().lower() == "always":
        return "always"
    try:
        value = parse_duration(text)
    except ValueError:
        raise ValueError(
            f"invalid fsync {_quote(text)}: want always or an interval like 1s or 200ms"
        ) from None
    if value <= 0:
        raise ValueError(f"invalid fsync {_quote(text)}: the interval must be greater than 0")
    return value


# --------------------------------------------------------------------------------------------
# The table.


@dataclass(frozen=True)
class Setting:
    """One row of the settings table. `default` is text, parsed like any user value, so the
    docs show exactly what a user would write."""

    name: str
    parse: Callable[[str], Any]
    default: str
    help: str
    metavar: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


_POSITIVE = 1e-9  # "greater than zero" for durations (parse_duration's smallest step is 1 ms)

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "listen",
        parse_listen,
        "127.0.0.1:9500",
        "address (host:port) the HTTP server listens on",
        "HOST:PORT",
    ),
    Setting("data_dir", _parse_path, "./data", "directory holding the WAL and blocks", "DIR"),
    Setting(
        "log_level",
        _choice(LOG_LEVELS),
        "info",
        "least severe log level written: debug, info, warning or error",
        "LEVEL",
    ),
    Setting(
        "log_format", _choice(LOG_FORMATS), "logfmt", "log line format on stderr: logfmt or json", "FORMAT"
    ),
    Setting("retention", _duration(_POSITIVE), "15d", "drop data older than this", "DURATION"),
    Setting(
        "retention_size",
        _size(0),
        "0",
        "disk budget for stored blocks; oldest blocks are dropped past it (0 = no budget)",
        "SIZE",
    ),
    Setting(
        "fsync",
        _parse_fsync,
        "1s",
        "when the WAL is fsynced: always (before every append returns) or an interval like 1s",
        "always|DURATION",
    ),
    Setting(
        "ooo_window",
        _duration(0.0),
        "1h",
        "accept out-of-order entries this far behind a series' newest",
        "DURATION",
    ),
    Setting("max_line_size", _size(1), "256KiB", "longest log line accepted", "SIZE"),
    Setting("max_labels_per_series", _integer(1), "30", "most labels one series may have", "N"),
    Setting("max_active_series", _integer(1), "500000", "most series held in the head at once", "N"),
    Setting("head_max_size", _size(1), "64MiB", "cut the in-memory head into a block past this size", "SIZE"),
    Setting(
        "block_duration",
        _duration(_POSITIVE),
        "2h",
        "cut the head into a block when it spans this much time",
        "DURATION",
    ),
    Setting("max_entries_per_query", _integer(1), "5000", "most log entries one query may return", "N"),
    Setting("max_series_per_query", _integer(1), "500", "most series one query may touch", "N"),
    Setting(
        "query_timeout", _duration(_POSITIVE), "2m", "cancel a query that runs longer than this", "DURATION"
    ),
    Setting(
        "query_memory_budget",
        _size(1),
        "256MiB",
        "most memory one query may hold (lines, labels, series, steps); more gets HTTP 422",
        "SIZE",
    ),
    Setting(
        "query_workers",
        _integer(0),
        "2",
        "processes that evaluate queries apart from ingest (0 = in the server process)",
        "N",
    ),
    Setting(
        "lookback_delta",
        _duration(_POSITIVE),
        "5m",
        "PromQL: how far back an instant vector selector looks for a sample",
        "DURATION",
    ),
    Setting(
        "query_max_samples",
        _integer(1),
        "50000000",
        "PromQL: most samples one query may hold in memory at once; more gets HTTP 422",
        "N",
    ),
    Setting(
        "max_push_size",
        _size(1),
        "64MiB",
        "largest push request body accepted, before and after decompression",
        "SIZE",
    ),
    Setting(
        "future_skew",
        _duration(0.0),
        "10m",
        "refuse entries whose timestamp is further than this ahead of the server's clock",
        "DURATION",
    ),
    Setting(
        "request_read_timeout",
        _duration(_POSITIVE),
        "30s",
        "a client must send a request's headers and body within this long",
        "DURATION",
    ),
    Setting(
        "ingestion_rate",
        _size(1),
        "64MiB",
        "sustained log bytes per second accepted by push; more gets HTTP 429",
        "SIZE",
    ),
    Setting("ingestion_burst", _size(1), "128MiB", "log bytes a push burst may use above the rate", "SIZE"),
    Setting(
        "discover_service_name",
        _parse_label_names,
        "service,app,application,app_name,name,app_kubernetes_io_name,container,container_name,"
        "k8s_container_name,component,workload,job,k8s_job_name",
        "label a stream without service_name takes it from, first present wins (empty: off)",
        "NAMES",
    ),
    Setting(
        "discover_log_levels",
        _parse_bool,
        "true",
        "add detected_level structured metadata to every pushed entry, as Loki does",
        "BOOL",
    ),
    Setting(
        "ui_dir",
        _parse_ui_dir,
        "",
        "serve the web UI from this directory instead of the one built into the package",
        "DIR",
    ),
    Setting("pods_dir", _parse_path, "/var/log/pods", "agent: the kubelet's pod log directory", "DIR"),
    Setting("state_dir", _parse_path, "./agent-state", "agent: checkpoints and the shipping queue", "DIR"),
    Setting(
        "server", _parse_url, "http://127.0.0.1:9500", "agent: the heron (or Loki) server to push to", "URL"
    ),
    Setting(
        "node_name",
        _parse_node_name,
        "",
        "agent: this node's name (empty = $NODE_NAME, then the hostname)",
        "NAME",
    ),
    Setting(
        "kube",
        _choice(KUBE_MODES),
        "auto",
        "agent and server: Kubernetes API for pod metadata and discovery: auto|in-cluster|kubeconfig|none",
        "MODE",
    ),
    Setting(
        "kubelet_scheme",
        _choice(("https", "http")),
        "https",
        "agent: scrape the kubelet over https (verified with the service account's CA) or http",
        "SCHEME",
    ),
    Setting(
        "kubelet_token_file",
        _parse_optional_abs_path,
        "/var/run/secrets/kubernetes.io/serviceaccount/token",
        "agent: bearer token the kubelet is scraped with, read at each scrape (empty = none)",
        "FILE",
    ),
    Setting(
        "kubelet_insecure_skip_verify",
        _parse_bool,
        "false",
        "agent: do not verify the kubelet's certificate (kubelets that serve self-signed ones)",
        "BOOL",
    ),
    Setting(
        "bearer_token_file", _parse_token_file, "", "agent: file holding a bearer token for pushes", "FILE"
    ),
    Setting(
        "agent_queue_size", _size(1), "256MiB", "agent: on-disk queue bound; reading pauses when full", "SIZE"
    ),
    Setting(
        "agent_listen",
        _parse_optional_listen,
        "127.0.0.1:9501",
        "agent: address of its /metrics, /-/healthy and /-/ready (empty = none)",
        "HOST:PORT",
    ),
    Setting(
        "start_at",
        _choice(START_AT),
        "beginning",
        "agent: where to start in a log file it has no checkpoint for: beginning|end",
        "WHERE",
    ),
    Setting(
        "pod_label_allow",
        _parse_globs,
        "*",
        "agent: pod label keys that become stream labels (comma-separated globs)",
        "GLOBS",
    ),
    Setting(
        "pod_label_deny",
        _parse_globs,
        # The same list as heron.collect.logs.kube.DEFAULT_LABEL_DENY (a test keeps them equal).
        "pod-template-hash,controller-revision-hash,pod-template-generation,"
        "statefulset.kubernetes.io/pod-name,apps.kubernetes.io/pod-index",
        "agent: pod label keys never used as stream labels (comma-separated globs; wins over allow)",
        "GLOBS",
    ),
    Setting(
        "multiline_flush",
        _duration(_POSITIVE),
        "1s",
        "agent: emit a held multi-line entry after no new line joined it for this long",
        "DURATION",
    ),
    Setting(
        "multiline_max_size",
        _size(1),
        "256KiB",
        "agent: largest joined multi-line entry; a longer one is cut",
        "SIZE",
    ),
    Setting("demo_rate", _positive_number, "50", "demo: log lines per second each simulated pod writes", "N"),
)

_BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
_BY_ENV: dict[str, Setting] = {s.env: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """The effective configuration, typed. Durations are seconds, sizes are bytes.

    Build it with `load_settings`; the fields mirror `SETTINGS` one to one.
    """

    listen: str
    data_dir: Path
    log_level: str
    log_format: str
    retention: float
    retention_size: int
    fsync: Literal["always"] | float
    ooo_window: float
    max_line_size: int
    max_labels_per_series: int
    max_active_series: int
    head_max_size: int
    block_duration: float
    max_entries_per_query: int
    max_series_per_query: int
    query_timeout: float
    query_memory_budget: int
    query_workers: int
    lookback_delta: float
    query_max_samples: int
    max_push_size: int
    future_skew: float
    request_read_timeout: float
    ingestion_rate: int
    ingestion_burst: int
    discover_service_name: tuple[str, ...]
    discover_log_levels: bool
    ui_dir: Path | None
    pods_dir: Path
    state_dir: Path
    server: str
    node_name: str
    kube: str
    kubelet_scheme: str
    kubelet_token_file: str
    kubelet_insecure_skip_verify: bool
    bearer_token_file: str
    agent_queue_size: int
    agent_listen: str
    start_at: str
    pod_label_allow: tuple[str, ...]
    pod_label_deny: tuple[str, ...]
    multiline_flush: float
    multiline_max_size: int
    demo_rate: float

    @property
    def listen_address(self) -> tuple[str, int]:
        """`listen` split into (host, port), ready for a socket bind."""
        return split_host_port(self.listen)

    def storage_options(self) -> StorageOptions:
        """The storage engine's options for these settings.

        Imported lazily so that reading configuration never depends on the storage package.
        """
        from heron.storage.types import FsyncMode, StorageOptions

        if self.fsync == "always":
            fsync_mode, fsync_interval = FsyncMode.ALWAYS, StorageOptions.fsync_interval
        else:
            fsync_mode, fsync_interval = FsyncMode.INTERVAL, float(self.fsync)
        return StorageOptions(
            fsync=fsync_mode,
            fsync_interval=fsync_interval,
            retention_seconds=self.retention,
            retention_bytes=self.retention_size,
            ooo_window_seconds=self.ooo_window,
            max_line_bytes=self.max_line_size,
            max_labels_per_series=self.max_labels_per_series,
            max_active_series=self.max_active_series,
            head_max_bytes=self.head_max_size,
            block_duration_seconds=self.block_duration,
            future_skew_seconds=self.future_skew,
        )


assert [f.name for f in fields(Settings)] == [s.name for s in SETTINGS], "Settings must mirror SETTINGS"


# --------------------------------------------------------------------------------------------
# Loading.


def load_settings(
    config_file: str | None,
    env: Mapping[str, str],
    flags: Mapping[str, object],
) -> Settings:
    """Merge defaults < YAML file < `HERON_*` env vars < flags into a `Settings`.

    `env` is usually `os.environ`; every variable starting with `HERON_` must name a setting, so
    a typo fails loudly instead of being ignored. `flags` maps setting names to the values given
    on the command line; None means "not given".
    """
    raw: dict[str, tuple[object, str]] = {s.name: (s.default, "default") for s in SETTINGS}

    if config_file is not None:
        for key, value in _read_yaml(config_file).items():
            raw[key] = (value, config_file)

    for var in sorted(env):
        if not var.startswith(ENV_PREFIX):
            continue
        setting = _BY_ENV.get(var)
        if setting is None:
            raise ConfigError(var, "unknown setting" + _suggest(var, _BY_ENV), "environment")
        raw[setting.name] = (env[var], f"env {var}")

    for name, value in flags.items():
        if value is None:
            continue
        setting = _BY_NAME.get(name)
        if setting is None:
            raise ConfigError(name, "unknown setting" + _suggest(name, _BY_NAME), "flags")
        raw[name] = (value, f"flag {setting.flag}")

    values = {name: _parse_value(_BY_NAME[name], value, source) for name, (value, source) in raw.items()}
    return Settings(**values)


def _read_yaml(path: str) -> dict[str, object]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise ConfigError("config", f"cannot read file: {exc.strerror or exc}", path) from None
    except UnicodeDecodeError as exc:
        raise ConfigError("config", f"not UTF-8 text: {exc.reason} at byte {exc.start}", path) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError("config", f"invalid YAML{where}: {problem}", path) from None
    if data is None:  # an empty file (or only comments): nothing set
        return {}
    if not isinstance(data, dict):
        raise ConfigError("config", f"want a mapping of settings, got a {_yaml_type(data)}", path)
    result: dict[str, object] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise ConfigError(_quote(key), "setting names must be strings", path)
        if key in PROM_SECTION_KEYS:
            continue
        if key not in _BY_NAME:
            raise ConfigError(key, "unknown setting" + _suggest(key, _BY_NAME), path)
        result[key] = value
    return result


def load_prom_config(config_file: str | None) -> PromConfig:
    """The Prometheus-shaped sections (`global`, `scrape_configs`, `remote_write`) of the YAML
    file, typed and validated as Prometheus validates them; an empty `PromConfig` when there is
    no file. Raises `ConfigError` naming the key path, e.g. `scrape_configs[2].job_name`.

    The file is read again with a stricter YAML reader than `load_settings` uses, because
    Prometheus refuses repeated keys and a pasted section must mean what it meant there.
    """
    from heron.promconfig import PromConfig, parse_prom_config
    from heron.promconfig.fields import load_strict_yaml

    if config_file is None:
        return PromConfig()
    try:
        with open(config_file, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise ConfigError("config", f"cannot read file: {exc.strerror or exc}", config_file) from None
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text: {exc.reason} at byte {exc.start}"
        raise ConfigError("config", problem, config_file) from None
    data = load_strict_yaml(text, config_file)
    if data is None:
        return PromConfig()
    if not isinstance(data, dict):
        raise ConfigError("config", f"want a mapping of settings, got a {_yaml_type(data)}", config_file)
    return parse_prom_config(data, config_file)


def _parse_value(setting: Setting, value: object, source: str) -> object:
    """Parse one raw value; YAML may hand us ints and floats, which mean their text."""
    if isinstance(value, bool) and setting.parse is _parse_bool:
        value = "true" if value else "false"
    elif isinstance(value, list) and setting.parse is _parse_label_names:
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(setting.name, "want a list of label names", source)
        value = ",".join(value)
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Path)):
        raise ConfigError(setting.name, f"want a {setting.metavar} value, got a {_yaml_type(value)}", source)
    try:
        return setting.parse(str(value))
    except ValueError as exc:
        raise ConfigError(setting.name, str(exc), source) from None


def _suggest(name: str, known: Mapping[str, object]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _yaml_type(value: object) -> str:
    if value is None:
        return "null (empty value)"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def _quote(value: object) -> str:
    """Quote a user's value for an error message: escapes newlines, keeps it short."""
    text = json.dumps(str(value), ensure_ascii=False)
    return text if len(text) <= 80 else text[:76] + '..."'


def _one_line(text: str) -> str:
    return " ".join(text.split())
