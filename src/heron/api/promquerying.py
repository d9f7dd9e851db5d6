"""One PromQL query request, from its parameters to the bytes of its HTTP answer.

The PromQL twin of `heron.api.querying`: a plain function of (engine, limits, parameters)
with no Starlette in it, so the same call runs in the server process (`query_workers = 0`)
and in a query worker, which answers with finished bytes.

It follows Prometheus' `web/api/v1/api.go` `query` and `queryRange`: the parameters in the
order Prometheus checks them (so the first bad one is the one named), its envelope
`{"status":"success","data":{"resultType":...,"result":[...]},"warnings":[...],"infos":[...]}`
and its error types: 400 `bad_data`, 422 `execution`, 503 `timeout`, 499 `canceled`.
"""

from __future__ import annotations

import math
import threading
import time
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from heron.api.prom_params import (
    PromParamError,
    invalid,
    parse_duration_ns,
    parse_limit,
    parse_time_ms,
    parse_time_param_ms,
)
from heron.api.querying import QueryAnswer
from heron.api.render import json_bytes
from heron.promql.result import QueryResult, QueryStats
from heron.promql.syntax.errors import ParseError
from heron.promql.value import ExecutionError, PromQLError, QueryCanceledError, QueryTimeoutError

if TYPE_CHECKING:
    from heron.api.state import ApiLimits
    from heron.promql.engine import Engine

__all__ = [
    "execute_prom_query",
    "prom_engine_for",
    "prom_error",
    "prom_success",
    "render_prom_result",
    "format_value",
    "format_ts",
    "MAX_POINTS",
    "RESOLUTION_ERROR",
    "MAX_ANNOTATIONS",
    "TRUNCATED_WARNING",
    "TOO_DEEP",
]

MAX_POINTS = 11_000  # per series; "sufficient for 60s resolution for a week or 1h for a year"
RESOLUTION_ERROR = (
    "exceeded maximum resolution of 11,000 points per timeseries."
    " Try decreasing the query resolution (?step=XX)"
)
MAX_ANNOTATIONS = 10  # of each kind; Prometheus' respond() says how many more it left out
TRUNCATED_WARNING = "results truncated due to limit"
# Parsing and evaluation walk the tree recursively; a tree deeper than Python's stack allows
# (thousands of nested parentheses or chained operators) is refused rather than crashing.
TOO_DEEP = 'invalid parameter "query": the expression is nested too deeply to evaluate'
_JSON = "application/json"
_STATUS = {"bad_data": 400, "execution": 422, "timeout": 503, "canceled": 499, "unavailable": 503}
_OUTCOME = {"timeout": "timeout", "canceled": "canceled"}


# -- the envelope ---------------------------------------------------------------------------
def prom_error(error_type: str, message: str) -> QueryAnswer:
    """Prometheus' error envelope with the status its `getDefaultErrorCode` gives the type."""
    body = json_bytes({"status": "error", "errorType": error_type, "error": message})
    return QueryAnswer(_STATUS.get(error_type, 500), body, _JSON, _OUTCOME.get(error_type, "error"))


def _capped(notes: list[str], kind: str) -> list[str]:
    if len(notes) <= MAX_ANNOTATIONS:
        return notes
    return [*notes[:MAX_ANNOTATIONS], f"{len(notes) - MAX_ANNOTATIONS} more {kind} annotations omitted"]


def prom_success(data: Any, warnings: Sequence[str] = (), infos: Sequence[str] = ()) -> QueryAnswer:
    """`{"status":"success","data":...}` plus `warnings`/`infos` when there are any (Go's
    omitempty), at most ten of each."""
    body: dict[str, Any] = {"status": "success", "data": data}
    if warnings:
        body["warnings"] = _capped(list(warnings), "warning")
    if infos:
        body["infos"] = _capped(list(infos), "info")
    return QueryAnswer(200, json_bytes(body), _JSON, "success")


# -- values as Prometheus' JSON codec writes them -------------------------------------------
def format_value(v: float) -> str:
    """Go's `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest digits that read back as `v`,
    never in exponent form; `+Inf`, `-Inf`, `NaN`. Python's repr has the same shortest digits
    and only switches to exponents outside 1e-4..1e16, where numpy's Dragon4 writes them out."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    text = repr(v)
    if "e" in text:
        return np.format_float_positional(v, trim="-")
    return text[:-2] if text.endswith(".0") else text


def format_ts(ms: int) -> int | float:
    """A sample time as Prometheus writes it: Unix seconds, with up to three decimals."""
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def _series_json(labels: Any, ts: np.ndarray, vals: np.ndarray, key: str) -> dict[str, Any]:
    points = [[format_ts(t), format_value(v)] for t, v in zip(ts.tolist(), vals.tolist())]
    if key == "value":
        return {"metric": dict(labels), "value": points[0] if points else None}
    return {"metric": dict(labels), "values": points}


def _stats_json(stats: QueryStats, seconds: float) -> dict[str, Any]:
    """Prometheus' `stats.NewQueryStats`: timings in seconds, samples counted."""
    return {
        "timings": {
            "evalTotalTime": seconds,
            "resultSortTime": 0,
            "queryPreparationTime": 0,
            "innerEvalTime": seconds,
            "execQueueTime": 0,
            "execTotalTime": seconds,
        },
        "samples": {"totalQueryableSamples": stats.total_samples, "peakSamples": stats.peak_samples},
    }


def render_prom_result(result: QueryResult, *, instant: bool, limit: int = 0) -> tuple[dict[str, Any], bool]:
    """`data` of a query answer, and whether `limit` cut series off (Prometheus'
    `truncateResults`: vectors and matrices only)."""
    rtype = result.type.value
    if rtype == "scalar" or rtype == "string":
        point = result.scalar if rtype == "scalar" else result.string
        assert point is not None
        t, v = point
        value = format_value(float(v)) if rtype == "scalar" else str(v)
        return {"resultType": rtype, "result": [format_ts(int(t)), value]}, False
    series = result.series
    truncated = 0 < limit < len(series)
    if truncated:
        series = series[:limit]
    key = "value" if rtype == "vector" and instant else "values"
    out = [_series_json(s.labels, s.timestamps, s.values, key) for s in series]
    return {"resultType": rtype, "result": out}, truncated


# -- the request ----------------------------------------------------------------------------
def prom_engine_for(db: Any, limits: "ApiLimits") -> "Engine":
    """The PromQL engine over `db` (the database, or a worker's WAL replica) with the
    settings' lookback delta and sample limit. Imported here, when first needed, so a server
    or worker that never answers PromQL never loads the evaluator."""
    from heron.promql.engine import Engine

    return Engine(
        db,
        lookback_delta_ms=round(limits.lookback_delta_seconds * 1000),
        max_samples=limits.query_max_samples,
    )


def _stats_param_warning(value: str) -> str | None:
    if value in ("", "true", "all"):
        return None
    return (
        f'value "{value[:64]}" for parameter "stats" is deprecated and will be rejected in the next major '
        'release, use "true" or "all"'
    )


def _deadline(params: dict[str, Any], limits: "ApiLimits") -> float:
    """The query's deadline: `query_timeout`, or the `timeout` parameter when it is sooner."""
    seconds = limits.query_timeout_seconds
    text = params.get("timeout")
    if text:
        try:
            asked = parse_duration_ns(str(text)) / 1e9
        except ValueError as exc:
            raise invalid("timeout", str(exc)) from None
        seconds = min(seconds, asked)
    return time.monotonic() + seconds


def _lookback_ms(params: dict[str, Any]) -> int | None:
    """The per-query `lookback_delta`; None (the engine's setting) when absent or not positive."""
    text = params.get("lookback_delta")
    if not text:
        return None
    try:
        ms = parse_duration_ns(str(text)) // 1_000_000
    except ValueError as exc:
        raise PromParamError(f"error parsing lookback delta duration: {exc}") from None
    return ms if ms > 0 else None


def _range_params(params: dict[str, Any]) -> tuple[int, int, int]:
    def time_of(name: str) -> int:
        try:
            return parse_time_ms(str(params.get(name) or ""))
        except ValueError as exc:
            raise invalid(name, str(exc)) from None

    start, end = time_of("start"), time_of("end")
    if end < start:
        raise invalid("end", "end timestamp must not be before start time")
    try:
        step_ns = parse_duration_ns(str(params.get("step") or ""))
    except ValueError as exc:
        raise invalid("step", str(exc)) from None
    if step_ns <= 0:
        raise invalid(
            "step", "zero or negative query resolution step widths are not accepted. Try a positive integer"
        )
    if (end - start) * 1_000_000 // step_ns > MAX_POINTS:
        # Prometheus answers this as bad_data (400); issue #11 asked for 422, see docs/api.md.
        raise PromParamError(RESOLUTION_ERROR)
    # PromQL steps are whole milliseconds (Prometheus' durationMilliseconds); a step below one
    # would never advance, so it is one.
    return start, end, max(1, step_ns // 1_000_000)


def execute_prom_query(
    engine: "Engine",
    limits: "ApiLimits",
    params: dict[str, Any],
    *,
    instant: bool,
    cancelled: threading.Event | Any | None = None,
) -> QueryAnswer:
    """Run `/api/v1/query` (instant) or `/api/v1/query_range` with merged GET/POST parameters.

    `cancelled` is anything with `is_set()` (a threading or multiprocessing Event): the engine
    checks it between units of work, so a client that went away stops the evaluation."""
    t0 = time.perf_counter()
    try:
        limit = parse_limit(params)
        if instant:
            now_ms = time.time_ns() // 1_000_000
            ts = parse_time_param_ms(params, "time", now_ms)
        else:
            start, end, step = _range_params(params)
        deadline = _deadline(params, limits)
        lookback = _lookback_ms(params)
        query = str(params.get("query") or "")
        if instant:
            result = engine.instant(
                query, ts, lookback_delta_ms=lookback, deadline=deadline, cancelled=cancelled
            )
        else:
            result = engine.range(
                query, start, end, step, lookback_delta_ms=lookback, deadline=deadline, cancelled=cancelled
            )
    except PromParamError as exc:
        return prom_error("bad_data", str(exc))
    except ParseError as exc:
        return prom_error("bad_data", f'invalid parameter "query": {exc}')
    except RecursionError:
        return prom_error("bad_data", TOO_DEEP)
    except QueryTimeoutError as exc:
        return prom_error("timeout", str(exc))
    except QueryCanceledError as exc:
        return prom_error("canceled", str(exc))
    except (ExecutionError, PromQLError) as exc:
        return prom_error("execution", str(exc))
    data, truncated = render_prom_result(result, instant=instant, limit=limit)
    warnings = list(result.warnings)
    if truncated:
        warnings.append(TRUNCATED_WARNING)
    stats_param = str(params.get("stats") or "")
    note = _stats_param_warning(stats_param)
    if note is not None:
        warnings.append(note)
    if stats_param:
        data["stats"] = _stats_json(result.stats, time.perf_counter() - t0)
    return prom_success(data, warnings, list(result.infos))
