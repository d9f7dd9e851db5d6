"""The log agent's loop: tail -> parse -> label -> durable queue -> ship -> acknowledged checkpoint.

Two threads. The reader tails files, parses whole lines, labels entries and puts push bodies
into the durable queue; when the queue is full it stops reading (backpressure, nothing is
dropped). The shipper sends the oldest queued body until the server gives a final answer, then
acknowledges it and advances the checkpoints recorded with it, so a checkpoint never covers a
line the server has not acknowledged. After `kill -9` the agent resumes from the checkpoints and
the queue re-sends what was not acknowledged: at least once, and the server's duplicate check
turns that into exactly once.

A queue record is `<JSON header>\\n<push body>`: the header maps each file key to the offset
and parser state that the body brings it to.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Callable

from heron.collect.logs.checkpoints import Checkpoint, CheckpointStore, FileIdentity
from heron.collect.logs.formats import LineParser
from heron.collect.logs.tail import FileId, PodLogPath, Tailer
from heron.logsetup import log_fields
from heron.model import labels_from
from heron.ship.loki_client import PushOutcome, PushResult
from heron.ship.loki_encode import encode_push_request
from heron.ship.queue import DurableQueue
from heron.storage import LogBatch

__all__ = ["AgentOptions", "LogAgent", "MALFORMED_LABEL"]

log = logging.getLogger("heron.agent")

MALFORMED_LABEL = "heron_parse_error"


@dataclass(frozen=True)
class AgentOptions:
    pods_dir: str
    state_dir: str
    node_name: str
    batch_lines: int = 5000
    batch_wait: float = 1.0
    queue_bytes: int = 64 * 1024 * 1024
    rescan_interval: float = 10.0
    start_at: str = "beginning"


class LogAgent:
    def __init__(
        self,
        opts: AgentOptions,
        send: Callable[[bytes], PushResult],
        labels_for: Callable[[PodLogPath], dict[str, str] | None] | None = None,
    ):
        """`send` pushes one body (e.g. `LokiPushClient.push`); `labels_for` returns extra
        stream labels for a pod (from its metadata), or None to skip the pod (excluded)."""
        self.opts = opts
        self.send = send
        self.labels_for = labels_for
        os.makedirs(opts.state_dir, exist_ok=True)
        self.store = CheckpointStore(os.path.join(opts.state_dir, "checkpoints.json"))
        self.queue = DurableQueue(os.path.join(opts.state_dir, "queue"), opts.queue_bytes)
        self.checkpoints: dict[str, Checkpoint] = self.store.load()
        self._ck_lock = threading.Lock()
        self._live_keys: frozenset[str] | None = None  # files the tailer still tracks
        self.lines_read = 0
        self.batches_shipped = 0

    # -- reader ------------------------------------------------------------------------------
    def _resume(self) -> tuple[dict[FileId, int], dict[str, LineParser]]:
        resume: dict[FileId, int] = {}
        parsers: dict[str, LineParser] = {}
        for key, cp in self.checkpoints.items():
            try:
                fid = FileId.from_key(key)
            except ValueError:
                continue
            resume[fid] = cp.offset
            parsers[key] = LineParser.from_state(cp.parser_state)
        return resume, parsers

    def _stream_labels(self, info: PodLogPath, stream: str, malformed: bool) -> dict[str, str] | None:
        labels = {
            "namespace": info.namespace,
            "pod": info.pod,
            "container": info.container,
            "node": self.opts.node_name,
        }
        if self.labels_for is not None:
            extra = self.labels_for(info)
            if extra is None:
                return None
            labels.update(extra)
        if stream:
            labels["stream"] = stream
        if malformed:
            labels[MALFORMED_LABEL] = "true"
        return labels

    def run_reader(self, stop: threading.Event) -> None:
        resume, parsers = self._resume()
        pending: dict[tuple[tuple[str, str], ...], tuple[list[int], list[bytes]]] = {}
        positions: dict[str, tuple[int, dict, FileId, str]] = {}
        count = 0
        started = time.monotonic()
        with Tailer(
            self.opts.pods_dir,
            rescan_interval=self.opts.rescan_interval,
            resume=resume,
            start_at=self.opts.start_at,  # type: ignore[arg-type]
        ) as tailer:
            while not stop.is_set():
                if self.queue.full:
                    stop.wait(0.05)  # backpressure: the shipper must catch up first
                    continue
                reads = tailer.poll()
                self._live_keys = frozenset(fid.key for fid in tailer.positions())
                now = time.time_ns()
                for r in reads:
                    key = r.file_id.key
                    parser = parsers.get(key)
                    if parser is None:
                        parser = parsers[key] = LineParser()
                    entries, consumed = parser.feed(r.data, now, final=r.partial)
                    positions[key] = (r.offset + consumed, parser.state(), r.file_id, r.path)
                    for e in entries:
                        labels = self._stream_labels(r.info, e.stream, e.malformed)
                        if labels is None:
                            continue
                        lk = tuple(sorted(labels.items()))
                        got = pending.get(lk)
                        if got is None:
                            got = pending[lk] = ([], [])
                        got[0].append(e.ts_ns)
                        got[1].append(e.line)
                        count += 1
                if count >= self.opts.batch_lines or (
                    positions and time.monotonic() - started >= self.opts.batch_wait
                ):
                    self._enqueue(pending, positions)
                    self.lines_read += count
                    pending, positions, count = {}, {}, 0
                    started = time.monotonic()
                if not reads:
                    tailer.wait(min(0.2, self.opts.batch_wait))
            if positions:
                self._enqueue(pending, positions)
                self.lines_read += count

    def _enqueue(
        self,
        pending: dict[tuple[tuple[str, str], ...], tuple[list[int], list[bytes]]],
        positions: dict[str, tuple[int, dict, FileId, str]],
    ) -> None:
        header = {
            key: {
                "offset": off,
                "state": state,
                "dev": fid.dev,
                "inode": fid.inode,
                "fp": fid.fingerprint,
                "fp_len": fid.fp_len,
                "path": path,
            }
            for key, (off, state, fid, path) in positions.items()
        }
        batches = [LogBatch(labels_from(dict(lk)), ts, lines) for lk, (ts, lines) in pending.items()]
        body = encode_push_request(batches) if batches else b""
        self.queue.put(json.dumps(header, separators=(",", ":")).encode() + b"\n" + body)

    # -- shipper -----------------------------------------------------------------------------
    def run_shipper(self, stop: threading.Event) -> None:
        while True:
            item = self.queue.peek()
            if item is None:
                if stop.is_set():
                    return
                stop.wait(0.05)
                continue
            seq, record = item
            nl = record.index(b"\n")
            header = json.loads(record[:nl])
            body = record[nl + 1 :]
            if body:
                result = self.send(body)
                if result.outcome is PushOutcome.STOPPED:
                    return
                if result.outcome is PushOutcome.REJECTED:
                    log.error("batch rejected by the server", extra=log_fields(status=result.status))
            self._advance(header)
            self.queue.ack(seq)
            self.batches_shipped += 1

    def _advance(self, header: dict) -> None:
        with self._ck_lock:
            for key, h in header.items():
                identity = FileIdentity(h["dev"], h["inode"], h["fp"], h["fp_len"])
                self.checkpoints[key] = Checkpoint(identity, h["path"], h["offset"], h["state"])
            tracked = self._live_keys
            if tracked is not None:
                # Files the tailer let go of (rotated away and deleted) need no checkpoint.
                self.checkpoints = {k: v for k, v in self.checkpoints.items() if k in tracked or k in header}
            self.store.save(self.checkpoints)

    def run(self, stop: threading.Event) -> None:
        """Reader in this thread, shipper in another, until `stop` is set; then drain."""
        done = threading.Event()
        shipper = threading.Thread(target=self.run_shipper, args=(done,), name="heron-agent-ship")
        shipper.start()
        try:
            self.run_reader(stop)
        finally:
            done.set()
            shipper.join()
            self.queue.close()
