"""A real HTTP(S) scrape target on 127.0.0.1 for the scraper's tests: `http.server` threads
serving whatever body, status, Content-Type, delay and encoding the test sets, and recording
each request's path and headers."""

from __future__ import annotations

import gzip
import http.server
import ssl
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Response:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/plain; version=0.0.4; charset=utf-8"
    delay: float = 0.0  # seconds before answering
    gzip: bool = False  # compress when the client accepts gzip
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    start: float = 0.0  # time.monotonic() when it arrived
    end: float = 0.0  # and when its answer was written


class Target:
    """`target.response` may be replaced at any time; `target.paths` answers some paths (without
    the query) differently; `target.requests` lists what arrived."""

    def __init__(self, response: Response | None = None, ssl_context: ssl.SSLContext | None = None):
        self.response = response or Response()
        self.paths: dict[str, Response] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                req = Request(self.path, {k: v for k, v in self.headers.items()}, time.monotonic())
                with owner._lock:
                    owner.requests.append(req)
                    r = owner.paths.get(self.path.split("?", 1)[0], owner.response)
                if r.delay:
                    time.sleep(r.delay)
                body = r.body
                encoded = r.gzip and "gzip" in self.headers.get("Accept-Encoding", "")
                if encoded:
                    body = gzip.compress(body)
                try:
                    self.send_response(r.status)
                    self.send_header("Content-Type", r.content_type)
                    self.send_header("Content-Length", str(len(body)))
                    if encoded:
                        self.send_header("Content-Encoding", "gzip")
                    for k, v in r.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the scraper gave up (timeout, size limit): fine
                req.end = time.monotonic()

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if ssl_context is not None:
            self.server.socket = ssl_context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
