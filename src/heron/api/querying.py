"""One LogQL query request, from its parameters to the bytes of its HTTP answer.

This is a plain function of (engine, limits, parameters) with no Starlette in it, because the
same call runs in the server process (`query_workers = 0`) and in the query worker processes
(docs/architecture.md): a worker answers with the finished status and body, so the process
that ingests does nothing for a query but pass bytes along.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from heron.api.params import (
    ParamError,
    now_ns,
    parse_duration_param_ns,
    parse_int,
    parse_step_ns,
    parse_time_ns,
)
from heron.api.render import json_bytes, render_query_result, utf8
from heron.logql.result import QueryError, QueryLimitError, QueryMemoryError, QueryTimeoutError
from heron.logql.syntax import ParseError
from heron.storage import Direction

if TYPE_CHECKING:
    from heron.api.state import ApiLimits
    from heron.logql.engine import Engine

__all__ = ["QueryAnswer", "execute_query", "query_range_params", "HOUR_NS"]

HOUR_NS = 3600 * 1_000_000_000


@dataclass(frozen=True)
class QueryAnswer:
    """A finished answer: HTTP status, body and the outcome label for heron_queries_total."""

    status: int
    body: bytes
    content_type: str
    outcome: str  # success | error | timeout


def _text(status: int, message: str, outcome: str = "error") -> QueryAnswer:
    """A plain-text answer; the message may quote label values, so it is encoded leniently."""
    return QueryAnswer(status, utf8(message.rstrip("\n") + "\n"), "text/plain; charset=utf-8", outcome)


def _direction(value: str | None) -> Direction:
    if value is None or value == "":
        return Direction.BACKWARD
    try:
        return Direction(value.lower())
    except ValueError:
        raise ParamError(f'invalid parameter "direction": "{value}" is not "forward" or "backward"') from None


def _limit(params: dict[str, Any], limits: "ApiLimits") -> int:
    limit = parse_int(params.get("limit"), 100, "limit")
    if limit <= 0:
        raise ParamError("limit must be a positive value")
    mx = limits.max_entries_per_query
    if limit > mx:
        raise QueryLimitError(
            f"max entries limit per query exceeded, limit > max_entries_limit ({limit} > {mx})"
        )
    return limit


def query_range_params(params: dict[str, Any], default_span_ns: int) -> tuple[int, int]:
    """`start`/`end`/`since` as Loki reads them, shared with the metadata endpoints."""
    end = parse_time_ns(params.get("end"), now_ns(), "end")
    since = params.get("since")
    span = parse_duration_param_ns(since, "since") if since else default_span_ns
    start = parse_time_ns(params.get("start"), end - span, "start")
    if end < start:
        raise ParamError("end timestamp must not be before or equal to start time")
    return start, end


def execute_query(
    engine: "Engine", limits: "ApiLimits", params: dict[str, Any], *, instant: bool, categorize: bool
) -> QueryAnswer:
    """Run `/loki/api/v1/query` (instant) or `query_range` with already-merged parameters.

    Every failure the query or its parameters cause is an answer: 400 with the reason, 422
    past the memory budget (`limits.query_memory_bytes`), 504 past the timeout."""
    t0 = time.perf_counter()
    try:
        query = params.get("query")
        if not query:
            raise ParamError("query must be supplied")
        limit = _limit(params, limits)
        direction = _direction(params.get("direction"))
        deadline = time.monotonic() + limits.query_timeout_seconds
        memory = limits.query_memory_bytes
        if instant:
            ts = parse_time_ns(params.get("time"), now_ns(), "time")
            result = engine.query_instant(
                query, ts, limit=limit, direction=direction, deadline=deadline, memory_bytes=memory
            )
        else:
            start, end = query_range_params(params, HOUR_NS)
            step = parse_step_ns(params.get("step"), start, end)
            interval = params.get("interval")
            interval_ns = parse_duration_param_ns(interval, "interval") if interval else 0
            result = engine.query_range(
                query,
                start,
                end,
                step,
                limit=limit,
                direction=direction,
                interval_ns=interval_ns,
                deadline=deadline,
                memory_bytes=memory,
            )
    except QueryMemoryError as exc:
        return _text(422, str(exc))
    except (ParseError, ParamError, QueryError) as exc:
        return _text(400, str(exc))
    except QueryTimeoutError as exc:
        return _text(504, f"query timed out: {exc}", "timeout")
    result.stats.exec_seconds = time.perf_counter() - t0
    return QueryAnswer(
        200, json_bytes(render_query_result(result, categorize)), "application/json", "success"
    )
