"""Liveness, readiness and Heron's own metrics.

`/metrics` is two things at one URL: Heron's own Prometheus exposition, and the web UI's
metrics explorer (the issue's URL contract puts the explorer there). A request whose `Accept`
prefers `text/html` over everything else it lists (a browser navigating) gets the UI's
index.html; anything else (Prometheus' scrape Accept header, curl's `*/*`, no header) gets the
exposition, so scrapers never see HTML. Both answers say `Vary: Accept` for caches.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from heron.api import ui

__all__ = ["prefers_html", "routes"]


async def healthy(request: Request) -> Response:
    return PlainTextResponse("Heron is Healthy.\n")


async def ready(request: Request) -> Response:
    if request.app.state.heron.ready:
        return PlainTextResponse("ready\n")
    return PlainTextResponse("storage is not ready yet (WAL replay in progress)\n", status_code=503)


_EXPOSITION_TYPES = frozenset({"text/plain", "application/openmetrics-text", "text/*", "*/*"})


def _quality(params: list[str]) -> float:
    for p in params:
        name, _, value = p.partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return 0.0  # a malformed weight counts as refused, as RFC 9110 allows
            return min(max(q, 0.0), 1.0)
    return 1.0


def prefers_html(accept: str) -> bool:
    """True when `text/html`, named explicitly, weighs more than every type the exposition
    could be sent as (`text/plain`, OpenMetrics, `text/*`, `*/*`). Types neither answer can
    be (images, XML, which browsers list too) do not count. Ties go to the exposition: a
    scraper is never sent HTML.
    """
    html_q = 0.0
    other_q = 0.0
    for part in accept.split(",")[:64]:  # bounded: a header is not a reason to loop long
        fields = part.split(";")
        media = fields[0].strip().lower()
        if not media:
            continue
        q = _quality(fields[1:])
        if media == "text/html":
            html_q = max(html_q, q)
        elif media in _EXPOSITION_TYPES:
            other_q = max(other_q, q)
    return html_q > 0 and html_q > other_q


async def metrics(request: Request) -> Response:
    if prefers_html(request.headers.get("accept", "")):
        page = await ui.index(request)
    else:
        page = PlainTextResponse(
            request.app.state.heron.registry.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )
    page.headers["Vary"] = ", ".join(v for v in (page.headers.get("Vary"), "Accept") if v)
    return page


def routes() -> list[Route]:
    return [
        Route("/-/healthy", healthy, methods=["GET", "HEAD"]),
        Route("/-/ready", ready, methods=["GET", "HEAD"]),
        Route("/ready", ready, methods=["GET", "HEAD"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
