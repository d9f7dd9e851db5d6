"""Heron's own status: build, runtime, storage, ingest rates, agents and settings.

Prometheus' names and shapes where it has them (`/api/v1/status/buildinfo`, `runtimeinfo` and
`flags`), Heron's own beside them under `/api/v1/status/` for the rest. Every answer is
Prometheus' envelope, `{"status":"success","data":...}`; a bad parameter is a 400 with
`{"status":"error","errorType":"bad_data","error":...}`, as Prometheus answers it.
"""

from __future__ import annotations

import asyncio
import os
import platform
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlsplit, urlunsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from heron import __version__
from heron.api.params import ParamError, parse_duration_param_ns, parse_int
from heron.api.state import AppState
from heron.config import SETTINGS, Setting, Settings
from heron.model import SeriesKind
from heron.storage import LogBatch

__all__ = [
    "routes",
    "PROMETHEUS_VERSION",
    "record_push",
    "setting_text",
    "settings_table",
    "sample_ingest",
    "SECRET_NOTE",
]

MAX_AGENTS_LISTED = 1000
PROMETHEUS_VERSION = "3.0.0"  # the Prometheus whose PromQL (3.x semantics) and API Heron follows
SECRET_NOTE = "<secret>"  # Prometheus' mark for a hidden value


def _state(request: Request) -> AppState:
    return request.app.state.heron


def _ok(data: Any) -> Response:
    return JSONResponse({"status": "success", "data": data})


def _error(status: int, error_type: str, message: str) -> Response:
    return JSONResponse({"status": "error", "errorType": error_type, "error": message}, status_code=status)


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


# -- settings as text --------------------------------------------------------------------
_DURATION_UNITS = (("d", 86400_000), ("h", 3600_000), ("m", 60_000), ("s", 1000), ("ms", 1))
_SIZE_UNITS = (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024))


def _duration_text(seconds: float) -> str:
    """Prometheus' duration syntax, days at most (`15d`, `1h30m`, `500ms`, `0s`): Prometheus
    would print 15d as `2w1d`, which reads worse and parses the same."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    parts = []
    for unit, size in _DURATION_UNITS:
        if ms >= size:
            parts.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(parts)


def _size_text(n: int) -> str:
    """The largest binary unit that divides the size exactly (`256KiB`, `64MiB`), else bytes."""
    for unit, size in _SIZE_UNITS:
        if n and n % size == 0:
            return f"{n // size}{unit}"
    return str(n)


def _redact_url(url: str) -> str:
    """A password in a URL's userinfo is a secret: `http://user:<secret>@host`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{SECRET_NOTE}@{host}"))


def setting_text(setting: Setting, value: object) -> str:
    """A setting's value as a user would write it, so that `setting.parse` reads it back to
    the same value. No setting holds a secret's contents: the bearer token lives in the file
    `bearer_token_file` names (the path is shown, never read), and a URL's password is hidden."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str):
        return _redact_url(value) if setting.metavar == "URL" else value
    if "DURATION" in setting.metavar:
        return _duration_text(float(value))  # type: ignore[arg-type]
    if setting.metavar == "SIZE":
        return _size_text(int(value))  # type: ignore[call-overload]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def settings_table(settings: Settings) -> list[dict[str, str]]:
    rows = []
    for s in SETTINGS:
        default = s.parse(s.default)
        rows.append(
            {
                "name": s.name,
                "value": setting_text(s, getattr(settings, s.name)),
                "default": setting_text(s, default),
                "flag": s.flag,
                "env": s.env,
                "help": s.help,
            }
        )
    return rows


# -- handlers ----------------------------------------------------------------------------
async def buildinfo(request: Request) -> Response:
    """Prometheus' fields, with `version` the Prometheus release whose PromQL and HTTP API
    Heron follows, and Heron's own version in `heronVersion` (and `revision`).

    Grafana's Prometheus data source reads this to tell Prometheus from Mimir, Thanos and
    Cortex (`public/app/features/alerting/unified/api/buildInfo.ts`, discoverDataSourceFeatures):
    a 200 without `features` and without `application` is "Prometheus" at `version`, which it
    then compares with semver (`semver.gte`, as `datasource.ts` does for the configured
    version). Heron's own 0.x would read as a Prometheus older than every feature gate."""
    return _ok(
        {
            "version": PROMETHEUS_VERSION,
            "revision": f"heron-{__version__}",
            "branch": "heron",
            "buildUser": "",
            "buildDate": "",
            "goVersion": f"python{platform.python_version()}",
            "heronVersion": __version__,
            "pythonVersion": platform.python_version(),
            "pythonImplementation": platform.python_implementation(),
        }
    )


def _retention_text(settings: Settings | None, state: AppState) -> str:
    if state.db is not None:
        seconds, size = state.db.options.retention_seconds, state.db.options.retention_bytes
    elif settings is not None:
        seconds, size = settings.retention, settings.retention_size
    else:
        return ""
    text = _duration_text(seconds)
    return f"{text} or {_size_text(size)}" if size else text


async def runtimeinfo(request: Request) -> Response:
    state = _state(request)
    now = time.time()
    return _ok(
        {
            "startTime": _rfc3339(state.started_at),
            "serverTime": _rfc3339(now),
            "uptimeSeconds": max(0.0, now - state.started_at),
            "CWD": os.getcwd(),
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "threadCount": threading.active_count(),
            "reloadConfigSuccess": True,
            "lastConfigTime": _rfc3339(state.started_at),
            "corruptionCount": state.db.counters.quarantined_blocks if state.db is not None else 0,
            "storageRetention": _retention_text(state.settings, state),
            "ready": state.ready,
        }
    )


async def flags(request: Request) -> Response:
    """Prometheus' map of name to value text, keyed by the setting's name (its YAML key)."""
    settings = _state(request).settings
    if settings is None:
        return _ok({})
    return _ok({row["name"]: row["value"] for row in settings_table(settings)})


async def settings(request: Request) -> Response:
    """Every setting with its value, default, flag, environment variable and help."""
    settings = _state(request).settings
    return _ok(settings_table(settings) if settings is not None else [])


def _storage(state: AppState) -> dict[str, Any]:
    db = state.db
    assert db is not None
    stats = db.stats()
    counts = db.series_counts()
    c = db.counters
    return {
        "series": counts[SeriesKind.LOG] + counts[SeriesKind.METRIC],
        "logStreams": counts[SeriesKind.LOG],
        "metricSeries": counts[SeriesKind.METRIC],
        "headSeries": int(stats["head_series"]),
        "headBytes": int(stats["head_bytes"]),
        "blocks": int(stats["blocks"]),
        "blocksBytes": int(stats["blocks_bytes"]),
        "walBytes": int(stats["wal_bytes"]),
        "diskBytes": int(stats["blocks_bytes"] + stats["wal_bytes"]),
        "dataDirFreeBytes": int(stats["data_dir_free_bytes"]),
        "retentionSeconds": db.options.retention_seconds,
        "retentionBytes": db.options.retention_bytes,
        "logEntriesTotal": c.log_entries,
        "logBytesTotal": c.log_bytes,
        "samplesTotal": c.samples,
        "rejectedTotal": sum(c.rejected.values()),
        "headCutsTotal": c.head_cuts,
        "compactionsTotal": c.compactions,
        "quarantinedBlocksTotal": c.quarantined_blocks,
    }


def _not_ready(state: AppState) -> Response | None:
    if not state.ready or state.db is None:
        return _error(503, "unavailable", "storage is not ready yet (WAL replay in progress)")
    return None


async def storage(request: Request) -> Response:
    state = _state(request)
    return _not_ready(state) or _ok(await run_in_threadpool(_storage, state))


async def ingestion(request: Request) -> Response:
    """Ingest rates per sampling interval over `range` (default and at most the ring's span)."""
    state = _state(request)
    hist = state.ingest
    raw = request.query_params.get("range")
    try:
        span = hist.span if raw is None or raw == "" else parse_duration_param_ns(raw, "range") / 1e9
    except ParamError as exc:
        return _error(400, "bad_data", str(exc))
    if not 0 < span <= hist.span:
        return _error(
            400,
            "bad_data",
            f'invalid parameter "range": must be more than 0 and at most {_duration_text(hist.span)}',
        )
    not_ready = _not_ready(state)
    if not_ready is not None:
        return not_ready
    assert state.db is not None
    c = state.db.counters
    return _ok(
        {
            "intervalSeconds": hist.interval,
            "rangeSeconds": span,
            "totals": {"entries": c.log_entries, "bytes": c.log_bytes, "samples": c.samples},
            "rates": hist.rates(c, span),
        }
    )


async def agents(request: Request) -> Response:
    state = _state(request)
    try:
        limit = parse_int(request.query_params.get("limit"), MAX_AGENTS_LISTED, "limit")
    except ParamError as exc:
        return _error(400, "bad_data", str(exc))
    if not 1 <= limit <= MAX_AGENTS_LISTED:
        return _error(400, "bad_data", f'invalid parameter "limit": must be from 1 to {MAX_AGENTS_LISTED}')
    rows = state.agents.snapshot()
    return _ok(
        {
            "windowSeconds": state.agents.window_seconds,
            "keepSeconds": state.agents.keep_seconds,
            "total": len(rows),
            "agents": rows[:limit],
        }
    )


def record_push(state: AppState, request: Request, batches: Sequence[LogBatch]) -> None:
    """Count a push that storage took against its agent: node label, User-Agent, remote host."""
    remote = request.client.host if request.client else ""
    state.agents.record(batches, request.headers.get("user-agent", ""), remote)


async def sample_ingest(state: AppState) -> None:
    """Sample storage's ingest counters every interval until cancelled (the server's lifespan);
    the server takes the first sample itself as storage opens."""
    while state.db is None:  # storage opens after the socket listens
        await asyncio.sleep(0.1)
    while True:
        await asyncio.sleep(state.ingest.interval)
        state.ingest.sample(state.db.counters)


def routes() -> list[Route]:
    return [
        Route("/api/v1/status/buildinfo", buildinfo, methods=["GET"]),
        Route("/api/v1/status/runtimeinfo", runtimeinfo, methods=["GET"]),
        Route("/api/v1/status/flags", flags, methods=["GET"]),
        Route("/api/v1/status/settings", settings, methods=["GET"]),
        Route("/api/v1/status/storage", storage, methods=["GET"]),
        Route("/api/v1/status/ingestion", ingestion, methods=["GET"]),
        Route("/api/v1/status/agents", agents, methods=["GET"]),
    ]
