"""Loki's `/detected_labels`: the stream labels Grafana Logs Drilldown offers to group by.

Computed from the index alone (label names and values in the time range, filtered by the
optional selector). Loki's relevance rules apply: a label is dropped when it has no values or
when every value looks like an ID (a number or a UUID), except that a label whose values are
only "0" and "1" is kept, and the static labels `cluster`, `namespace`, `instance` and `pod`
are always kept. Cardinality is the exact number of values (Loki estimates it with an HLL).
"""

from __future__ import annotations

import uuid

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from heron.api.loki import HOUR_NS, _metadata
from heron.logql.syntax.units import parse_go_float
from heron.model import Matcher, SeriesKind
from heron.storage import Database

__all__ = ["routes", "reject_label", "STATIC_LABELS"]

STATIC_LABELS = frozenset({"cluster", "namespace", "instance", "pod"})
_BOOLEAN_VALUES = frozenset({"0", "1"})


def _is_id(value: str) -> bool:
    """Loki's test: parses as a float (Go's ParseFloat, in range) or as a UUID."""
    try:
        parse_go_float(value)
        return True
    except ValueError:
        try:
            uuid.UUID(value)
            return True
        except ValueError:
            return False


def reject_label(values: list[str]) -> bool:
    """Whether Drilldown should not offer a label with these values (Loki's rule)."""
    if not values:
        return True
    if len(values) <= 2 and all(v in _BOOLEAN_VALUES for v in values):
        return False
    return all(_is_id(v) for v in values)


def detect_labels(db: Database, start: int, end: int, matchers: list[Matcher]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for name in db.label_names(SeriesKind.LOG, start, end, matchers):
        values = db.label_values(name, SeriesKind.LOG, start, end, matchers)
        if (name in STATIC_LABELS and values) or not reject_label(values):
            out.append({"label": name, "cardinality": len(values)})
    return out


async def detected_labels(request: Request) -> Response:
    m = await _metadata(request, 6 * HOUR_NS)
    if isinstance(m, Response):
        return m
    matchers = m.matchers
    found = await run_in_threadpool(detect_labels, m.db, m.start, m.end, matchers)
    return JSONResponse({"detectedLabels": found})


def routes() -> list[Route]:
    return [Route("/loki/api/v1/detected_labels", detected_labels, methods=["GET", "POST"])]
