"""A scriptable remote-write endpoint on 127.0.0.1 for the sender's tests: each request takes
the next action from a script (an HTTP status, `drop` to close without answering, or `hang`
to hold the request until released), and every request answered 2xx is decoded and kept."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

from heron.receive.remote_write import decode_write_request


class Peer:
    def __init__(self, script: list[int | str] | None = None, default: int | str = 204) -> None:
        self.script: list[int | str] = list(script or [])
        self.default = default
        self.lock = threading.Lock()
        self.samples: list[tuple[tuple[tuple[str, str], ...], int, float]] = []
        self.requests = 0
        self.headers: list[dict[str, str]] = []
        self.release = threading.Event()
        self.hanging = threading.Event()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with peer.lock:
                    peer.requests += 1
                    peer.headers.append({k.lower(): v for k, v in self.headers.items()})
                    action = peer.script.pop(0) if peer.script else peer.default
                if action == "hang":
                    peer.hanging.set()
                    peer.release.wait(30)
                    action = 503
                if action == "drop":
                    self.close_connection = True
                    return
                status = int(action)
                if 200 <= status < 300:
                    d = decode_write_request(
                        body,
                        self.headers.get("Content-Type", ""),
                        self.headers.get("Content-Encoding", ""),
                        1 << 26,
                    )
                    with peer.lock:
                        peer.samples += list(
                            zip(d.columns.labels, list(d.columns.timestamps), list(d.columns.values))  # type: ignore[arg-type]
                        )
                text = b"" if status == 204 else f"answer {status}\n".encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/v1/write"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "Peer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)

    def by_series(self) -> dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]:
        out: dict[tuple[tuple[str, str], ...], list[tuple[int, float]]] = {}
        with self.lock:
            for lab, t, v in self.samples:
                out.setdefault(lab, []).append((int(t), float(v)))
        return out


def iter_lines(text: str, name: str) -> Iterator[tuple[str, float]]:
    """(label text, value) of each sample line of `name` in a text exposition."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            head, value = line.rsplit(" ", 1)
            yield head[len(name) :], float(value)
