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


@dataclass
class Peer:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def start_prometheus(tmp: Path, config: str, *flags: str, timeout: float = 30.0) -> Peer:
    """A real Prometheus with `config` (YAML text) and its own data dir under `tmp`, once ready."""
    assert shutil.which(PROMETHEUS), "prometheus is not installed: `make test` installs it from Debian"
    port = free_port()
    (tmp / "prometheus.yml").write_text(config)
    log = tmp / "prometheus.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'prom-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                *flags,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    peer = Peer(proc, f"http://127.0.0.1:{port}", log)
    try:
        wait_for(lambda: _ready(peer.url), timeout, "prometheus to be ready", peer)
    except BaseException:
        peer.stop()
        raise
    return peer


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/-/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(cond: Callable[[], bool], timeout: float, what: str, peer: Peer | None = None) -> None:
    """Poll `cond` every 0.2 s for at most `timeout` seconds; fail with the peer's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        if peer is not None and peer.proc.poll() is not None:
            break
        time.sleep(0.2)
    detail = f":\n{peer.log.read_text()[-4000:]}" if peer is not None else ""
    raise AssertionError(f"timed out waiting for {what}{detail}")


def instant_query(url: str, query: str) -> list[dict[str, object]]:
    r = httpx.get(url + "/api/v1/query", params={"query": query}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["data"]["result"]
