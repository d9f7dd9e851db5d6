"""The agent when its state dir (queue and checkpoints) is on a full disk, or when storage says
"not now": it pauses, keeps what it read, and resumes without losing or repeating a line."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Callable

import pytest

from heron.collect.logs.agent import AgentOptions, LogAgent
from heron.collect.logs.checkpoints import CheckpointStore
from heron.receive.loki_push import decode_push
from heron.ship.loki_client import PushOutcome, PushResult
from heron.ship.loki_encode import PROTOBUF_CONTENT_TYPE
from tmpfs import fill, small_tmpfs

T0 = time.time_ns() - 30 * 60 * 10**9


def cri(ts_ns: int, msg: str) -> bytes:
    sec, ns = divmod(ts_ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{ns:09d}Z stdout F {msg}\n".encode()


def log_file(tmp_path: Path, n: int) -> tuple[Path, list[bytes]]:
    cdir = tmp_path / "pods" / "prod_web_0a1b2c" / "app"
    cdir.mkdir(parents=True)
    msgs = [f"line {i:05d}" for i in range(n)]
    (cdir / "0.log").write_bytes(b"".join(cri(T0 + i * 1000, m) for i, m in enumerate(msgs)))
    return cdir / "0.log", [m.encode() for m in msgs]


def wait_for(predicate: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def lines_of(body: bytes) -> list[bytes]:
    return [bytes(line) for b in decode_push(body, PROTOBUF_CONTENT_TYPE) for line in b.lines]


def saved_offsets(state: Path) -> list[int]:
    path = state / "checkpoints.json"
    return [cp.offset for cp in CheckpointStore(path).load().values()] if path.exists() else []


class Agent:
    def __init__(self, tmp_path: Path, state: Path, send: Callable[[bytes], PushResult]):
        opts = AgentOptions(str(tmp_path / "pods"), str(state), "node-1", batch_wait=0.1, rescan_interval=1.0)
        self.agent = LogAgent(opts, send)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.agent.run, args=(self.stop,))
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


def test_a_full_state_dir_pauses_reading_and_loses_nothing(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "state", "1m") as state:
        path, expected = log_file(tmp_path, 300)
        got: list[bytes] = []

        def send(body: bytes) -> PushResult:
            got.extend(lines_of(body))
            return PushResult(PushOutcome.DELIVERED, 204, 1)

        filler = fill(state)
        agent = Agent(tmp_path, state, send)
        try:
            wait_for(lambda: agent.agent.put_failed, "a failed queue put")
            time.sleep(0.3)
            assert got == [] and agent.thread.is_alive()  # paused, not dead
            filler.unlink()
            wait_for(lambda: len(got) >= len(expected), "delivery after room came back")
            wait_for(lambda: saved_offsets(state) == [path.stat().st_size], "the checkpoint")
        finally:
            agent.close()
        assert Counter(got) == Counter(expected)


def test_a_checkpoint_save_on_a_full_disk_is_retried_without_sending_again(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "state", "1m") as state:
        path, expected = log_file(tmp_path, 200)
        bodies: list[bytes] = []
        filler: list[Path] = []

        def send(body: bytes) -> PushResult:
            bodies.append(body)
            if not filler:
                filler.append(fill(state))  # the disk fills while the batch is on its way
            return PushResult(PushOutcome.DELIVERED, 204, 1)

        agent = Agent(tmp_path, state, send)
        try:
            wait_for(lambda: bodies, "the first push")
            time.sleep(1.5)  # the checkpoint save and the queue ack fail, and are retried
            assert saved_offsets(state) == [] and not (state / "checkpoints.json.tmp").exists()
            filler[0].unlink()
            wait_for(lambda: saved_offsets(state) == [path.stat().st_size], "the checkpoint")
        finally:
            agent.close()
        got = [line for body in bodies for line in lines_of(body)]
        assert Counter(got) == Counter(expected)  # delivered once: the retry only saved state


def test_a_retry_outcome_keeps_the_batch_and_sends_it_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What `heron all`'s in-process sink answers on a full disk: not an error, a later retry."""
    path, expected = log_file(tmp_path, 50)
    state = tmp_path / "state"
    bodies: list[bytes] = []
    offsets_at_send: list[list[int]] = []

    def send(body: bytes) -> PushResult:
        bodies.append(body)
        offsets_at_send.append(saved_offsets(state))
        if len(bodies) <= 2:
            return PushResult(PushOutcome.RETRY, None, 1, "disk full", 0.2)
        return PushResult(PushOutcome.DELIVERED, 204, 1)

    with caplog.at_level(logging.WARNING, logger="heron.agent"):
        agent = Agent(tmp_path, state, send)
        try:
            wait_for(lambda: saved_offsets(state) == [path.stat().st_size], "the checkpoint")
        finally:
            agent.close()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert sum("sending it again later" in r.getMessage() for r in caplog.records) == 2
    assert len(bodies) == 3 and bodies[0] == bodies[1] == bodies[2]
    assert offsets_at_send == [[], [], []]  # nothing was checkpointed before the delivery
    assert Counter(lines_of(bodies[0])) == Counter(expected)
