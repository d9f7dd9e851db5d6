"""Loki's `/index/volume` and `/index/volume_range`: bytes per series or per label, from
index metadata.

Bytes are summed from the chunks' index frames (each entry's timestamp and line length), so
no line is decompressed and an entry counts exactly in the step that holds its timestamp;
Loki instead attributes a whole chunk's bytes to the chunk's bucket. Results are sorted by
bytes, descending (ties by labels), and cut to `limit`, as in Loki's `seriesvolume` package;
with `aggregateBy=labels` a result is one label name with an empty value, `{"app": ""}`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from heron.api.loki import HOUR_NS, _Meta, _metadata, error
from heron.api.params import ParamError, parse_int, parse_step_ns
from heron.logql.syntax import ParseError
from heron.model import Matcher, SeriesKind
from heron.storage.read import Snapshot

__all__ = ["routes", "volume_by_group"]

_MAX_LIMIT = 10_000
Group = tuple[tuple[str, str], ...]


def _group_keys(labels: Sequence[tuple[str, str]], targets: list[str], by_labels: bool) -> list[Group]:
    """The groups one series counts toward, as Loki's TSDB index names them: its target labels
    together (`series`), or each label name alone with an empty value (`labels`; every label
    when no target is given). As in Loki, each target label is required: a series lacking one
    counts nowhere."""
    present = {k for k, _ in labels}
    if targets and not all(t in present for t in targets):
        return []
    if by_labels:
        return [((k, ""),) for k, _ in labels if not targets or k in targets]
    return [tuple((k, v) for k, v in labels if k in targets)]


def volume_by_group(
    snapshot: Snapshot,
    matchers: Sequence[Matcher],
    start: int,
    end: int,
    step: int | None,
    targets: list[str],
    by_labels: bool,
) -> dict[Group, dict[int, int]]:
    """Bytes per group and per step start (one bucket at `end` when `step` is None)."""
    out: dict[Group, dict[int, int]] = {}
    for ref in snapshot.select(matchers, SeriesKind.LOG, start, end):
        keys = _group_keys(ref.labels, targets, by_labels)
        if not keys:
            continue
        ts, lens = snapshot.series_log_times(ref, start, end)
        if not len(ts):
            continue
        if step is None:
            buckets = {end: int(lens.sum())}
        else:
            idx = (ts - start) // step
            uniq, inv = np.unique(idx, return_inverse=True)
            sums = np.bincount(inv, weights=lens).astype(np.int64)
            buckets = {start + int(i) * step: int(b) for i, b in zip(uniq, sums)}
        for key in keys:
            acc = out.setdefault(key, {})
            for t, b in buckets.items():
                acc[t] = acc.get(t, 0) + b
    return out


def _targets(params: dict[str, Any], matchers: Sequence[Matcher], by_labels: bool) -> list[str]:
    """`targetLabels` (comma-separated) or, as in Loki, the selector's own label names when
    aggregating by series (every label when aggregating by labels)."""
    raw = params.get("targetLabels") or ""
    names = [n.strip() for n in str(raw).split(",") if n.strip()]
    if names or by_labels:
        return names
    return sorted({m.name for m in matchers})


async def _volume(request: Request, ranged: bool) -> Response:
    m = await _metadata(request, HOUR_NS)
    if isinstance(m, Response):
        return m
    matchers = m.matchers
    try:
        if not matchers:
            raise ParamError("query must be supplied")
        limit = parse_int(m.params.get("limit"), 100, "limit")
        if limit <= 0 or limit > _MAX_LIMIT:
            raise ParamError(f"limit must be between 1 and {_MAX_LIMIT}")
        aggregate = m.params.get("aggregateBy") or "series"
        if aggregate not in ("series", "labels"):
            raise ParamError(f"invalid aggregateBy {aggregate!r}: must be series or labels")
        step = parse_step_ns(m.params.get("step"), m.start, m.end) if ranged else None
    except (ParamError, ParseError) as exc:
        return error(400, str(exc))
    return await run_in_threadpool(_answer, m, matchers, step, aggregate == "labels", limit)


def _answer(m: _Meta, matchers: list[Matcher], step: int | None, by_labels: bool, limit: int) -> Response:
    groups = volume_by_group(
        m.db.snapshot(), matchers, m.start, m.end, step, _targets(m.params, matchers, by_labels), by_labels
    )
    ranked = sorted(groups.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))[:limit]
    if step is None:
        result = [{"metric": dict(key), "value": [m.end / 1e9, str(sum(b.values()))]} for key, b in ranked]
        return JSONResponse({"status": "success", "data": {"resultType": "vector", "result": result}})
    series = [{"metric": dict(key), "values": [[t / 1e9, str(b[t])] for t in sorted(b)]} for key, b in ranked]
    return JSONResponse({"status": "success", "data": {"resultType": "matrix", "result": series}})


async def volume(request: Request) -> Response:
    return await _volume(request, ranged=False)


async def volume_range(request: Request) -> Response:
    return await _volume(request, ranged=True)


def routes() -> list[Route]:
    return [
        Route("/loki/api/v1/index/volume", volume, methods=["GET", "POST"]),
        Route("/loki/api/v1/index/volume_range", volume_range, methods=["GET", "POST"]),
    ]
