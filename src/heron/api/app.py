"""The ASGI application: one port for every API (and, later, the UI)."""

from __future__ import annotations

import logging
from typing import Any, AsyncContextManager, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from heron.api import health, loki
from heron.api.state import AppState
from heron.logsetup import log_fields

__all__ = ["create_app"]

log = logging.getLogger("heron.api")


async def _internal_error(request: Request, exc: Exception) -> Response:
    """Any bug surfaces as a 500 with a message; it never takes the process down."""
    log.exception("request failed", extra=log_fields(path=request.url.path))
    return PlainTextResponse(f"internal error: {type(exc).__name__}: {exc}\n", status_code=500)


def create_app(
    state: AppState, lifespan: Callable[[Any], AsyncContextManager[None]] | None = None
) -> Starlette:
    app = Starlette(
        routes=[*health.routes(), *loki.routes()],
        exception_handlers={Exception: _internal_error},
        lifespan=lifespan,
    )
    app.state.heron = state
    return app
