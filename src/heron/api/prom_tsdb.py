"""`/api/v1/status/tsdb` (cardinality) and `/api/v1/status/config` (the Prometheus sections).

Prometheus reports its head block: the last two to three hours. Heron's nearest equivalent
is the metric series with samples in the last `block_duration` (the span one head covers
before it is cut), read through a storage snapshot; `chunkCount` counts each series' block
chunks and one per head part. The four top lists are Prometheus' `index.PostingsStats`:
series per metric name, distinct values per label name, bytes of distinct values per label
name, and series per `name=value` pair, each the `limit` largest (default 10, at most 10000),
larger first.

`/api/v1/status/config` is `{"yaml": ...}` with the file's `global`, `scrape_configs` and
`remote_write` written back as YAML in Prometheus' key names, secrets shown as `<secret>` as
Prometheus' `config.String()` shows them. Flat Heron settings are in `/api/v1/status/flags`.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from typing import Any

import yaml
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heron.api.prom_http import answer_response, form_params, not_ready, state_of
from heron.api.promquerying import prom_error, prom_success
from heron.model import SeriesKind
from heron.promconfig import PromConfig, format_duration
from heron.storage import Database

__all__ = ["routes", "tsdb_status", "config_yaml", "MAX_TSDB_LIMIT"]

MAX_TSDB_LIMIT = 10_000
_INT64_MAX, _INT64_MIN = 2**63 - 1, -(2**63)
SECRET = "<secret>"
_DURATIONS = frozenset(
    {
        "scrape_interval",
        "scrape_timeout",
        "evaluation_interval",
        "refresh_interval",
        "remote_timeout",
        "batch_send_deadline",
        "min_backoff",
        "max_backoff",
        "send_interval",
    }
)
_SECRETS = frozenset({"password", "credentials"})
_ALWAYS = frozenset({"job_name", "url", "targets", "action", "regex", "replacement", "separator", "role"})


# -- /api/v1/status/tsdb --------------------------------------------------------------------
def _top(counts: dict[str, int], limit: int) -> list[dict[str, Any]]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return [{"name": name, "value": value} for name, value in ranked]


def tsdb_status(db: Database, limit: int, now_ms: int | None = None) -> dict[str, Any]:
    """Prometheus' `TSDBStatus` over the metric series of the last `block_duration`."""
    now_ms = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    span_ms = round(db.options.block_duration_seconds * 1000)
    refs = db.snapshot().select([], SeriesKind.METRIC, now_ms - span_ms, _INT64_MAX // 1_000_000)
    by_metric: Counter[str] = Counter()
    by_pair: Counter[str] = Counter()
    values: dict[str, set[str]] = {}
    chunks = 0
    for ref in refs:  # one pass per series: the stats are sums over series, not over samples
        for name, value in ref.labels:
            if name == "__name__":
                by_metric[value] += 1
            by_pair[f"{name}={value}"] += 1
            values.setdefault(name, set()).add(value)
        chunks += sum(len(getattr(part, "chunks", (None,))) for _, part in ref.parts)
    return {
        "headStats": {
            "numSeries": len(refs),
            "numLabelPairs": len(by_pair),
            "chunkCount": chunks,
            "minTime": min((r.min_time for r in refs), default=_INT64_MAX),
            "maxTime": max((r.max_time for r in refs), default=_INT64_MIN),
        },
        "seriesCountByMetricName": _top(by_metric, limit),
        "labelValueCountByLabelName": _top({n: len(v) for n, v in values.items()}, limit),
        "memoryInBytesByLabelName": _top(
            {n: sum(len(x.encode("utf-8", "surrogateescape")) for x in v) for n, v in values.items()}, limit
        ),
        "seriesCountByLabelValuePair": _top(by_pair, limit),
    }


async def tsdb(request: Request) -> Response:
    state = state_of(request)
    refused = not_ready(state)
    if refused is not None:
        return refused
    assert state.db is not None
    text = str((await form_params(request)).get("limit") or "")
    limit = 10
    if text:
        if not text.lstrip("+-").isdigit() or len(text) > 18 or int(text) < 1:
            return answer_response(prom_error("bad_data", "limit must be a positive number"))
        limit = int(text)
        if limit > MAX_TSDB_LIMIT:
            return answer_response(prom_error("bad_data", f"limit must not exceed {MAX_TSDB_LIMIT}"))
    return answer_response(prom_success(await run_in_threadpool(tsdb_status, state.db, limit)))


# -- /api/v1/status/config ------------------------------------------------------------------
def _plain(name: str, value: Any) -> Any:
    """One field as Prometheus' YAML writes it, or None to leave it out (Go's omitempty)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = _section(value)
        return out or None
    if isinstance(value, bool):
        return value
    if name in _SECRETS:
        return SECRET if value else None
    if name in _DURATIONS and isinstance(value, (int, float)):
        return format_duration(float(value))
    if isinstance(value, (tuple, list)):
        items = [_plain(name, v) for v in value]
        return items if items or name in _ALWAYS else None
    if isinstance(value, dict):
        return {k: list(v) if isinstance(v, tuple) else v for k, v in value.items()} or None
    if value == "" or (value == 0 and name.endswith(("_limit", "modulus"))):
        return value if name in _ALWAYS else None
    return value


def _section(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.name == "namespaces_names":
            if value or obj.namespaces_own_namespace:
                out["namespaces"] = {"own_namespace": obj.namespaces_own_namespace, "names": list(value)}
            continue
        if f.name == "namespaces_own_namespace":
            continue
        if f.name == "attach_metadata_node":
            out["attach_metadata"] = {"node": value}
            continue
        plain = _plain(f.name, value)
        if plain is not None:
            out[f.name.rstrip("_")] = plain
    return out


def config_yaml(config: PromConfig) -> str:
    """The Prometheus sections of the configuration, as YAML text."""
    doc: dict[str, Any] = {"global": _section(config.global_)}
    if config.scrape_configs:
        doc["scrape_configs"] = [_section(c) for c in config.scrape_configs]
    if config.remote_write:
        doc["remote_write"] = [_section(c) for c in config.remote_write]
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, allow_unicode=True)


async def status_config(request: Request) -> Response:
    config = state_of(request).prom_config or PromConfig()
    return answer_response(prom_success({"yaml": config_yaml(config)}))


def routes() -> list[Route]:
    return [
        Route("/api/v1/status/tsdb", tsdb, methods=["GET"]),
        Route("/api/v1/status/config", status_config, methods=["GET"]),
    ]
