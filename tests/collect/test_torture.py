"""The agent's torture test: fast writers, kubelet rotation with gzip, one copytruncate, and the
real `heron agent` killed with SIGKILL three times. Every line must reach the server exactly
once, in order.

What the writers model is the kubelet: `0.log` is renamed to `0.log.<YYYYMMDD-HHMMSS>` when it
passes a size and a new `0.log` is created; every rotated file but the newest is gzipped
(through a `.tmp`) and the oldest are deleted so at most five files remain. Writers also split
some long lines into `P` pieces, so parser state has to survive the kills too.

One limit is physical, not the agent's: a rotated file the kubelet gzips or deletes while the
agent is down is gone for any collector. The writers rotate about every 2-3 seconds and the
agent is down for well under a second each time, so this never happens here.
"""

from __future__ import annotations

import gzip
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from serverproc import start_server

CONTAINERS = 3
LINES = 60_000  # per container; about 10 MB each
LINES_PER_SECOND = 6_000  # per container
ROTATE_BYTES = 3 << 20
KEEP_FILES = 5
SPLIT_EVERY = 997  # every this many lines is written as three P/F pieces
T0 = time.time_ns() - 40 * 60 * 10**9


def stamp(ts_ns: int) -> str:
    sec, ns = divmod(ts_ns, 10**9)
    return datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{ns:09d}Z"


def message(c: int, i: int) -> str:
    pad = "x" * (80 + (i * 7919) % 160)
    return f'c{c} {i:07d} level=info msg="request served" path=/api/{i % 97} pad={pad}'


class KubeletWriter(threading.Thread):
    """One container writing CRI lines at a bounded rate, rotated the way the kubelet does."""

    def __init__(self, c: int, cdir: Path, copytruncate_at: int | None) -> None:
        super().__init__(name=f"writer-{c}")
        self.c, self.cdir, self.copytruncate_at = c, cdir, copytruncate_at
        self.rotations = 0
        self.clock = datetime(2024, 1, 1, tzinfo=UTC)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._write()
        except BaseException as e:  # noqa: BLE001 - reported by the test thread
            self.error = e

    def _rotated_name(self) -> Path:
        self.clock += timedelta(seconds=1)  # unique, increasing, as real rotation times are
        return self.cdir / f"0.log.{self.clock:%Y%m%d-%H%M%S}"

    def _rotate(self) -> None:
        os.rename(self.cdir / "0.log", self._rotated_name())
        self.rotations += 1
        self._compress_and_trim()

    def _compress_and_trim(self) -> None:
        rotated = sorted(p for p in self.cdir.iterdir() if p.name.startswith("0.log.") and p.suffix != ".tmp")
        plain = [p for p in rotated if not p.name.endswith(".gz")]
        for p in plain[:-1]:  # the kubelet keeps only the newest rotated file uncompressed
            tmp = p.with_name(p.name + ".gz.tmp")
            with open(p, "rb") as src, gzip.open(tmp, "wb", compresslevel=1) as dst:
                shutil.copyfileobj(src, dst)
            os.rename(tmp, p.with_name(p.name + ".gz"))
            os.unlink(p)
        rotated = sorted(p for p in self.cdir.iterdir() if p.name.startswith("0.log."))
        for p in rotated[: max(0, len(rotated) - (KEEP_FILES - 1))]:
            os.unlink(p)

    def _write(self) -> None:
        path = self.cdir / "0.log"
        f = open(path, "ab")
        started = time.monotonic()
        i = 0
        try:
            while i < LINES:
                chunk: list[str] = []
                for j in range(i, min(i + 200, LINES)):
                    ts = T0 + j * 10_000
                    msg = message(self.c, j)
                    if j % SPLIT_EVERY == 0:
                        a, b = len(msg) // 3, 2 * len(msg) // 3
                        chunk.append(f"{stamp(ts)} stdout P {msg[:a]}\n")
                        chunk.append(f"{stamp(ts + 1)} stdout P {msg[a:b]}\n")
                        chunk.append(f"{stamp(ts + 2)} stdout F {msg[b:]}\n")
                    else:
                        chunk.append(f"{stamp(ts)} stdout F {msg}\n")
                f.write("".join(chunk).encode())
                f.flush()
                i += len(range(i, min(i + 200, LINES)))
                if self.copytruncate_at is not None and i >= self.copytruncate_at:
                    shutil.copyfile(path, self._rotated_name())  # logrotate's copytruncate
                    os.truncate(path, 0)
                    self.copytruncate_at = None
                elif f.tell() >= ROTATE_BYTES:
                    f.close()
                    self._rotate()
                    f = open(path, "ab")
                ahead = i / LINES_PER_SECOND - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        finally:
            f.close()


def start_agent(pods: Path, state: Path, url: str, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "heron",
                "agent",
                "--pods-dir",
                str(pods),
                "--state-dir",
                str(state),
                "--server",
                url,
                "--kube",
                "none",
                "--node-name",
                "torture",
                "--agent-listen",
                "",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def counts(url: str) -> dict[str, int]:
    r = httpx.get(
        url + "/loki/api/v1/query",
        params={"query": 'sum by (pod) (count_over_time({node="torture"}[2h]))'},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return {s["metric"]["pod"]: int(s["value"][1]) for s in r.json()["data"]["result"]}


def lines_of(url: str, pod: str) -> list[str]:
    r = httpx.get(
        url + "/loki/api/v1/query_range",
        params={"query": f'{{pod="{pod}"}}', "since": "2h", "limit": str(LINES + 1), "direction": "forward"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    streams = r.json()["data"]["result"]
    assert len(streams) == 1, [s["stream"] for s in streams]
    return [v[1] for v in streams[0]["values"]]


def test_every_line_exactly_once_through_rotation_truncation_and_three_sigkills(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", "--max-entries-per-query", str(LINES + 1))
    pods, state, agent_log = tmp_path / "pods", tmp_path / "state", tmp_path / "agent.log"
    writers = []
    for c in range(CONTAINERS):
        cdir = pods / f"torture_pod{c}_uid{c}" / "app"
        cdir.mkdir(parents=True)
        (cdir / "0.log").touch()
        writers.append(KubeletWriter(c, cdir, copytruncate_at=LINES // 2 if c == 0 else None))
    rng = random.Random(7)
    agent = start_agent(pods, state, server.url, agent_log)
    try:
        for w in writers:
            w.start()
        kills = 0
        while kills < 3:
            time.sleep(rng.uniform(1.0, 3.0))
            agent.send_signal(signal.SIGKILL)
            assert agent.wait(timeout=30) == -signal.SIGKILL
            kills += 1
            agent = start_agent(pods, state, server.url, agent_log)
        for w in writers:
            w.join(timeout=120)
            assert not w.is_alive() and w.error is None, w.error
        deadline = time.monotonic() + 90
        expected = {f"pod{c}": LINES for c in range(CONTAINERS)}
        while counts(server.url) != expected and time.monotonic() < deadline:
            time.sleep(0.5)
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=60) == 0

        assert all(w.rotations >= 2 for w in writers), [w.rotations for w in writers]
        assert any(p.name.endswith(".gz") for p in pods.rglob("*")), "the kubelet model never gzipped"
        for c in range(CONTAINERS):
            got = lines_of(server.url, f"pod{c}")
            want = [message(c, i) for i in range(LINES)]
            missing = Counter(want) - Counter(got)
            extra = Counter(got) - Counter(want)
            assert not missing and not extra, (
                f"pod{c}: {sum(missing.values())} missing (e.g. {sorted(missing)[:3]}), "
                f"{sum(extra.values())} extra (e.g. {sorted(extra)[:3]})"
            )
            assert got == want  # and in the order written
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
        for w in writers:
            w.join(timeout=120)
        assert server.stop() == 0
