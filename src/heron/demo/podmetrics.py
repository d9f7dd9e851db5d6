"""One simulated pod's `/metrics`: request counters and a latency histogram that agree with the
lines the pod logs.

Every event a demo pod logs is one handled request (an access line, a JSON or logfmt line with
its status, or a plain line or stack trace whose level says how it went: errors are 500s). The
pod records each one here as it writes the lines, so `http_requests_total{code="500"}` equals
the number of logged requests with status 500, and the histogram's `_count` equals the
counter's total, as a real instrumented service would show. Rendered in Prometheus text 0.0.4
with the Go and Python clients' default buckets.
"""

from __future__ import annotations

import bisect
import threading
import time
from dataclasses import dataclass

__all__ = ["BUCKETS", "PodMetrics", "Request"]

# The default buckets of Prometheus' client libraries, in seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class Request:
    """One handled request as a pod logged it."""

    method: str
    path: str
    code: int
    seconds: float


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(x: float) -> str:
    return repr(float(x)) if not float(x).is_integer() else str(int(x))


class _Histogram:
    __slots__ = ("buckets", "count", "sum")

    def __init__(self) -> None:
        self.buckets = [0] * len(BUCKETS)  # per bucket, not cumulative (cumulated when rendered)
        self.count = 0
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        i = bisect.bisect_left(BUCKETS, seconds)
        if i < len(BUCKETS):
            self.buckets[i] += 1
        self.count += 1
        self.sum += seconds


class PodMetrics:
    """The counters of one pod (its one container), thread-safe: the node's writer thread
    records, the pod's HTTP server thread renders."""

    def __init__(self, namespace: str, pod: str, container: str) -> None:
        self.namespace = namespace
        self.pod = pod
        self.container = container
        self.started = time.time()
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, str], int] = {}
        self._latency: dict[tuple[str, str], _Histogram] = {}
        self._log_lines = 0

    def record(self, request: Request, lines: int) -> None:
        with self._lock:
            key = (request.method, request.path, str(request.code))
            self._requests[key] = self._requests.get(key, 0) + 1
            hist = self._latency.get((request.method, request.path))
            if hist is None:
                hist = self._latency[(request.method, request.path)] = _Histogram()
            hist.observe(request.seconds)
            self._log_lines += lines

    def requests_total(self, code: int | None = None) -> int:
        """Requests recorded, all or with one status code (what the counter sums to)."""
        with self._lock:
            return sum(n for (_, _, c), n in self._requests.items() if code is None or c == str(code))

    def render(self) -> bytes:
        with self._lock:
            requests = sorted(self._requests.items())
            latency = sorted((k, list(h.buckets), h.count, h.sum) for k, h in self._latency.items())
            log_lines = self._log_lines
        out = [
            "# HELP http_requests_total Requests handled, by method, path and status code.",
            "# TYPE http_requests_total counter",
        ]
        for (method, path, code), n in requests:
            out.append(f'http_requests_total{{method="{method}",path="{_escape(path)}",code="{code}"}} {n}')
        out += [
            "# HELP http_request_duration_seconds How long requests took to handle.",
            "# TYPE http_request_duration_seconds histogram",
        ]
        for (method, path), buckets, count, total in latency:
            labels = f'method="{method}",path="{_escape(path)}"'
            cumulative = 0
            for le, n in zip(BUCKETS, buckets):
                cumulative += n
                out.append(f'http_request_duration_seconds_bucket{{{labels},le="{_num(le)}"}} {cumulative}')
            out.append(f'http_request_duration_seconds_bucket{{{labels},le="+Inf"}} {count}')
            out.append(f"http_request_duration_seconds_sum{{{labels}}} {_num(round(total, 6))}")
            out.append(f"http_request_duration_seconds_count{{{labels}}} {count}")
        out += [
            "# HELP log_lines_written_total Log lines the pod wrote to its stdout and stderr.",
            "# TYPE log_lines_written_total counter",
            f"log_lines_written_total {log_lines}",
            "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.",
            "# TYPE process_start_time_seconds gauge",
            f"process_start_time_seconds {_num(round(self.started, 3))}",
        ]
        return ("\n".join(out) + "\n").encode()
