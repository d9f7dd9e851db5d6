"""`kill -9` of a process while its sender has a request in flight loses nothing that `submit`
had put into the durable queue: a new sender on the same directory delivers all of it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from rw_peer import Peer

from heron.promconfig.types import QueueConfig, RemoteWriteConfig
from heron.ship.remote_write import RemoteWriteSender

CHILD = r"""
import sys, time
import numpy as np
from heron.promconfig.types import QueueConfig, RemoteWriteConfig
from heron.ship.remote_write import RemoteWriteSender
from heron.storage import SampleColumns

cfg = RemoteWriteConfig(url=sys.argv[1], queue_config=QueueConfig(
    max_samples_per_send=10, batch_send_deadline=600, min_backoff=0.01, max_backoff=0.05))
sender = RemoteWriteSender(cfg, sys.argv[2])
sender.start()
for k in range(50):  # ten series a scrape: every submit fills one batch and queues it at once
    labels = [(("__name__", "m"), ("s", str(i))) for i in range(10)]
    ts = np.full(10, k * 1000, dtype=np.int64)
    sender.submit(SampleColumns(labels, ts, np.arange(10, dtype=np.float64) + k))
print("queued", flush=True)
time.sleep(120)
"""


def test_kill_9_mid_send_loses_nothing_queued(tmp_path: Path) -> None:
    qdir = tmp_path / "q"
    with Peer(["hang"], default=503) as hung:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, hung.url, str(qdir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            assert child.stdout is not None
            line = child.stdout.readline()
            assert line == b"queued\n", child.stderr.read() if child.stderr else b""
            assert hung.hanging.wait(30), "the child never sent"
            child.send_signal(signal.SIGKILL)
            assert child.wait(30) == -signal.SIGKILL
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(10)
            for stream in (child.stdout, child.stderr):
                if stream is not None:
                    stream.close()
    with Peer() as up:
        cfg = RemoteWriteConfig(url=up.url, queue_config=QueueConfig(min_backoff=0.01, max_backoff=0.05))
        sender = RemoteWriteSender(cfg, str(qdir))
        sender.start()
        deadline = time.monotonic() + 30
        while len(up.samples) < 500 and time.monotonic() < deadline:
            time.sleep(0.02)
        sender.stop(grace=5)
    got = up.by_series()
    assert len(got) == 10
    for i in range(10):
        samples = got[(("__name__", "m"), ("s", str(i)))]
        assert samples == [(k * 1000, float(i + k)) for k in range(50)]  # all, once each, in order
