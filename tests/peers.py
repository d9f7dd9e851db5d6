"""The real Debian peers the tests compare against, started on 127.0.0.1 with free ports.

`make test` installs them, so a missing binary fails the test loudly instead of skipping it:
a suite that silently skipped its comparisons would prove nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from serverproc import free_port

PROMETHEUS = "/usr/bin/prometheus"
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"


@dataclass
class Peer:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def address(self) -> str:
        """host:port, as a scrape config's `targets` names it."""
        return self.url.removeprefix("http://")

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def _start(
    exe: str, name: str, tmp: Path, args: Callable[[int], list[str]], ready: str, timeout: float
) -> Peer:
    """Run `exe` with `args(port)` on a free port, logging to `tmp/<name>.log`, and wait until
    GET `ready` answers 200; a peer that never does is stopped and fails the test."""
    assert shutil.which(exe), f"{exe} is not installed: `make test` installs it from Debian"
    port = free_port()
    log = tmp / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([exe, *args(port)], stdout=out, stderr=subprocess.STDOUT)
    peer = Peer(proc, f"http://127.0.0.1:{port}", log)
    try:
        wait_for(lambda: _ok(peer.url + ready), timeout, f"{name} to be ready", peer)
    except BaseException:
        peer.stop()
        raise
    return peer


def start_prometheus(tmp: Path, config: str | Path, *flags: str, timeout: float = 30.0) -> Peer:
    """A real Prometheus with `config` (YAML text, written to `tmp/prometheus.yml`, or a file
    used where it is, so relative file_sd paths resolve beside it) and its own data dir under
    `tmp`, once ready."""
    if isinstance(config, str):
        (tmp / "prometheus.yml").write_text(config)
        config = tmp / "prometheus.yml"

    def args(port: int) -> list[str]:
        return [
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            *flags,
        ]

    return _start(PROMETHEUS, "prometheus", tmp, args, "/-/ready", timeout)


def start_node_exporter(tmp: Path, collectors: tuple[str, ...] = (), timeout: float = 30.0) -> Peer:
    """A real prometheus-node-exporter, once it serves /metrics; with `collectors`, only those
    run (the defaults are off), so a test can pick ones whose series set stays put."""

    def args(port: int) -> list[str]:
        only = ["--collector.disable-defaults", *(f"--collector.{c}" for c in collectors)]
        return [f"--web.listen-address=127.0.0.1:{port}", *(only if collectors else [])]

    return _start(NODE_EXPORTER, "node-exporter", tmp, args, "/metrics", timeout)


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(
    cond: Callable[[], bool],
    timeout: float,
    what: str,
    peer: Peer | None = None,
    retry_on: tuple[type[Exception], ...] = (httpx.TransportError,),
) -> None:
    """Poll `cond` every 0.2 s for at most `timeout` seconds; fail with the peer's log. An
    exception of a `retry_on` type (a peer not listening yet) counts as not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cond():
                return
        except retry_on:
            pass
        if peer is not None and peer.proc.poll() is not None:
            break
        time.sleep(0.2)
    detail = f":\n{peer.log.read_text()[-4000:]}" if peer is not None else ""
    raise AssertionError(f"timed out waiting for {what}{detail}")


def instant_query(url: str, query: str) -> list[dict[str, object]]:
    r = httpx.get(url + "/api/v1/query", params={"query": query}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["data"]["result"]
