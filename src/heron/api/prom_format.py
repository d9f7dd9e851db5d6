"""`/api/v1/format_query` and `/api/v1/parse_query`: the query re-printed by Prometheus'
prettier (`Pretty(0)`), or its syntax tree as `translateAST` writes it, for editors and UIs.
Parsing runs in a worker thread: a long query (a form body may hold megabytes) never stalls
the event loop."""

from __future__ import annotations

from typing import Any, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heron.api.prom_http import answer_response, form_params
from heron.api.promquerying import TOO_DEEP, prom_error, prom_success
from heron.api.querying import QueryAnswer
from heron.promql.syntax import ParseError, parse_expr, prettify, to_json

__all__ = ["routes"]


def _render(text: str, render: Callable[[Any], Any]) -> QueryAnswer:
    try:
        return prom_success(render(parse_expr(text)))
    except ParseError as exc:
        return prom_error("bad_data", f'invalid parameter "query": {exc}')
    except RecursionError:
        return prom_error("bad_data", TOO_DEEP)


async def _parsed(request: Request, render: Callable[[Any], Any]) -> Response:
    text = str((await form_params(request)).get("query") or "")
    return answer_response(await run_in_threadpool(_render, text, render))


async def format_query(request: Request) -> Response:
    """Prometheus' `Pretty(0)`: the query re-printed, split over lines past 100 characters."""
    return await _parsed(request, prettify)


async def parse_query(request: Request) -> Response:
    """The query's syntax tree as JSON, in the shape of Prometheus' `translateAST`."""
    return await _parsed(request, to_json)


def routes() -> list[Route]:
    both = ["GET", "POST"]
    return [
        Route("/api/v1/format_query", format_query, methods=both),
        Route("/api/v1/parse_query", parse_query, methods=both),
    ]
