"""Demo-like data for the browser tests: three namespaces of pods writing JSON, logfmt and plain
lines at every level over the last hour, plus a few lines the tests look for by their text.

Deterministic (a fixed random seed, timestamps relative to one `now`), so a test can say what
it expects to see.
"""

from __future__ import annotations

import json
import random
import time

import httpx

__all__ = ["NOW_NS", "STREAMS", "push_lines", "seed"]

NOW_NS = time.time_ns()

STREAMS: list[dict[str, str]] = [
    {
        "namespace": "api",
        "app": "checkout",
        "pod": "checkout-7d9f-abcde",
        "container": "app",
        "node": "node-a",
    },
    {
        "namespace": "api",
        "app": "payments",
        "pod": "payments-5c4b-fghij",
        "container": "app",
        "node": "node-a",
    },
    {
        "namespace": "web",
        "app": "frontend",
        "pod": "frontend-6f8d-klmno",
        "container": "nginx",
        "node": "node-b",
    },
    {"namespace": "db", "app": "postgres", "pod": "postgres-0", "container": "postgres", "node": "node-b"},
]

_PATHS = ["/api/cart", "/api/orders", "/api/pay", "/healthz", "/static/app.js"]


def _line(stream: dict[str, str], rng: random.Random, i: int) -> str:
    level = rng.choices(["info", "debug", "warn", "error"], [70, 15, 10, 5])[0]
    if stream["app"] in ("checkout", "payments"):  # JSON loggers
        status = 500 if level == "error" else rng.choice([200, 200, 201, 404])
        return json.dumps(
            {
                "level": level,
                "msg": f"handled request {i}",
                "path": rng.choice(_PATHS),
                "status": status,
                "duration_ms": rng.randint(1, 900),
            }
        )
    if stream["app"] == "frontend":  # logfmt
        status = rng.choice([200, 304, 404])
        return f'level={level} method=GET path={rng.choice(_PATHS)} status={status} msg="served {i}"'
    return f"{level.upper()}: checkpoint complete: wrote {rng.randint(10, 999)} buffers ({i})"


def push_lines(base_url: str, stream: dict[str, str], lines: list[tuple[int, str]]) -> None:
    body = {"streams": [{"stream": stream, "values": [[str(ts), line] for ts, line in lines]}]}
    r = httpx.post(f"{base_url}/loki/api/v1/push", json=body, timeout=30)
    r.raise_for_status()


def seed(base_url: str, per_stream: int = 600, span_s: int = 3600) -> None:
    """per_stream lines in each stream, spread evenly over the last span_s seconds before
    now, which becomes NOW_NS (tests that count lines in a relative range read it)."""
    global NOW_NS
    NOW_NS = time.time_ns()
    rng = random.Random(42)
    for stream in STREAMS:
        step = span_s * 1_000_000_000 // per_stream
        lines = [(NOW_NS - (per_stream - i) * step, _line(stream, rng, i)) for i in range(per_stream)]
        push_lines(base_url, stream, lines)
    # Lines the tests search for by text; the newest in their streams.
    push_lines(
        base_url,
        STREAMS[1],
        [
            (
                NOW_NS - 5_000_000_000,
                json.dumps({"level": "error", "msg": "payment declined", "order": "A-1001", "status": 402}),
            )
        ],
    )
    push_lines(
        base_url, STREAMS[3], [(NOW_NS - 4_000_000_000, "ERROR: deadlock detected on relation orders")]
    )
