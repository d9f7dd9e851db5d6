"""The ASGI application: one port for every API (and, later, the UI)."""

from __future__ import annotations

import logging
from typing import Any, AsyncContextManager, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from heron.api import (
    buildinfo,
    detected,
    fields,
    health,
    loki,
    otlp,
    prometheus,
    remote_write,
    status,
    targets,
    ui,
    volume,
)
from heron.api.limits import RequestLimits
from heron.api.state import AppState
from heron.logsetup import log_fields
from heron.storage import DiskFullError, StorageWriteError

__all__ = ["create_app"]

log = logging.getLogger("heron.api")


async def _internal_error(request: Request, exc: Exception) -> Response:
    """Any bug surfaces as a 500 with a message; it never takes the process down."""
    log.exception("request failed", extra=log_fields(path=request.url.path))
    return PlainTextResponse(f"internal error: {type(exc).__name__}: {exc}\n", status_code=500)


async def _write_failed(request: Request, exc: Exception) -> Response:
    """A full disk (507) or a failing one (503): the request may succeed later, so clients are
    told when to retry; nothing of it was stored. Reads are unaffected and keep answering."""
    assert isinstance(exc, StorageWriteError)
    full = isinstance(exc, DiskFullError)
    log.debug(  # the storage logs the failure once per episode; this would be once per request
        "request refused: the data dir cannot be written",
        extra=log_fields(path=request.url.path, error=str(exc), free_bytes=exc.free_bytes),
    )
    return PlainTextResponse(
        f"{exc}\n",
        status_code=507 if full else 503,
        headers={"Retry-After": str(exc.retry_after_seconds)},
    )


def create_app(
    state: AppState, lifespan: Callable[[Any], AsyncContextManager[None]] | None = None
) -> Starlette:
    app = Starlette(
        routes=[
            *health.routes(),
            *loki.routes(),
            *otlp.routes(),
            *remote_write.routes(),
            *prometheus.routes(),
            *targets.routes(),
            *volume.routes(),
            *buildinfo.routes(),
            *detected.routes(),
            *fields.routes(),
            *status.routes(),
            *ui.routes(),  # last: the UI never shadows an API path
        ],
        exception_handlers={StorageWriteError: _write_failed, Exception: _internal_error},
        middleware=[Middleware(RequestLimits, read_timeout=state.limits.request_read_timeout_seconds)],
        lifespan=lifespan,
    )
    app.state.heron = state
    return app
