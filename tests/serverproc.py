"""Start a real `heron server` process on 127.0.0.1; shared by every test that needs one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerProc:
    proc: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    log_path: Path

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=60)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(data_dir: Path, *flags: str, wait_ready: bool = True, port: int | None = None) -> ServerProc:
    port = port or free_port()
    log_path = data_dir.parent / f"server-{port}.log"
    log_file = open(log_path, "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "heron",
            "server",
            "--data-dir",
            str(data_dir),
            "--listen",
            f"127.0.0.1:{port}",
            *flags,
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=dict(os.environ),
    )
    log_file.close()
    server = ServerProc(proc, f"http://127.0.0.1:{port}", data_dir, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{server.log()}")
        try:
            r = httpx.get(server.url + ("/-/ready" if wait_ready else "/-/healthy"), timeout=2)
            if r.status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"server did not become ready:\n{server.log()}")


def peak_rss(pid: int) -> int:
    """Peak resident set size of a process, in bytes (VmHWM from /proc/<pid>/status): what
    the memory-bound tests judge a bomb by."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")
