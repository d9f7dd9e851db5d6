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

from heron.api.loki import counted_push, decoded_push, error, store_logs
from heron.api.state import AppState
from heron.receive.decompress import DecompressError, TooLarge, inflate
from heron.receive.otlp_common import OtlpError, media_kind
from heron.receive.otlp_logs import decode_otlp_logs, export_response
from heron.receive.otlp_metrics import OtlpMetrics, decode_otlp_metrics, metrics_response
from heron.storage import LogBatch, RejectReason

__all__ = ["routes"]

# A body that does not inflate or decode: 413 past the size limit (after gzip too), else 400.
_REFUSALS = ((TooLarge, 413), (OtlpError, 400), (DecompressError, 400))


def _inflated(body: bytes, content_encoding: str, limit: int) -> bytes:
    enc = content_encoding.strip().lower()
    if enc == "gzip":
        return inflate(body, "gzip", limit)
    if enc not in ("", "identity"):
        raise OtlpError(f"unsupported Content-Encoding {content_encoding!r}: use gzip or none")
    return body


def _decode_logs(body: bytes, content_type: str, content_encoding: str, limit: int) -> list[LogBatch]:
    return decode_otlp_logs(_inflated(body, content_encoding, limit), content_type)


def _decode_metrics(body: bytes, content_type: str, content_encoding: str, limit: int) -> OtlpMetrics:
    return decode_otlp_metrics(_inflated(body, content_encoding, limit), content_type)


def _unsupported(request: Request) -> Response | None:
    """OTLP/HTTP's two encodings, checked before the body is read: 415 for any other."""
    try:
        media_kind(request.headers.get("content-type", ""))
    except LookupError as exc:
        return error(415, str(exc))
    return None


async def logs(request: Request) -> Response:
    return await counted_push(request, "otlp", _logs)


async def _logs(request: Request, state: AppState) -> Response:
    refused = _unsupported(request)
    if refused is not None:
        return refused
    batches = await decoded_push(request, state, _decode_logs, _REFUSALS)
    if isinstance(batches, Response):
        return batches
    stored = await store_logs(request, state, batches, append_empty=False)
    if isinstance(stored, Response):
        return stored
    result, nlines = stored
    ctype = request.headers.get("content-type", "")
    rejected = result.rejected_count if result is not None else 0
    if rejected and rejected >= nlines:
        limited = any(r.reason is RejectReason.SERIES_LIMIT for r in result.rejected)  # type: ignore[union-attr]
        return error(429 if limited else 400, "\n".join(r.message for r in result.rejected[:10]))  # type: ignore[union-attr]
    message = "\n".join(r.message for r in result.rejected[:10]) if result is not None and rejected else ""
    payload, media = export_response(ctype, rejected, message)
    return Response(payload, status_code=200, media_type=media)


async def metrics(request: Request) -> Response:
    return await counted_push(request, "otlp_metrics", _metrics)


async def _metrics(request: Request, state: AppState) -> Response:
    """OTLP/HTTP metrics: 200 with an ExportMetricsServiceResponse, its partial_success naming
    the points not stored (refused by storage, or of a kind Heron does not store); 400 for a
    body that does not decode (nothing stored), 413, 415 as for logs."""
    assert state.db is not None
    refused = _unsupported(request)
    if refused is not None:
        return refused
    decoded = await decoded_push(request, state, _decode_metrics, _REFUSALS)
    if isinstance(decoded, Response):
        return decoded
    if decoded.metadata:
        state.metadata.update(decoded.metadata)
    rejected, messages = decoded.rejected, list(decoded.messages)
    if decoded.columns.labels:
        result = await run_in_threadpool(state.db.append, (), (), decoded.columns)
        if state.forward is not None:
            state.forward.submit(decoded.columns)
        rejected += result.rejected_count
        messages += [r.message for r in result.rejected[:10]]
    payload, media = metrics_response(
        request.headers.get("content-type", ""), rejected, "\n".join(messages[:10])
    )
    return Response(payload, status_code=200, media_type=media)


def routes() -> list[Route]:
    return [
        Route("/otlp/v1/logs", logs, methods=["POST"]),
        Route("/otlp/v1/metrics", metrics, methods=["POST"]),
    ]
