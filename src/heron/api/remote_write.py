"""Prometheus remote write receiver: `POST /api/v1/write`, protocol 1.0 and 2.0.

Answers as the remote write spec asks, so senders retry only what a retry can fix:
204 when stored; 400 for a malformed body or invalid labels (nothing stored) and for samples
storage refused as out of order or duplicate (the rest stored, as Prometheus answers it);
413 past max_push_size (before or after snappy); 415 for a Content-Type or Content-Encoding
remote write does not define; 429 when a series limit refused samples; 507/503 from the app's
handler when the disk cannot be written. A 2.0 request is answered with the
`X-Prometheus-Remote-Write-{Samples,Histograms,Exemplars}-Written` headers.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from heron.api.loki import counted_push, decoded_push
from heron.api.state import AppState
from heron.receive.remote_write import (
    V2_PROTO,
    DecodedWrite,
    RemoteWriteError,
    RemoteWriteTooLarge,
    UnsupportedMediaType,
    decode_write_request,
    storage_batches,
)
from heron.storage import RejectReason

__all__ = ["routes"]
_MAX_LISTED_REJECTIONS = 10
_REFUSALS = ((UnsupportedMediaType, 415), (RemoteWriteTooLarge, 413), (RemoteWriteError, 400))


def _written(decoded: DecodedWrite | None, samples: int) -> dict[str, str]:
    if decoded is None or decoded.version != V2_PROTO:
        return {}
    return {
        "X-Prometheus-Remote-Write-Samples-Written": str(samples),
        "X-Prometheus-Remote-Write-Histograms-Written": "0",
        "X-Prometheus-Remote-Write-Exemplars-Written": "0",
    }


async def write(request: Request) -> Response:
    return await counted_push(request, "remote_write", _write)


async def _write(request: Request, state: AppState) -> Response:
    assert state.db is not None
    decoded = await decoded_push(request, state, decode_write_request, _REFUSALS)
    if isinstance(decoded, Response):
        return decoded
    if decoded.metadata:
        state.metadata.update(decoded.metadata)
    nsamples = len(decoded.columns.labels)
    if not nsamples:
        return Response(status_code=204, headers=_written(decoded, 0))
    batches, columns = storage_batches(decoded)
    result = await run_in_threadpool(state.db.append, (), batches, columns)
    if state.forward is not None:
        state.forward.submit(decoded.columns)
    written = nsamples - result.rejected_count
    headers = _written(decoded, written)
    if not result.rejected:
        return Response(status_code=204, headers=headers)
    limited = any(r.reason is RejectReason.SERIES_LIMIT for r in result.rejected)
    lines = [r.message for r in result.rejected[:_MAX_LISTED_REJECTIONS]]
    lines.append(f"total refused: {result.rejected_count} out of {nsamples} samples")
    return PlainTextResponse("\n".join(lines) + "\n", status_code=429 if limited else 400, headers=headers)


def routes() -> list[Route]:
    return [Route("/api/v1/write", write, methods=["POST"])]
