"""`heron server` as a real process: opens storage, stops cleanly on SIGTERM and SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_server_opens_storage_and_stops_on_signal(tmp_path, sig):
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "heron", "server", "--data-dir", str(data), "--log-format", "json"],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    lines = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if "storage open" in line:
            break
    assert any("storage open" in line for line in lines), lines
    assert (data / "wal").is_dir() and (data / "LOCK").exists()
    proc.send_signal(sig)
    rest = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=30) == 0, rest


def test_server_refuses_a_data_dir_in_use(tmp_path):
    from heron.storage import Database

    with Database.open(str(tmp_path / "d"), background=False):
        res = subprocess.run(
            [sys.executable, "-m", "heron", "server", "--data-dir", str(tmp_path / "d")],
            capture_output=True,
            text=True,
            timeout=30,
            env=dict(os.environ),
        )
    assert res.returncode == 1
    errors = [line for line in res.stderr.splitlines() if line.startswith("heron: ")]
    assert len(errors) == 1 and "in use by another process" in errors[0], res.stderr
