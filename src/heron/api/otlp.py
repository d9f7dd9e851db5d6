"""OTLP/HTTP receivers: logs at `POST /otlp/v1/logs` (the path Loki 3 serves it on) and
metrics at `POST /otlp/v1/metrics` (mapped by `heron.receive.otlp_metrics`).

Answers follow the OTLP/HTTP spec: 200 with an ExportLogsServiceResponse in the request's
encoding (partial_success when storage refused some records), 400 for a body that does not
decode (nothing stored), 413 past max_push_size (after gzip too), 415 for other content
types, and 429/503/507 exactly as the Loki push answers them.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heron.api.loki import _read_body, counted_push, error, over_rate_limit
from heron.api.state import AppState
from heron.api.status import record_push
from heron.receive.decompress import DecompressError, TooLarge, inflate
from heron.receive.discovery import discover, discovery_of
from heron.receive.otlp_logs import OtlpError, decode_otlp_logs, export_response
from heron.receive.otlp_metrics import OtlpMetrics, decode_otlp_metrics, metrics_response
from heron.storage import LogBatch, RejectReason

__all__ = ["routes"]


def _decode(body: bytes, content_type: str, content_encoding: str, limit: int) -> list[LogBatch]:
    enc = content_encoding.strip().lower()
    if enc == "gzip":
        body = inflate(body, "gzip", limit)
    elif enc not in ("", "identity"):
        raise OtlpError(f"unsupported Content-Encoding {content_encoding!r}: use gzip or none")
    return decode_otlp_logs(body, content_type)


async def logs(request: Request) -> Response:
    return await counted_push(request, "otlp", _logs)


async def _logs(request: Request, state: AppState) -> Response:
    assert state.db is not None
    ctype = request.headers.get("content-type", "")
    if ctype.split(";")[0].strip().lower() not in ("application/x-protobuf", "application/json"):
        return error(
            415, f"unsupported Content-Type {ctype!r}: use application/x-protobuf or application/json"
        )
    limit = state.limits.max_push_body_bytes
    body = await _read_body(request, limit)
    if body is None:
        return error(413, f"request body too large: limit is {limit} bytes (max_push_size)")
    try:
        batches = await run_in_threadpool(
            _decode, body, ctype, request.headers.get("content-encoding", ""), limit
        )
    except TooLarge as exc:
        return error(413, str(exc))
    except (OtlpError, DecompressError) as exc:
        return error(400, str(exc))
    batches = await run_in_threadpool(discover, batches, discovery_of(request.app))
    nlines = sum(len(b.lines) for b in batches)
    refused = over_rate_limit(state, batches)
    if refused is not None:
        return refused
    result = await run_in_threadpool(state.db.append, batches) if batches else None
    record_push(state, request, batches)  # the status page's agents
    rejected = result.rejected_count if result is not None else 0
    if rejected and rejected >= nlines:
        limited = any(r.reason is RejectReason.SERIES_LIMIT for r in result.rejected)  # type: ignore[union-attr]
        return error(429 if limited else 400, "\n".join(r.message for r in result.rejected[:10]))  # type: ignore[union-attr]
    message = "\n".join(r.message for r in result.rejected[:10]) if result is not None and rejected else ""
    payload, media = export_response(ctype, rejected, message)
    return Response(payload, status_code=200, media_type=media)


async def metrics(request: Request) -> Response:
    return await counted_push(request, "otlp_metrics", _metrics)


def _decode_metrics(body: bytes, content_type: str, content_encoding: str, limit: int) -> OtlpMetrics:
    enc = content_encoding.strip().lower()
    if enc == "gzip":
        body = inflate(body, "gzip", limit)
    elif enc not in ("", "identity"):
        raise OtlpError(f"unsupported Content-Encoding {content_encoding!r}: use gzip or none")
    return decode_otlp_metrics(body, content_type)


async def _metrics(request: Request, state: AppState) -> Response:
    """OTLP/HTTP metrics: 200 with an ExportMetricsServiceResponse, its partial_success naming
    the points not stored (refused by storage, or of a kind Heron does not store); 400 for a
    body that does not decode (nothing stored), 413, 415 as for logs."""
    assert state.db is not None
    ctype = request.headers.get("content-type", "")
    if ctype.split(";")[0].strip().lower() not in ("application/x-protobuf", "application/json"):
        return error(
            415, f"unsupported Content-Type {ctype!r}: use application/x-protobuf or application/json"
        )
    limit = state.limits.max_push_body_bytes
    body = await _read_body(request, limit)
    if body is None:
        return error(413, f"request body too large: limit is {limit} bytes (max_push_size)")
    try:
        decoded = await run_in_threadpool(
            _decode_metrics, body, ctype, request.headers.get("content-encoding", ""), limit
        )
    except TooLarge as exc:
        return error(413, str(exc))
    except (OtlpError, DecompressError) as exc:
        return error(400, str(exc))
    if decoded.metadata:
        state.metadata.update(decoded.metadata)
    rejected, messages = decoded.rejected, list(decoded.messages)
    if decoded.columns.labels:
        result = await run_in_threadpool(state.db.append, (), (), decoded.columns)
        if state.forward is not None:
            state.forward.submit(decoded.columns)
        rejected += result.rejected_count
        messages += [r.message for r in result.rejected[:10]]
    payload, media = metrics_response(ctype, rejected, "\n".join(messages[:10]))
    return Response(payload, status_code=200, media_type=media)


def routes() -> list[Route]:
    return [
        Route("/otlp/v1/logs", logs, methods=["POST"]),
        Route("/otlp/v1/metrics", metrics, methods=["POST"]),
    ]
