"""Loki's `/detected_fields` and `/detected_field/<name>/values`: fields found in a sample of
recent lines (json, else logfmt) and in their structured metadata, for Logs Drilldown.

The sample is the newest `line_limit` entries (default 1000, at most the server's
`max_entries_per_query`) and at most `_MAX_SAMPLE_BYTES` of lines, so a request's cost is
bounded whatever the range. Types follow Loki's `determineType`: the first of int, float,
boolean, duration, bytes that parses (Go's rules), else string; as in Loki each entry
re-detects a field's type, and the last entry seen (streams in label order, newest first)
decides. Cardinality is the exact number of distinct values in the sample.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from heron.api.loki import HOUR_NS, _Meta, _metadata, error
from heron.api.params import ParamError, parse_int
from heron.logql.parsers import ERROR_DETAILS_LABEL, ERROR_LABEL, parse_json, parse_logfmt
from heron.logql.syntax import ParseError, parse_log_selector
from heron.model import Matcher
from heron.storage.types import Direction

__all__ = ["routes", "determine_type", "sample_fields"]

_MAX_SAMPLE_BYTES = 16 * 1024 * 1024
_MAX_FIELD_LIMIT = 10_000
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(inf|infinity|nan)", re.I)
_BOOL = frozenset({"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"})
_DURATION = re.compile(r"[+-]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+|[+-]?0")
_BYTES = re.compile(r"\s*([0-9.,]+)\s*([A-Za-z]*)\s*")
_BYTE_UNITS = frozenset(
    {""} | {p + s for p in ("k", "m", "g", "t", "p", "e") for s in ("", "b", "i", "ib")} | {"b"}
)
_SKIP = frozenset({ERROR_LABEL, ERROR_DETAILS_LABEL, "__preserve_error__"})


def _go_float(value: str) -> bool:
    if not _FLOAT.fullmatch(value):
        return False
    return not math.isinf(float(value)) or "inf" in value.lower()  # Go refuses an overflow


def _go_bytes(value: str) -> bool:
    m = _BYTES.fullmatch(value)
    if m is None or m.group(2).lower() not in _BYTE_UNITS:
        return False
    try:
        float(m.group(1).replace(",", ""))
    except ValueError:
        return False
    return True


def determine_type(value: str) -> str:
    """Loki's order: int64, float64, Go bool, Go duration, humanize bytes, else string."""
    if _INT.fullmatch(value) and -(1 << 63) <= int(value) < (1 << 63):
        return "int"
    if _go_float(value):
        return "float"
    if value in _BOOL:
        return "boolean"
    if _DURATION.fullmatch(value):
        return "duration"
    if _go_bytes(value):
        return "bytes"
    return "string"


@dataclass
class _Field:
    type: str = "string"
    values: set[str] = field(default_factory=set)
    parsers: list[str] = field(default_factory=list)


def _entry_fields(line: bytes, meta: bytes) -> tuple[dict[str, str], dict[str, str], str | None]:
    """Structured metadata, parsed fields and the parser that found them (json, else logfmt)."""
    md: dict[str, str] = {}
    if meta:
        try:
            decoded = json.loads(meta)
        except ValueError:
            decoded = {}
        if isinstance(decoded, dict):
            md = {str(k): str(v) for k, v in decoded.items()}
    parsed, err = parse_json(line)
    parser: str | None = "json"
    if err is not None:
        parsed, err = parse_logfmt(line)
        parser = "logfmt" if err is None else None
    fields = {k: v for k, v in parsed.items() if k not in _SKIP} if parser else {}
    return md, fields, parser if fields else None


def sample_fields(m: _Meta, matchers: list[Matcher], line_limit: int, limit: int) -> dict[str, _Field]:
    """Fields of the newest `line_limit` entries, at most `limit` distinct fields."""
    page = m.db.snapshot().logs(matchers, m.start, m.end, direction=Direction.BACKWARD, limit=line_limit)
    out: dict[str, _Field] = {}
    budget = _MAX_SAMPLE_BYTES
    # Loki visits streams in label order, each stream's entries newest first (the page's order).
    for i in sorted(range(len(page)), key=lambda i: (tuple(page.series[page.series_index[i]]), i)):
        budget -= len(page.lines[i])
        if budget < 0:
            break
        md, parsed, parser = _entry_fields(page.lines[i], page.metadata[i])
        for source, found in ((None, md), (parser, parsed)):
            for name, value in found.items():
                f = out.get(name)
                if f is None:
                    if len(out) >= limit:
                        continue
                    f = out[name] = _Field()
                if source is not None and source not in f.parsers:
                    f.parsers.append(source)
                f.type = determine_type(value)
                f.values.add(value)
    return out


def _limits(request: Request, params: dict[str, Any]) -> tuple[int, int]:
    mx = request.app.state.heron.limits.max_entries_per_query
    line_limit = parse_int(params.get("line_limit"), 1000, "line_limit")
    if line_limit <= 0 or line_limit > mx:
        raise ParamError(f"line_limit must be between 1 and {mx} (max_entries_per_query)")
    limit = parse_int(params.get("limit"), 1000, "limit")
    if limit <= 0 or limit > _MAX_FIELD_LIMIT:
        raise ParamError(f"limit must be between 1 and {_MAX_FIELD_LIMIT}")
    return line_limit, limit


async def _sample(request: Request) -> tuple[dict[str, _Field], int] | Response:
    m = await _metadata(request, HOUR_NS, selector=False)
    if isinstance(m, Response):
        return m
    try:
        text = m.params.get("query")
        if not text:
            raise ParamError("query must be supplied")
        # Grafana sends the user's whole log query; its selector picks the sample and its
        # stages are not applied (Loki applies them), so fields are those of the streams.
        expr = parse_log_selector(text)
        line_limit, limit = _limits(request, m.params)
    except (ParamError, ParseError) as exc:
        return error(400, str(exc))
    found = await run_in_threadpool(sample_fields, m, list(expr.matchers), line_limit, limit)
    return found, limit


async def detected_fields(request: Request) -> Response:
    got = await _sample(request)
    if isinstance(got, Response):
        return got
    found, limit = got
    fields = [
        {"label": name, "type": f.type, "cardinality": len(f.values), "parsers": f.parsers or None}
        for name, f in sorted(found.items())
    ]
    return JSONResponse({"fields": fields, "limit": limit})


async def detected_field_values(request: Request) -> Response:
    got = await _sample(request)
    if isinstance(got, Response):
        return got
    found, limit = got
    f = found.get(request.path_params["name"])
    values = sorted(f.values)[:limit] if f is not None else []
    return JSONResponse({"values": values, "limit": limit})


def routes() -> list[Route]:
    return [
        Route("/loki/api/v1/detected_fields", detected_fields, methods=["GET", "POST"]),
        Route("/loki/api/v1/detected_field/{name}/values", detected_field_values, methods=["GET", "POST"]),
    ]
