"""Prometheus' metadata API over metric series: `/api/v1/series`, `/api/v1/labels` and
`/api/v1/label/<name>/values` (`web/api/v1/api.go` `series`, `labelNames`, `labelValues`).

Only metric series are listed (`SeriesKind.METRIC`; log streams are Loki's, under
`/loki/api/v1/`). `start` and `end` default to all time, as in Prometheus; `match[]` are
series selectors (`heron.promql.syntax.parse_selector`), and each must hold a matcher that
does not match the empty string, so `{}` or `{a=""}` cannot list the whole index. `limit`
cuts the answer and adds Prometheus' warning. Storage is read in a worker thread, never on
the event loop.
"""

from __future__ import annotations

from typing import Any, Sequence

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heron.api.prom_http import answer_response, form_params, not_ready, state_of
from heron.api.prom_params import MAX_MS, MIN_MS, PromParamError, invalid, parse_limit, parse_time_param_ms
from heron.api.promquerying import TRUNCATED_WARNING, prom_error, prom_success
from heron.model import Labels, Matcher, SeriesKind
from heron.promql.syntax import ParseError, parse_selector
from heron.storage import Database

__all__ = ["routes", "parse_match_sets", "unescape_label_name"]

EMPTY_MATCHERS_ERROR = "match[] must contain at least one non-empty matcher"


def parse_match_sets(selectors: Sequence[str]) -> list[list[Matcher]]:
    """Prometheus' `parseMatchersParam`: every `match[]` parsed as a series selector; raises
    ParseError, or PromParamError when a selector could match every series."""
    sets = [list(parse_selector(text).matchers) for text in selectors]
    for matchers in sets:
        if all(m.matches_empty() for m in matchers):
            raise PromParamError(EMPTY_MATCHERS_ERROR)
    return sets


def unescape_label_name(name: str) -> str:
    """Prometheus' `model.UnescapeName` for the value-encoding escaping a client applies to a
    path segment (`U__` then `__` for `_` and `_<hex>_` for any other character); a name
    that is not validly escaped is kept as it was, as Prometheus keeps it."""
    if not name.startswith("U__"):
        return name
    body, out, i = name[3:], [], 0
    while i < len(body):
        ch = body[i]
        if ch != "_":
            out.append(ch)
            i += 1
            continue
        if body.startswith("_", i + 1):
            out.append("_")
            i += 2
            continue
        end = body.find("_", i + 1)
        digits = body[i + 1 : end] if end > 0 else ""
        if not digits or len(digits) > 6 or any(c not in "0123456789abcdefABCDEF" for c in digits):
            return name
        code = int(digits, 16)
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return name
        out.append(chr(code))
        i = end + 1
    return "".join(out)


class _Meta:
    """A parsed metadata request: time range (ms), limit and matcher sets."""

    def __init__(self, db: Database, params: dict[str, Any], *, series: bool):
        self.db = db
        self.limit = parse_limit(params)
        self.start = parse_time_param_ms(params, "start", MIN_MS, clamp=True)
        self.end = parse_time_param_ms(params, "end", MAX_MS, clamp=True)
        selectors = params.get("match[]") or []
        try:
            self.sets = parse_match_sets(selectors)
        except ParseError as exc:
            # `series` names the parameter; `labels` and `label/<name>/values` do not.
            raise (invalid("match[]", str(exc)) if series else PromParamError(str(exc))) from None


async def _meta(request: Request, *, series: bool = False) -> _Meta | Response:
    state = state_of(request)
    refused = not_ready(state)
    if refused is not None:
        return refused
    assert state.db is not None
    params = await form_params(request)
    if series and not params.get("match[]"):
        return answer_response(prom_error("bad_data", "no match[] parameter provided"))
    try:
        return _Meta(state.db, params, series=series)
    except PromParamError as exc:
        return answer_response(prom_error("bad_data", str(exc)))


def _limited(items: list[Any], limit: int) -> Response:
    if 0 < limit < len(items):
        return answer_response(prom_success(items[:limit], [TRUNCATED_WARNING]))
    return answer_response(prom_success(items))


def _names(m: _Meta) -> list[str]:
    if not m.sets:
        return m.db.label_names(SeriesKind.METRIC, m.start, m.end)
    names: set[str] = set()
    for matchers in m.sets:
        names.update(m.db.label_names(SeriesKind.METRIC, m.start, m.end, matchers))
    return sorted(names)


def _values(m: _Meta, name: str) -> list[str]:
    if not m.sets:
        return m.db.label_values(name, SeriesKind.METRIC, m.start, m.end)
    values: set[str] = set()
    for matchers in m.sets:
        values.update(m.db.label_values(name, SeriesKind.METRIC, m.start, m.end, matchers))
    return sorted(values)


def _series(m: _Meta) -> list[dict[str, str]]:
    seen: set[Labels] = set()
    for matchers in m.sets:
        seen.update(info.labels for info in m.db.select_series(matchers, SeriesKind.METRIC, m.start, m.end))
    return [dict(labels) for labels in sorted(seen)]


async def labels(request: Request) -> Response:
    m = await _meta(request)
    if isinstance(m, Response):
        return m
    return _limited(await run_in_threadpool(_names, m), m.limit)


async def label_values(request: Request) -> Response:
    name = unescape_label_name(request.path_params["name"])
    if not name or "\ufffd" in name:  # Prometheus: any valid UTF-8 name (UTF8Validation)
        return answer_response(prom_error("bad_data", f'invalid label name: "{name}"'))
    m = await _meta(request)
    if isinstance(m, Response):
        return m
    return _limited(await run_in_threadpool(_values, m, name), m.limit)


async def series(request: Request) -> Response:
    m = await _meta(request, series=True)
    if isinstance(m, Response):
        return m
    return _limited(await run_in_threadpool(_series, m), m.limit)


def routes() -> list[Route]:
    both = ["GET", "POST"]
    return [
        Route("/api/v1/series", series, methods=both),
        Route("/api/v1/labels", labels, methods=both),
        Route("/api/v1/label/{name}/values", label_values, methods=["GET"]),
    ]
