"""Loki's HTTP API: push, query, query_range, labels, label values, series, index stats, tail.

Handlers are thin: parse parameters the way Loki's loghttp package does, call storage or the
LogQL engine in a worker thread, and render Loki's exact JSON shapes. Errors are plain text
with a 4xx/5xx status, as Loki answers them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Sequence, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute

from heron.api.limits import read_form
from heron.api.params import ParamError
from heron.api.querying import HOUR_NS, execute_query, query_range_params
from heron.api.state import AppState
from heron.api.status import record_push
from heron.api.tail import tail_endpoint
from heron.logql.syntax import ParseError, parse_log_selector
from heron.model import SeriesKind
from heron.receive.discovery import discover, discovery_of
from heron.receive.loki_push import PushError, PushTooLarge, decode_push
from heron.storage import AppendResult, Database, DiskFullError, LogBatch, RejectReason, StorageWriteError

__all__ = ["routes", "HOUR_NS"]
_MAX_LISTED_REJECTIONS = 10
_T = TypeVar("_T")


def _state(request: Request) -> AppState:
    return request.app.state.heron


def error(status: int, message: str) -> PlainTextResponse:
    return PlainTextResponse(message.rstrip("\n") + "\n", status_code=status)


async def _params(request: Request) -> dict[str, Any]:
    """Query string merged with a form body (Grafana POSTs form-encoded queries). The form is
    read within Go's caps (`heron.api.limits`): a 300 MiB one used to be read whole."""
    params: dict[str, Any] = {k: v for k, v in request.query_params.items()}
    params["match[]"] = request.query_params.getlist("match[]") + request.query_params.getlist("match")
    if request.method == "POST" and request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        for k, v in await read_form(request):
            if k in ("match[]", "match"):
                params["match[]"].append(v)
            else:
                params[k] = v
    return params


def _not_ready(state: AppState) -> Response | None:
    if not state.ready or state.db is None:
        return error(503, "storage is not ready yet (WAL replay in progress)")
    return None


# -- push --------------------------------------------------------------------------------
async def _read_body(request: Request, limit: int) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def decoded_push(
    request: Request,
    state: AppState,
    decode: Callable[[bytes, str, str, int], _T],
    refusals: Sequence[tuple[type[Exception], int]],
) -> _T | Response:
    """Read a push body within max_push_size (413 past it) and run `decode(body, content_type,
    content_encoding, limit)` in a worker thread. An exception of a type in `refusals` becomes
    that status with its message (the first type that matches wins, so list subclasses
    first); the push APIs answer bad bodies alike this way and store nothing."""
    limit = state.limits.max_push_body_bytes
    body = await _read_body(request, limit)
    if body is None:
        return error(413, f"request body too large: limit is {limit} bytes (max_push_size)")
    try:
        return await run_in_threadpool(
            decode,
            body,
            request.headers.get("content-type", ""),
            request.headers.get("content-encoding", ""),
            limit,
        )
    except Exception as exc:
        for kind, status in refusals:
            if isinstance(exc, kind):
                return error(status, str(exc))
        raise


async def store_logs(
    request: Request, state: AppState, batches: list[LogBatch], *, append_empty: bool = True
) -> Response | tuple[AppendResult | None, int]:
    """What every log push does with decoded batches: discovery labels, Loki's rate limit
    (a 429 with nothing stored), the append, and the status page's agent record. Returns the
    append's result (None when `append_empty` is off and there was nothing to append) and
    the number of lines. Loki's push appends even an empty push, so a failing disk answers
    it as it answers any push; OTLP skips it."""
    batches = await run_in_threadpool(discover, batches, discovery_of(request.app))
    nlines = sum(len(b.lines) for b in batches)
    refused = over_rate_limit(state, batches)
    if refused is not None:
        return refused
    assert state.db is not None
    result = await run_in_threadpool(state.db.append, batches) if batches or append_empty else None
    record_push(state, request, batches)  # the status page's agents
    return result, nlines


async def counted_push(
    request: Request, api: str, handle: Callable[[Request, AppState], Awaitable[Response]]
) -> Response:
    """Run a push handler once storage is ready, and count its answer in
    heron_push_requests_total{api,code}; a write failure is answered by the app's handler
    (507/503) and counted here."""
    state = _state(request)
    try:
        resp = _not_ready(state) or await handle(request, state)
    except StorageWriteError as exc:
        state.push_requests.inc(1, api, "507" if isinstance(exc, DiskFullError) else "503")
        raise
    state.push_requests.inc(1, api, str(resp.status_code))
    return resp


async def push(request: Request) -> Response:
    return await counted_push(request, "loki", _push)


def over_rate_limit(state: AppState, batches: list[LogBatch]) -> Response | None:
    """Loki's ingestion rate limit over the lines' bytes: a 429 in Loki's words, with nothing
    stored, or None when the bucket had room (and has been charged)."""
    nbytes = sum(len(line) for b in batches for line in b.lines)
    if state.bucket.take(nbytes):
        return None
    nlines = sum(len(b.lines) for b in batches)
    rate = int(state.limits.ingestion_rate_bytes)
    return error(
        429,
        f"Ingestion rate limit exceeded (limit: {rate} bytes/sec) while attempting to ingest "
        f"'{nlines}' lines totaling '{nbytes}' bytes, reduce log volume or raise the limit",
    )


async def _push(request: Request, state: AppState) -> Response:
    assert state.db is not None
    batches = await decoded_push(request, state, decode_push, ((PushTooLarge, 413), (PushError, 400)))
    if isinstance(batches, Response):
        return batches
    stored = await store_logs(request, state, batches)
    if isinstance(stored, Response):
        return stored
    result, nlines = stored
    assert result is not None
    if not result.rejected:
        return Response(status_code=204)
    status = 429 if any(r.reason is RejectReason.SERIES_LIMIT for r in result.rejected) else 400
    lines = [r.message for r in result.rejected[:_MAX_LISTED_REJECTIONS]]
    lines.append(f"total ignored: {result.rejected_count} out of {nlines}")
    return error(status, "\n".join(lines))


# -- queries -----------------------------------------------------------------------------
async def _run_query(request: Request, endpoint: str, instant: bool) -> Response:
    state = _state(request)
    not_ready = _not_ready(state)
    if not_ready is not None:
        return not_ready
    assert state.engine is not None
    t0 = time.perf_counter()
    params = await _params(request)
    categorize = "categorize-labels" in request.headers.get("x-loki-response-encoding-flags", "")
    if state.query_pool is not None:
        answer = await state.query_pool.run(params, instant=instant, categorize=categorize)
    else:
        answer = await run_in_threadpool(
            execute_query, state.engine, state.limits, params, instant=instant, categorize=categorize
        )
    state.queries.inc(1, endpoint, answer.outcome)
    state.query_seconds.observe(time.perf_counter() - t0, endpoint)
    return Response(answer.body, status_code=answer.status, media_type=answer.content_type)


async def query(request: Request) -> Response:
    return await _run_query(request, "query", instant=True)


async def query_range(request: Request) -> Response:
    return await _run_query(request, "query_range", instant=False)


# -- metadata ----------------------------------------------------------------------------
def _matchers(params: dict[str, Any], key: str = "query") -> list[Any]:
    text = params.get(key)
    if not text:
        return []
    return list(parse_log_selector(text).matchers)


@dataclass
class _Meta:
    """A metadata request, parsed: the database, the time range, the `query` selector's
    matchers (empty when there is none) and the other parameters."""

    db: Database
    params: dict[str, Any]
    start: int
    end: int
    matchers: list[Any]


async def _metadata(request: Request, default_span_ns: int, selector: bool = True) -> _Meta | Response:
    """Parse what every metadata endpoint takes, or answer 503/400. With `selector`, `query`
    must be a stream selector; endpoints that read `query` otherwise (or not at all) pass False."""
    state = _state(request)
    not_ready = _not_ready(state)
    if not_ready is not None:
        return not_ready
    assert state.db is not None
    try:
        params = await _params(request)
        start, end = query_range_params(params, default_span_ns)
        matchers = _matchers(params) if selector else []
    except (ParamError, ParseError) as exc:
        return error(400, str(exc))
    return _Meta(state.db, params, start, end, matchers)


async def labels(request: Request) -> Response:
    m = await _metadata(request, 6 * HOUR_NS)
    if isinstance(m, Response):
        return m
    matchers = m.matchers
    names = await run_in_threadpool(m.db.label_names, SeriesKind.LOG, m.start, m.end, matchers)
    return JSONResponse({"status": "success", "data": names})


async def label_values(request: Request) -> Response:
    m = await _metadata(request, 6 * HOUR_NS)
    if isinstance(m, Response):
        return m
    matchers = m.matchers
    name = request.path_params["name"]
    values = await run_in_threadpool(m.db.label_values, name, SeriesKind.LOG, m.start, m.end, matchers)
    return JSONResponse({"status": "success", "data": values})


async def series(request: Request) -> Response:
    m = await _metadata(request, 6 * HOUR_NS, selector=False)
    if isinstance(m, Response):
        return m
    selectors = m.params.get("match[]") or []
    if not selectors:
        return error(400, "0 matcher groups supplied: at least one match[] parameter is required")
    try:
        groups = [list(parse_log_selector(s).matchers) for s in selectors]
    except ParseError as exc:
        return error(400, str(exc))
    seen: dict[tuple[tuple[str, str], ...], None] = {}
    for matchers in groups:
        infos = await run_in_threadpool(m.db.select_series, matchers, SeriesKind.LOG, m.start, m.end)
        for info in infos:
            seen.setdefault(info.labels, None)
    return JSONResponse({"status": "success", "data": [dict(lab) for lab in seen]})


async def index_stats(request: Request) -> Response:
    m = await _metadata(request, HOUR_NS)
    if isinstance(m, Response):
        return m
    matchers = m.matchers
    if not matchers:
        return error(400, "query must be supplied")
    stats = await run_in_threadpool(m.db.snapshot().index_stats, matchers, m.start, m.end)
    return JSONResponse(stats)


def routes() -> list[Route | WebSocketRoute]:
    return [
        Route("/loki/api/v1/push", push, methods=["POST"]),
        Route("/api/prom/push", push, methods=["POST"]),
        Route("/loki/api/v1/query", query, methods=["GET", "POST"]),
        Route("/loki/api/v1/query_range", query_range, methods=["GET", "POST"]),
        Route("/loki/api/v1/labels", labels, methods=["GET", "POST"]),
        Route("/loki/api/v1/label", labels, methods=["GET", "POST"]),
        Route("/loki/api/v1/label/{name}/values", label_values, methods=["GET", "POST"]),
        Route("/loki/api/v1/series", series, methods=["GET", "POST"]),
        Route("/loki/api/v1/index/stats", index_stats, methods=["GET", "POST"]),
        WebSocketRoute("/loki/api/v1/tail", tail_endpoint),
    ]
