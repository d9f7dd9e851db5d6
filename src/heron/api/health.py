"""Liveness, readiness and Heron's own metrics."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

__all__ = ["routes"]


async def healthy(request: Request) -> Response:
    return PlainTextResponse("Heron is Healthy.\n")


async def ready(request: Request) -> Response:
    if request.app.state.heron.ready:
        return PlainTextResponse("ready\n")
    return PlainTextResponse("storage is not ready yet (WAL replay in progress)\n", status_code=503)


async def metrics(request: Request) -> Response:
    return PlainTextResponse(
        request.app.state.heron.registry.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
    )


def routes() -> list[Route]:
    return [
        Route("/-/healthy", healthy, methods=["GET", "HEAD"]),
        Route("/-/ready", ready, methods=["GET", "HEAD"]),
        Route("/ready", ready, methods=["GET", "HEAD"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
