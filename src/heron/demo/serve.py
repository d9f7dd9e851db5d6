"""A tiny HTTP server on 127.0.0.1 answering a few GET paths with Prometheus text: what each
simulated pod and the simulated kubelet expose for the demo's agent to scrape.

Each server has its own port (the fake API tells the agent where), its own thread, and stops
completely (socket closed, thread joined), so a pod that goes away leaves nothing behind and
its target goes down the way a deleted pod's would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["MetricsServer", "TEXT_CONTENT_TYPE"]

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Render = Callable[[], bytes]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, routes: Mapping[str, Render], bearer_token: str | None) -> None:
        self.routes = dict(routes)
        self.bearer_token = bearer_token
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return None  # a scrape every few seconds per pod would drown the demo's own output

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        render = self.server.routes.get(self.path.split("?", 1)[0])
        token = self.server.bearer_token
        if token is not None and self.headers.get("Authorization") != f"Bearer {token}":
            body = b"Unauthorized\n"  # what a kubelet answers a scrape without the token
            self.send_response(401)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
        elif render is None:
            body = b"404 page not found\n"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
        else:
            body = render()
            self.send_response(200)
            self.send_header("Content-Type", TEXT_CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class MetricsServer:
    """Serves `routes` (path -> a function rendering the body) on a free 127.0.0.1 port; with
    `bearer_token`, only to requests that carry it (401 otherwise)."""

    def __init__(self, routes: Mapping[str, Render], *, bearer_token: str | None = None) -> None:
        self._server = _Server(routes, bearer_token)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> MetricsServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.5},
            name="heron-demo-metrics",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
