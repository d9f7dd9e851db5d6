"""Loki's JSON response shapes for query results (resultType streams, matrix, vector, scalar).

Text from the data can hold lone surrogates: parsers keep each invalid UTF-8 byte of a line as
one (U+DC80..U+DCFF) so offsets stay per byte, and such a value can become a label. Strict
UTF-8 cannot encode them, so every answer goes through `utf8`/`safe_text`, which show each as
U+FFFD, the replacement Loki shows for invalid bytes, instead of failing the request.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from heron.logql.result import QueryResult, QueryStats, ResultType

__all__ = [
    "render_query_result",
    "render_stats",
    "format_sample_value",
    "format_ts_seconds",
    "json_bytes",
    "json_text",
    "safe_text",
    "utf8",
]

_SURROGATE = re.compile("[\ud800-\udfff]")


def safe_text(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD, so it encodes as UTF-8."""
    return _SURROGATE.sub("\ufffd", text)


def utf8(text: str) -> bytes:
    """UTF-8 bytes of `text`; lone surrogates become U+FFFD (the common case costs nothing)."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return safe_text(text).encode()


def json_text(obj: Any) -> str:
    """Compact JSON with non-ASCII text kept as is, safe to send as UTF-8."""
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    try:
        text.encode()
    except UnicodeEncodeError:
        return safe_text(text)
    return text


def json_bytes(obj: Any) -> bytes:
    """Compact JSON as UTF-8 bytes; lone surrogates in the data become U+FFFD."""
    return utf8(json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":")))


def format_sample_value(v: float) -> str:
    """Go's strconv.FormatFloat(v, 'f', -1, 64), which Loki and Prometheus use for values."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return np.format_float_positional(v, trim="-")


def format_ts_seconds(ts_ns: int) -> float | int:
    """Unix seconds with millisecond precision, as a JSON number (Prometheus' model.Time)."""
    ms = ts_ns // 1_000_000
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def render_stats(s: QueryStats) -> dict[str, Any]:
    exec_time = max(s.exec_seconds, 1e-9)
    store = {
        "totalChunksRef": s.chunks_decoded,
        "totalChunksDownloaded": s.chunks_decoded,
        "chunksDownloadTime": 0,
        "queryReferencedStructuredMetadata": s.structured_metadata_bytes > 0,
        "chunk": {
            "headChunkBytes": 0,
            "headChunkLines": 0,
            "decompressedBytes": s.bytes_processed,
            "decompressedLines": s.lines_processed,
            "compressedBytes": 0,
            "totalDuplicates": 0,
            "postFilterLines": s.post_filter_lines,
            "headChunkStructuredMetadataBytes": 0,
            "decompressedStructuredMetadataBytes": s.structured_metadata_bytes,
        },
    }
    return {
        "summary": {
            "bytesProcessedPerSecond": int(s.bytes_processed / exec_time),
            "linesProcessedPerSecond": int(s.lines_processed / exec_time),
            "totalBytesProcessed": s.bytes_processed,
            "totalLinesProcessed": s.lines_processed,
            "execTime": s.exec_seconds,
            "queueTime": 0,
            "subqueries": 0,
            "totalEntriesReturned": s.entries_returned,
            "splits": 0,
            "shards": 0,
            "totalPostFilterLines": s.post_filter_lines,
            "totalStructuredMetadataBytesProcessed": s.structured_metadata_bytes,
        },
        "querier": {"store": store},
        "ingester": {
            "totalReached": 0,
            "totalChunksMatched": 0,
            "totalBatches": 0,
            "totalLinesSent": 0,
            "store": store,
        },
        "cache": {},
    }


def _categorized(result: QueryResult) -> list[dict[str, Any]]:
    """categorize-labels: each entry's labels split as Loki's LabelsBuilder does. `stream` keeps
    only the stored stream labels a stage left unchanged, and entries are grouped by it alone;
    `structuredMetadata` is what survived of the entry's metadata; `parsed` is what a parser or
    label_format made or overwrote, `__error__` and `__error_details__` included."""
    groups: dict[tuple[tuple[str, str], ...], list[tuple[int, list[Any]]]] = {}
    for st in result.streams:
        for i, (t, line) in enumerate(zip(st.timestamps, st.lines)):
            extra: dict[str, Any] = {}
            parsed = st.parsed[i] if st.parsed is not None else {}
            if st.metadata is not None and st.metadata[i]:
                extra["structuredMetadata"] = dict(sorted(st.metadata[i].items()))
            if parsed:
                extra["parsed"] = dict(sorted(parsed.items()))
            key = tuple(sorted((k, v) for k, v in st.labels.items() if k not in parsed))
            groups.setdefault(key, []).append((t, [str(t), line, extra] if extra else [str(t), line]))
    out: list[dict[str, Any]] = []
    for key, entries in groups.items():
        entries.sort(key=lambda e: e[0], reverse=not result.forward)  # stable: equal times keep order
        out.append({"stream": dict(key), "values": [v for _, v in entries]})
    return out


def _streams(result: QueryResult, categorize: bool) -> list[dict[str, Any]]:
    if categorize:
        return _categorized(result)
    out: list[dict[str, Any]] = []
    for st in result.streams:
        if st.metadata is None or not any(st.metadata):
            out.append(
                {"stream": st.labels, "values": [[str(t), line] for t, line in zip(st.timestamps, st.lines)]}
            )
            continue
        # Without categorize-labels, Loki folds structured metadata into the stream's labels.
        groups: dict[tuple[tuple[str, str], ...], list[list[str]]] = {}
        for t, line, md in zip(st.timestamps, st.lines, st.metadata):
            key = tuple(sorted({**st.labels, **md}.items()))
            groups.setdefault(key, []).append([str(t), line])
        for key, vals in groups.items():
            out.append({"stream": dict(key), "values": vals})
    return out


def render_query_result(result: QueryResult, categorize: bool = False) -> dict[str, Any]:
    rt = result.result_type
    data: dict[str, Any] = {"resultType": rt.value}
    if rt is ResultType.STREAMS:
        data["result"] = _streams(result, categorize)
        if categorize:
            data["encodingFlags"] = ["categorize-labels"]
    elif rt is ResultType.MATRIX:
        data["result"] = [
            {
                "metric": s.labels,
                "values": [
                    [format_ts_seconds(int(t)), format_sample_value(float(v))]
                    for t, v in zip(s.timestamps.tolist(), s.values.tolist())
                ],
            }
            for s in result.matrix
        ]
    elif rt is ResultType.VECTOR:
        data["result"] = [
            {"metric": s.labels, "value": [format_ts_seconds(s.timestamp), format_sample_value(s.value)]}
            for s in result.vector
        ]
    else:
        assert result.scalar is not None
        t, v = result.scalar
        data["result"] = [format_ts_seconds(t), format_sample_value(v)]
    data["stats"] = render_stats(result.stats)
    return {"status": "success", "data": data}
