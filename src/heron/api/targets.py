"""Prometheus' scrape APIs: `/api/v1/targets`, `/api/v1/targets/metadata`, `/api/v1/metadata`.

Shapes and parameter rules are Prometheus 2.42's (`web/api/v1/api.go`): the success envelope
`{"status":"success","data":...}`, `lastScrape` as Go's RFC3339Nano (the zero time before the
first scrape), `globalUrl` with a loopback host replaced by this machine's name, and `limit`
counted as Prometheus counts it. Where Prometheus silently answers nothing for a parameter it
does not understand (`state=foo`), Heron answers 400 with a message (docs/api.md).

A server without scraping (no `scrape_configs`, no cluster) answers empty lists, as a
Prometheus with no targets does; `/api/v1/metadata` still serves what remote-write and OTLP
senders declared.
"""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime
from typing import Any, Sequence
from urllib.parse import urlsplit, urlunsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from heron.api.render import json_bytes
from heron.api.state import AppState
from heron.model import Labels, Matcher, MatchOp

__all__ = ["routes", "global_url", "rfc3339_nano", "parse_metric_selector"]

_LOCALHOSTS = ("127.0.0.1", "localhost", "::1")
_ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time.Time, what a never-scraped target shows
_NAME_AND_BLOCK = re.compile(r"\s*([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*(\{.*\})?\s*", re.S)


def _state(request: Request) -> AppState:
    return request.app.state.heron


def _ok(data: Any) -> Response:
    return Response(json_bytes({"status": "success", "data": data}), media_type="application/json")


def _bad(message: str) -> Response:
    return JSONResponse({"status": "error", "errorType": "bad_data", "error": message}, status_code=400)


def rfc3339_nano(ns: int) -> str:
    """Go's time.Time JSON (RFC3339Nano, UTC): trailing zeros of the fraction dropped."""
    if ns <= 0:
        return _ZERO_TIME
    seconds, frac = divmod(ns, 1_000_000_000)
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


def global_url(url: str, hostname: str | None = None) -> str:
    """Prometheus' getGlobalURL: a target on a loopback host is shown under this machine's
    name (and, if it is this very server, with its external scheme and port)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host not in _LOCALHOSTS or parts.port is None:
        return url
    # Heron's external URL is http://<hostname>:<listen port>, so both of Prometheus' cases
    # (this server itself, or another port on this machine) keep scheme and port.
    netloc = f"{hostname or socket.gethostname()}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def parse_metric_selector(text: str) -> list[Matcher]:
    """Prometheus' ParseMetricSelector for `match_target`: `name{...}`, `{...}` or `name`;
    ValueError with the parser's message otherwise."""
    from heron.logql.syntax import ParseError, parse_matchers

    m = _NAME_AND_BLOCK.fullmatch(text)
    if m is None or not (m.group(1) or m.group(2)):
        raise ValueError(f"1:1: parse error: unexpected character in selector {text[:50]!r}")
    matchers: list[Matcher] = []
    if m.group(1):
        matchers.append(Matcher("__name__", MatchOp.EQ, m.group(1)))
    if m.group(2):
        try:
            matchers.extend(parse_matchers(m.group(2)))
        except (ParseError, ValueError) as exc:
            raise ValueError(str(exc)) from None
    return matchers


def _matches(labels: Labels, matchers: Sequence[Matcher]) -> bool:
    have = dict(labels)
    return all(m.matches(have.get(m.name, "")) for m in matchers)


def _limit(request: Request) -> int | Response:
    text = request.query_params.get("limit", "")
    if text == "":
        return -1
    try:
        return int(text)
    except ValueError:
        return _bad("limit must be a number")


async def targets(request: Request) -> Response:
    state = _state(request)
    params = request.query_params
    pool = params.get("scrapePool") or None
    which = params.get("state", "").lower()
    if which not in ("", "any", "active", "dropped"):
        return _bad(f'invalid parameter "state": want active, dropped or any, got {which[:50]!r}')
    show_active = which in ("", "any", "active")
    show_dropped = which in ("", "any", "dropped")
    manager = state.scrapes
    active: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    if manager is not None and show_active:
        for t in manager.active_targets(pool):
            active.append(
                {
                    "discoveredLabels": t.discovered_labels,
                    "labels": t.labels,
                    "scrapePool": t.scrape_pool,
                    "scrapeUrl": t.scrape_url,
                    "globalUrl": global_url(t.scrape_url),
                    "lastError": t.last_error,
                    "lastScrape": rfc3339_nano(t.last_scrape_ns),
                    "lastScrapeDuration": t.last_scrape_duration,
                    "health": t.health,
                    "scrapeInterval": t.scrape_interval,
                    "scrapeTimeout": t.scrape_timeout,
                }
            )
    if manager is not None and show_dropped:
        dropped = [{"discoveredLabels": d} for d in manager.dropped_targets(pool)]
    return _ok({"activeTargets": active, "droppedTargets": dropped})


async def targets_metadata(request: Request) -> Response:
    state = _state(request)
    limit = _limit(request)
    if isinstance(limit, Response):
        return limit
    match_text = request.query_params.get("match_target", "")
    matchers: list[Matcher] = []
    if match_text:
        try:
            matchers = parse_metric_selector(match_text)
        except ValueError as exc:
            return _bad(f'invalid parameter "match_target": {exc}')
    metric = request.query_params.get("metric") or None
    if state.scrapes is None:
        return _ok([])
    match = (lambda labels: _matches(labels, matchers)) if matchers else None
    return _ok(state.scrapes.target_metadata(match, metric, limit))


async def metadata(request: Request) -> Response:
    state = _state(request)
    limit = _limit(request)
    if isinstance(limit, Response):
        return limit
    metric = request.query_params.get("metric") or None
    if limit == 0:
        return _ok({})
    found = state.metadata.query(metric, None if limit < 0 else limit)
    return _ok(
        {name: [{"type": m.type, "help": m.help, "unit": m.unit} for m in ms] for name, ms in found.items()}
    )


async def reload(request: Request) -> Response:
    """Prometheus' `/-/reload` (always enabled, no `--web.enable-lifecycle` needed): the config
    file's `scrape_configs` are read again and applied. A file Prometheus would refuse is a
    400 with its one-line error (Prometheus answers 500) and changes nothing."""
    from heron.config import ConfigError

    fn = getattr(request.app.state, "reload_scraping", None)
    if fn is None:
        return PlainTextResponse("reload is not available in this process\n", status_code=404)
    try:
        await run_in_threadpool(fn)
    except ConfigError as exc:
        return PlainTextResponse(f"failed to reload config: {exc}\n", status_code=400)
    except RuntimeError as exc:  # storage still opening: a retry helps
        return PlainTextResponse(f"failed to reload config: {exc}\n", status_code=503)
    return PlainTextResponse("")


def routes() -> list[BaseRoute]:
    return [
        Route("/-/reload", reload, methods=["POST", "PUT"]),
        Route("/api/v1/targets", targets, methods=["GET"]),
        Route("/api/v1/targets/metadata", targets_metadata, methods=["GET"]),
        Route("/api/v1/metadata", metadata, methods=["GET"]),
    ]
