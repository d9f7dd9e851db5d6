"""The node agent's own HTTP endpoint: `/metrics`, `/-/healthy` and `/-/ready`.

Why: an agent in a DaemonSet needs probes, and its operators need to see whether it keeps up
(lines read, queue bytes, push retries and rejections, rotations, metadata health), as
Promtail's `/metrics` shows. The stdlib `ThreadingHTTPServer` is enough for a scrape every few
seconds and keeps Starlette and uvicorn out of the agent's 64 MiB budget. Every value is read
from the agent's own counters at scrape time, so the hot path pays nothing for it.

In `heron all` the same metrics go into the server's registry instead (`register_agent_metrics`).
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Callable, Iterable

from heron.config import split_host_port
from heron.logsetup import log_fields
from heron.selfmetrics import Gauge, Registry

if TYPE_CHECKING:
    from heron.collect.logs.agent import LogAgent
    from heron.ship.loki_client import LokiPushClient

__all__ = ["AgentHTTP", "register_agent_metrics"]

log = logging.getLogger("heron.agent")

Samples = Iterable[tuple[tuple[str, ...], float]]

# Tailer statistics exported as counters: (stats key, metric name, help).
_TAIL_COUNTERS = (
    ("bytes_read", "heron_agent_read_bytes_total", "bytes read from container log files"),
    ("rotations", "heron_agent_rotations_total", "kubelet rotations followed (rename and create)"),
    (
        "truncations",
        "heron_agent_truncations_total",
        "files found truncated (copytruncate), read again from 0",
    ),
    ("rewrites", "heron_agent_rewrites_total", "files rewritten in place, read again from 0"),
    ("inode_reuses", "heron_agent_inode_reuses_total", "inodes found reused by a new file"),
    (
        "copies_skipped",
        "heron_agent_copytruncate_copies_total",
        "copytruncate copies read only past the original",
    ),
    ("rescans", "heron_agent_rescans_total", "full rescans of the pods directory"),
    (
        "inotify_overflows",
        "heron_agent_inotify_overflows_total",
        "inotify queue overflows (a rescan follows)",
    ),
)
_TAIL_GAUGES = (
    ("files_open", "heron_agent_files_open", "log files held open"),
    ("files_tracked", "heron_agent_files_tracked", "log files known, open or finished"),
    ("containers", "heron_agent_containers", "container log directories tailed"),
)


def _one(read: Callable[[], float]) -> Callable[[], Samples]:
    return lambda: [((), float(read()))]


def register_agent_metrics(
    registry: Registry, agent: LogAgent, client: LokiPushClient | None = None, metadata: Any = None
) -> None:
    """Add the agent's metrics to `registry`; `client` (pushes) and `metadata` (a PodMetadata)
    when the agent has them."""

    def gauge(name: str, help: str, read: Callable[[], Samples], kind: str = "gauge") -> None:
        registry.register(Gauge(name, help, read, kind=kind))

    gauge(
        "heron_agent_lines_total",
        "log lines read and queued for shipping",
        _one(lambda: agent.lines_read),
        "counter",
    )
    gauge(
        "heron_agent_malformed_lines_total",
        "lines that were not valid CRI or docker lines, kept with heron_parse_error",
        _one(lambda: agent.malformed_lines),
        "counter",
    )
    gauge(
        "heron_agent_batches_shipped_total",
        "batches the server acknowledged",
        _one(lambda: agent.batches_shipped),
        "counter",
    )
    gauge("heron_agent_queue_bytes", "unacknowledged bytes in the on-disk queue", _one(agent.queue_bytes))
    gauge("heron_agent_queue_full", "1 while the queue is full and reading is paused", _one(agent.queue_full))
    for key, name, help in _TAIL_COUNTERS:
        gauge(name, help, _one(lambda key=key: agent.tail_stats.get(key, 0)), "counter")
    for key, name, help in _TAIL_GAUGES:
        gauge(name, help, _one(lambda key=key: agent.tail_stats.get(key, 0)))
    if client is not None:
        gauge(
            "heron_agent_push_retries_total",
            "push attempts retried (network errors, 5xx, 429)",
            _one(lambda: client.retries_total),
            "counter",
        )
        gauge(
            "heron_agent_push_rejected_total",
            "batches the server refused with a final 4xx (logged, not retried)",
            _one(lambda: client.rejected_total),
            "counter",
        )
    if metadata is not None:
        gauge("heron_agent_kube_up", "1 while the pod list/watch works", _one(lambda: metadata.healthy))
        gauge("heron_agent_kube_pods", "pods known from the Kubernetes API", _one(lambda: len(metadata)))


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._reply(200, self.server.registry.render(), "text/plain; version=0.0.4; charset=utf-8")
        elif path == "/-/healthy":
            self._reply(200, "healthy\n")
        elif path == "/-/ready":
            if self.server.ready():
                self._reply(200, "ready\n")
            else:
                self._reply(503, "agent is starting\n")
        else:
            self._reply(404, "not found: the agent serves /metrics, /-/healthy and /-/ready\n")

    def _reply(self, status: int, body: str, content_type: str = "text/plain; charset=utf-8") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return  # scrapes every few seconds would flood the agent's log


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], registry: Registry, ready: Callable[[], bool]) -> None:
        super().__init__(address, _Handler)
        self.registry = registry
        self.ready = ready


class AgentHTTP:
    """Serve the agent's endpoints on `listen` (`host:port`) from a background thread."""

    def __init__(self, listen: str, registry: Registry, ready: Callable[[], bool]) -> None:
        host, port = split_host_port(listen)
        self._server = _Server((host or "0.0.0.0", port), registry, ready)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="heron-agent-http", daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> AgentHTTP:
        self._thread.start()
        log.info(
            "agent endpoints listening",
            extra=log_fields(address=f"http://{self._server.server_address[0]}:{self.port}"),
        )
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
