"""An application-shaped scrape target for the side-by-side test: counters, gauges, an info
metric and a classic histogram, every value moving with each scrape.

node-exporter exposes no classic histogram by default, so this target supplies one for
`histogram_quantile`. It is the shared `scrapetarget.Target` (a real HTTP server) whose
response is computed afresh at every scrape. Values follow the scrape count, so they are
deterministic, and are chosen so no two series tie (topk/bottomk then pick the same series in
every engine).
"""

from __future__ import annotations

import threading

from scrapetarget import Response, Target

__all__ = ["AppTarget", "BUCKETS"]

BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf")
_PATHS = ("/", "/api", "/login")
_SERIES = (("GET", "200"), ("GET", "500"), ("POST", "200"), ("POST", "404"))


class AppTarget(Target):
    """`target.address` is host:port; `target.scrapes` counts the bodies served."""

    def __init__(self) -> None:
        self.scrapes = 0
        self._count_lock = threading.Lock()
        super().__init__()

    @property  # type: ignore[override]
    def response(self) -> Response:
        with self._count_lock:
            self.scrapes += 1
            n = self.scrapes
        return Response(body=self.body(n))

    @response.setter
    def response(self, value: Response) -> None:
        """Target's constructor assigns a default response; this target computes its own."""

    @staticmethod
    def body(n: int) -> bytes:
        lines = ["# HELP app_requests_total Requests served.", "# TYPE app_requests_total counter"]
        for p, path in enumerate(_PATHS):
            for s, (method, code) in enumerate(_SERIES):
                k = p * len(_SERIES) + s
                # A per-series rate, plus a wobble (smaller than the rate, so never a reset) that
                # makes the increments differ from scrape to scrape.
                value = n * (3 * k + 5) + (n * n * (k + 1)) % 5
                lines.append(f'app_requests_total{{path="{path}",method="{method}",code="{code}"}} {value}')
        lines += ["# TYPE app_queue_depth gauge"]
        for q, queue in enumerate(("fast", "slow")):
            lines.append(f'app_queue_depth{{queue="{queue}"}} {(n * (q + 3)) % 11 + q * 0.5}')
        lines += ["# TYPE app_temperature_celsius gauge"]
        for z, zone in enumerate(("a", "b", "c")):
            lines.append(
                f'app_temperature_celsius{{zone="{zone}"}} {20 + z * 0.7 + ((n * (z + 2)) % 9) / 8:.6f}'
            )
        lines += ["# TYPE app_info gauge"]
        for p, path in enumerate(_PATHS):
            lines.append(f'app_info{{path="{path}",version="1.{p}.0"}} 1')
        lines += ["# TYPE app_request_duration_seconds histogram"]
        for p, path in enumerate(_PATHS):
            cum = 0
            for b, le in enumerate(BUCKETS):
                # Cumulative counts grow per scrape, with a per-path, per-bucket shape.
                cum += n * ((b + p) % 4 + 2) + (n * (b + 1)) % 3
                lines.append(f'app_request_duration_seconds_bucket{{path="{path}",le="{le}"}} {cum}')
            lines.append(f'app_request_duration_seconds_sum{{path="{path}"}} {cum * (0.05 + p * 0.1):.6f}')
            lines.append(f'app_request_duration_seconds_count{{path="{path}"}} {cum}')
        return ("\n".join(lines) + "\n").encode()
