"""`GET /loki/api/v1/tail`: a WebSocket live tail, polling the engine once a second.

Each poll asks for entries after the last one sent (remembering which entries at the last
timestamp were already sent), so a line is sent once even when many share a timestamp.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect

from heron.api.params import ParamError, now_ns, parse_int, parse_time_ns
from heron.api.render import json_text, safe_text
from heron.logql.result import QueryError, QueryTimeoutError, ResultType
from heron.logql.syntax import ParseError
from heron.storage import Direction

__all__ = ["tail_endpoint", "POLL_SECONDS", "MAX_DELAY_FOR_SECONDS"]

POLL_SECONDS = 1.0
MAX_DELAY_FOR_SECONDS = 5


def _reason(message: str) -> str:
    """A close reason: RFC 6455 allows 123 bytes of UTF-8, and a longer one fails the close."""
    text = safe_text(message)[:120]
    while len(text.encode()) > 123:
        text = text[:-1]
    return text


async def tail_endpoint(ws: WebSocket) -> None:
    state = ws.app.state.heron
    params = ws.query_params
    try:
        query = params.get("query") or ""
        if not query:
            raise ParamError("query must be supplied")
        delay_for = parse_int(params.get("delay_for"), 0, "delay_for")
        if delay_for < 0 or delay_for > MAX_DELAY_FOR_SECONDS:
            raise ParamError(f"delay_for can't be greater than {MAX_DELAY_FOR_SECONDS}")
        limit = parse_int(params.get("limit"), 100, "limit")
        start = parse_time_ns(params.get("start"), now_ns() - 3600 * 1_000_000_000, "start")
    except ParamError as exc:
        await ws.close(code=1008, reason=_reason(str(exc)))
        return
    if not state.ready or state.engine is None:
        await ws.close(code=1013, reason="storage is not ready yet")
        return
    if state.active_tails >= state.limits.max_concurrent_tails:
        await ws.accept()  # a close before accepting is a bare HTTP 403 with no reason
        await ws.close(
            code=1013,
            reason=f"max concurrent tail requests limit exceeded ({state.limits.max_concurrent_tails})",
        )
        return
    await ws.accept()
    state.active_tails += 1
    gone = asyncio.Event()
    watcher = asyncio.create_task(_watch_disconnect(ws, gone))
    try:
        await _tail(ws, state, query, limit, start, delay_for, gone)
    finally:
        watcher.cancel()
        state.active_tails -= 1


async def _watch_disconnect(ws: WebSocket, gone: asyncio.Event) -> None:
    """A tail with nothing new to send never writes, so it would never notice a client that
    left: read the socket (clients send nothing else) and say when it closes."""
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
    except (WebSocketDisconnect, RuntimeError):
        return
    finally:
        gone.set()


async def _tail(
    ws: WebSocket, state: Any, query: str, limit: int, start: int, delay_for: int, gone: asyncio.Event
) -> None:
    last_ts = start
    sent_at_last: set[tuple[tuple[tuple[str, str], ...], str]] = set()
    first = True
    try:
        while not gone.is_set():
            end = now_ns() - delay_for * 1_000_000_000
            if end > last_ts:
                try:
                    result = await run_in_threadpool(
                        state.engine.query_range,
                        query,
                        last_ts,
                        end + 1,
                        1_000_000_000,
                        limit=limit if first else state.limits.max_entries_per_query,
                        direction=Direction.FORWARD,
                        deadline=time.monotonic() + state.limits.query_timeout_seconds,
                        memory_bytes=state.limits.query_memory_bytes,
                    )
                except (ParseError, QueryError) as exc:
                    await ws.close(code=1008, reason=_reason(str(exc)))
                    return
                except QueryTimeoutError:
                    await ws.close(code=1011, reason="tail query timed out")
                    return
                if result.result_type is not ResultType.STREAMS:
                    await ws.close(code=1008, reason="tail requires a log query")
                    return
                streams = []
                new_last = last_ts
                new_sent: set[tuple[tuple[tuple[str, str], ...], str]] = set()
                for st in result.streams:
                    key_labels = tuple(sorted(st.labels.items()))
                    values = []
                    for t, line in zip(st.timestamps, st.lines):
                        if t < last_ts or (t == last_ts and (key_labels, line) in sent_at_last):
                            continue
                        values.append([str(t), line])
                        if t > new_last:
                            new_last = t
                            new_sent = set()
                        if t == new_last:
                            new_sent.add((key_labels, line))
                    if values:
                        streams.append({"stream": st.labels, "values": values})
                if streams:
                    await ws.send_text(json_text({"streams": streams, "dropped_entries": None}))
                    if new_last == last_ts:
                        sent_at_last |= new_sent
                    else:
                        last_ts, sent_at_last = new_last, new_sent
                first = False
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(gone.wait(), POLL_SECONDS)
    except (WebSocketDisconnect, RuntimeError):
        return
