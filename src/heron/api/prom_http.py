"""What the Prometheus API handlers share: Go's form reading, the answer, the readiness check."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from heron.api.limits import read_form
from heron.api.promquerying import prom_error
from heron.api.querying import QueryAnswer
from heron.api.state import AppState

__all__ = ["state_of", "form_params", "answer_response", "not_ready"]


def state_of(request: Request) -> AppState:
    return request.app.state.heron


async def form_params(request: Request) -> dict[str, Any]:
    """Go's `r.FormValue` over a GET query string or a POST form body: the first value of each
    key, a body's before the URL's; `match[]` keeps every value, body and URL alike (`r.Form`).
    The body is read within Go's caps (`heron.api.limits`)."""
    pairs: list[tuple[str, str]] = []
    if request.method == "POST" and request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        pairs.extend(await read_form(request))
    pairs.extend(request.query_params.multi_items())
    params: dict[str, Any] = {}
    matches: list[str] = []
    for key, value in pairs:
        if key == "match[]":
            matches.append(value)
        else:
            params.setdefault(key, value)
    params["match[]"] = matches
    return params


def answer_response(answer: QueryAnswer) -> Response:
    return Response(answer.body, status_code=answer.status, media_type=answer.content_type)


def not_ready(state: AppState) -> Response | None:
    """Prometheus' 503 `unavailable` until storage is open and the WAL replayed."""
    if not state.ready or state.db is None:
        return answer_response(prom_error("unavailable", "storage is not ready yet (WAL replay in progress)"))
    return None
