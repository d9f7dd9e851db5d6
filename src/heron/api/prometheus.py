"""Prometheus' query API: `/api/v1/query` and `query_range`, and the routes of its syntax
helpers (`heron.api.prom_format`), metadata (`heron.api.prom_meta`) and TSDB status
(`heron.api.prom_tsdb`).

Handlers are thin. A query goes to a query worker (or, with `query_workers = 0`, to a thread
of this process) through `heron.api.promquerying.execute_prom_query`, which returns finished
bytes. While it runs, the handler watches the connection: a client that goes away sets the
query's `cancelled` event, which stops the evaluation (in-process the engine sees it at its
next check; in a worker the pool signals the worker, and kills it if it does not stop), so a
closed browser tab never keeps a worker or a core busy.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Awaitable, Callable

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heron.api import prom_format, prom_meta, prom_tsdb
from heron.api.prom_http import answer_response, form_params, not_ready, state_of
from heron.api.promquerying import execute_prom_query, prom_engine_for
from heron.api.querying import QueryAnswer
from heron.api.state import AppState

__all__ = ["routes", "prom_engine", "DISCONNECT_POLL_SECONDS"]

DISCONNECT_POLL_SECONDS = 0.2  # how often a running query looks for its client having left
_engine_lock = threading.Lock()


def prom_engine(state: AppState) -> Any:
    """The in-process PromQL engine, made on first use (see `prom_engine_for`)."""
    if state.prom_engine is None:
        with _engine_lock:
            if state.prom_engine is None:
                state.prom_engine = prom_engine_for(state.db, state.limits)
    return state.prom_engine


async def _until_done_or_gone(
    request: Request, cancelled: threading.Event, work: Callable[[], Awaitable[QueryAnswer]]
) -> QueryAnswer:
    """Run `work` while polling the connection; set `cancelled` the moment the client leaves."""
    answer: list[QueryAnswer] = []
    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            while not await request.is_disconnected():
                await anyio.sleep(DISCONNECT_POLL_SECONDS)
            cancelled.set()

        tg.start_soon(watch)
        answer.append(await work())
        tg.cancel_scope.cancel()
    return answer[0]


async def _run_query(request: Request, instant: bool) -> Response:
    state = state_of(request)
    refused = not_ready(state)
    if refused is not None:
        return refused
    t0 = time.perf_counter()
    params = await form_params(request)
    cancelled = threading.Event()
    pool = state.query_pool

    async def work() -> QueryAnswer:
        if pool is not None:
            return await pool.run(params, instant=instant, language="promql", cancelled=cancelled)
        engine = prom_engine(state)
        return await run_in_threadpool(
            execute_prom_query, engine, state.limits, params, instant=instant, cancelled=cancelled
        )

    answer = await _until_done_or_gone(request, cancelled, work)
    endpoint = "prometheus_query" if instant else "prometheus_query_range"
    state.queries.inc(1, endpoint, answer.outcome)
    state.query_seconds.observe(time.perf_counter() - t0, endpoint)
    return answer_response(answer)


async def query(request: Request) -> Response:
    return await _run_query(request, instant=True)


async def query_range(request: Request) -> Response:
    return await _run_query(request, instant=False)


def routes() -> list[Route]:
    both = ["GET", "POST"]
    return [
        Route("/api/v1/query", query, methods=both),
        Route("/api/v1/query_range", query_range, methods=both),
        *prom_format.routes(),
        *prom_meta.routes(),
        *prom_tsdb.routes(),
    ]
