"""Loki's `/status/buildinfo` and `/format_query`: two small endpoints Grafana calls.

Grafana reads the build info to decide which Loki features it may use, so the version string
is a Loki 3 version rather than Heron's own; Heron's version travels in `revision`.
"""

from __future__ import annotations

import platform

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from heron import __version__
from heron.api.loki import _params
from heron.logql.syntax import ParseError, parse_expr

__all__ = ["routes", "LOKI_VERSION"]

# The Loki release whose HTTP API Heron follows. Checked against Grafana: its Loki data source
# gates nothing on this string (public/app/plugins/datasource/loki reads status/buildinfo only
# in an experimental data catalogue that logs it; the backend pkg/tsdb/loki never asks), and
# Logs Drilldown (grafana/logs-drilldown 4418b4d6) compares only Grafana's own
# config.buildInfo.version; sharding and patterns are gated by feature flags and by the
# endpoints answering, not by Loki's version. A Loki 3 version below 3.5 keeps clients that do
# read it from assuming detected_fields' jsonPath, which Heron does not return.
LOKI_VERSION = "3.0.0"


async def buildinfo(request: Request) -> Response:
    """Loki's shape: a bare object (no status/data envelope), field names as Loki spells them."""
    return JSONResponse(
        {
            "version": LOKI_VERSION,
            "revision": f"heron-{__version__}",
            "branch": "heron",
            "buildUser": "heron",
            "buildDate": "",
            "goVersion": f"python{platform.python_version()}",
        }
    )


async def format_query(request: Request) -> Response:
    """The query re-printed canonically by Heron's AST printer (not Loki's multi-line
    `Prettify`); a query that does not parse is a 400 with the parser's message."""
    text = (await _params(request)).get("query")
    if not isinstance(text, str) or not text:
        return PlainTextResponse("query must be supplied\n", status_code=400)
    try:
        expr = parse_expr(text)
    except ParseError as exc:
        return PlainTextResponse(f"{exc}\n", status_code=400)
    return JSONResponse({"status": "success", "data": str(expr)})


def routes() -> list[Route]:
    return [
        Route("/loki/api/v1/status/buildinfo", buildinfo, methods=["GET"]),
        Route("/loki/api/v1/format_query", format_query, methods=["GET", "POST"]),
    ]
