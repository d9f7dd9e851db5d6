"""The log agent's loop: tail -> parse -> label -> durable queue -> ship -> acknowledged checkpoint.

Two threads. The reader tails files, parses whole lines, labels entries and puts push bodies
into the durable queue; when the queue is full it stops reading (backpressure, nothing is
dropped). The shipper sends the oldest queued body until the server gives a final answer, then
acknowledges it and advances the checkpoints recorded with it, so a checkpoint never covers a
line the server has not acknowledged. After `kill -9` the agent resumes from the checkpoints and
the queue re-sends what was not acknowledged: at least once, and the server's duplicate check
turns that into exactly once.

Reads are parsed (`LineParser.feed_spans`) and encoded per stream as they arrive, so a batch
holds protobuf bytes, not entries. Pods annotated `heron.io/multiline` go through a joiner per
file whose held lines are checkpointed with the parser state.

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
from typing import Any, Callable

import numpy as np

from heron.collect.logs.checkpoints import Checkpoint, CheckpointStore, FileIdentity
from heron.collect.logs.formats import SPANS_MIN_LINES, Entry, LineParser, Spans
from heron.collect.logs.multiline import MultilineJoiner, MultilineRule, held_entries
from heron.collect.logs.tail import FileId, PodLogPath, Read, Tailer, parse_log_path
from heron.logsetup import log_fields
from heron.memtune import trimmer
from heron.model import format_labels, labels_from
from heron.ship.loki_client import PushOutcome, PushResult
from heron.ship.loki_encode import encode_entries, encode_span_entries, encode_streams
from heron.ship.queue import DurableQueue

__all__ = ["AgentOptions", "LogAgent", "MALFORMED_LABEL"]

log = logging.getLogger("heron.agent")

TRIM_INTERVAL = 5.0  # seconds between returns of freed heap memory to the OS
# Least time between polls that found data: each poll has a fixed cost (a stat per file of every
# container written to, a numpy-free parse, a batch check), so with hundreds of files trickling
# lines, polling on every inotify event would cost more than the lines do.
POLL_COALESCE = 0.05
# While the state dir's disk is full, a failed queue put or checkpoint save is tried again this
# often; reading pauses meanwhile (what was read stays in memory, nothing is dropped).
DISK_RETRY_SECONDS = 1.0


MALFORMED_LABEL = "heron_parse_error"


@dataclass(frozen=True)
class AgentOptions:
    pods_dir: str
    state_dir: str
    node_name: str
    batch_lines: int = 5000
    batch_bytes: int = 1024 * 1024  # of encoded entries, before compression
    batch_wait: float = 1.0
    # What one poll may read: small enough that catching up on many files does not hold tens of
    # MiB at once (the allocator keeps a high-water mark), large enough for 100 MB/s.
    read_bytes: int = 512 * 1024
    poll_bytes: int = 1024 * 1024
    queue_bytes: int = 256 * 1024 * 1024  # the agent_queue_size setting's default
    rescan_interval: float = 10.0
    start_at: str = "beginning"
    multiline_flush: float = 1.0  # seconds without a new line before a held entry goes out
    multiline_max_bytes: int = 256 * 1024


class _Batch:
    """What the reader gathered since the last enqueue: encoded entries per stream, and where
    each file's checkpoint moves once the server has them."""

    __slots__ = ("streams", "positions", "lines", "bytes", "started")

    def __init__(self) -> None:
        self.streams: dict[str, list[bytes]] = {}  # label text -> encoded entry blobs
        self.positions: dict[str, tuple[int, dict, FileId, str]] = {}
        self.lines = 0
        self.bytes = 0
        self.started = time.monotonic()

    def add(self, labels: str, blob: bytes, lines: int) -> None:
        got = self.streams.get(labels)
        if got is None:
            self.streams[labels] = [blob]
        else:
            got.append(blob)
        self.lines += lines
        self.bytes += len(blob)


class LogAgent:
    def __init__(
        self,
        opts: AgentOptions,
        send: Callable[[bytes], PushResult],
        labels_for: Callable[[PodLogPath], dict[str, str] | None] | None = None,
        multiline_for: Callable[[PodLogPath], MultilineRule | None] | None = None,
    ):
        """`send` pushes one body (e.g. `LokiPushClient.push`); `labels_for` returns extra
        stream labels for a pod (from its metadata), or None to skip the pod (excluded);
        `multiline_for` returns the pod's multi-line rule, if it has one."""
        self.opts = opts
        self.send = send
        self.labels_for = labels_for
        self.multiline_for = multiline_for
        os.makedirs(opts.state_dir, exist_ok=True)
        self.store = CheckpointStore(os.path.join(opts.state_dir, "checkpoints.json"))
        self.queue = DurableQueue(os.path.join(opts.state_dir, "queue"), opts.queue_bytes)
        self.checkpoints: dict[str, Checkpoint] = self.store.load()
        self._ck_lock = threading.Lock()
        self._live_keys: frozenset[str] | None = None  # files the tailer still tracks
        self._parsers: dict[str, LineParser] = {}
        self._joiners: dict[str, MultilineJoiner] = {}
        self._saved_multiline: dict[str, dict] = {}  # checkpointed joiner state, until the rule is known
        self._files: dict[str, tuple[int, FileId, str, PodLogPath]] = {}  # key -> offset, id, path, info
        self.lines_read = 0
        self.malformed_lines = 0
        self.batches_shipped = 0
        self.reading = False  # the reader loop runs (readiness)
        self.put_failed = False  # the last queue put failed (a full disk): reading is paused
        self.tail_stats: dict[str, int | bool] = {}  # the tailer's, refreshed about once a second

    def queue_bytes(self) -> int:
        """Unacknowledged bytes in the on-disk queue (for metrics; any thread)."""
        return self.queue.unacked_bytes

    def queue_full(self) -> bool:
        return self.queue.full

    # -- reader ------------------------------------------------------------------------------
    def _resume(self) -> dict[FileId, int]:
        resume: dict[FileId, int] = {}
        for key, cp in self.checkpoints.items():
            try:
                fid = FileId.from_key(key)
                parser = LineParser.from_state(cp.parser_state)
            except ValueError as e:
                log.warning("ignoring unreadable checkpoint", extra=log_fields(key=key, error=str(e)))
                continue
            resume[fid] = cp.offset
            self._parsers[key] = parser
            saved = cp.parser_state.get("multiline")
            if saved:
                self._saved_multiline[key] = saved
        return resume

    def _stream_labels(self, info: PodLogPath, stream: str, malformed: bool) -> str | None:
        """The stream's label text, or None when the pod is excluded."""
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
        return format_labels(labels_from(labels))

    def _joiner(self, key: str, info: PodLogPath) -> MultilineJoiner | None:
        joiner = self._joiners.get(key)
        if joiner is None and self.multiline_for is not None:
            rule = self.multiline_for(info)
            if rule is not None:
                saved = self._saved_multiline.pop(key, {})
                try:
                    joiner = MultilineJoiner.from_state(rule, saved, **self._joiner_options())
                except ValueError as e:
                    log.warning(
                        "dropping unreadable multi-line state", extra=log_fields(key=key, error=str(e))
                    )
                    joiner = MultilineJoiner(rule, **self._joiner_options())
                self._joiners[key] = joiner
        return joiner

    def _joiner_options(self) -> dict[str, Any]:
        return {"flush_after": self.opts.multiline_flush, "max_bytes": self.opts.multiline_max_bytes}

    def _state(self, key: str) -> dict:
        state = self._parsers[key].state()
        joiner = self._joiners.get(key)
        if joiner is not None and joiner.has_pending:
            state["multiline"] = joiner.state()
        return state

    def _add_entries(self, batch: _Batch, info: PodLogPath, entries: list[Entry]) -> None:
        groups: dict[tuple[str, bool], tuple[list[int], list[bytes]]] = {}
        for e in entries:
            got = groups.get((e.stream, e.malformed))
            if got is None:
                got = groups[(e.stream, e.malformed)] = ([], [])
            got[0].append(e.ts_ns)
            got[1].append(e.line)
        for (stream, malformed), (ts, lines) in groups.items():
            if malformed:
                self.malformed_lines += len(lines)
            labels = self._stream_labels(info, stream, malformed)
            if labels is not None:
                batch.add(labels, encode_entries(ts, lines), len(lines))

    def _add_spans(self, batch: _Batch, info: PodLogPath, spans: Spans) -> None:
        if len(spans) < SPANS_MIN_LINES:  # a few lines between slow ones: numpy would cost more
            self._add_entries(batch, info, spans.entries())
            return
        n_err = int(np.count_nonzero(spans.stderr))
        for stream, count in (("stdout", len(spans) - n_err), ("stderr", n_err)):
            if not count:
                continue
            labels = self._stream_labels(info, stream, False)
            if labels is None:
                continue
            if count == len(spans):
                blob = encode_span_entries(spans.buf, spans.ts, spans.start, spans.end)
            else:
                m = spans.stderr if stream == "stderr" else ~spans.stderr
                blob = encode_span_entries(spans.buf, spans.ts[m], spans.start[m], spans.end[m])
            batch.add(labels, blob, count)

    def _take(self, batch: _Batch, r: Read, now_ns: int) -> None:
        key = r.file_id.key
        parser = self._parsers.get(key)
        if parser is None:
            parser = self._parsers[key] = LineParser()
        segments, consumed = parser.feed_spans(r.data, now_ns, final=r.partial)
        joiner = self._joiner(key, r.info)
        if joiner is not None:
            entries: list[Entry] = []
            for seg in segments:
                entries.extend(seg.entries() if isinstance(seg, Spans) else seg)
            self._add_entries(batch, r.info, joiner.feed(entries, time.monotonic()))
        else:
            for seg in segments:
                if isinstance(seg, Spans):
                    self._add_spans(batch, r.info, seg)
                else:
                    self._add_entries(batch, r.info, seg)
        offset = r.offset + consumed
        self._files[key] = (offset, r.file_id, r.path, r.info)
        batch.positions[key] = (offset, self._state(key), r.file_id, r.path)

    def _flush_multiline(self, batch: _Batch) -> None:
        """Emit joined entries whose flush timeout passed, even when their file is quiet."""
        now = time.monotonic()
        for key, joiner in self._joiners.items():
            deadline = joiner.next_deadline()
            if deadline is None or deadline > now or key not in self._files:
                continue
            offset, fid, path, info = self._files[key]
            self._add_entries(batch, info, joiner.flush_expired(now))
            batch.positions[key] = (offset, self._state(key), fid, path)

    def _flush_orphans(self, batch: _Batch) -> None:
        """Ship what checkpointed joiners held for files that had nothing more to read.

        A joiner is restored when its file is next read; a file that ended (its container
        exited, it was rotated away) is never read again, and its held trace would be lost.
        Called once everything readable was read after a restart.
        """
        for key, saved in list(self._saved_multiline.items()):
            del self._saved_multiline[key]
            try:
                entries = held_entries(saved)
            except ValueError as e:
                log.warning("dropping unreadable multi-line state", extra=log_fields(key=key, error=str(e)))
                continue
            if key in self._files:  # read since the restart, but the pod has no rule (yet)
                offset, fid, path, info = self._files[key]
                self._add_entries(batch, info, entries)
                batch.positions[key] = (offset, self._state(key), fid, path)
                continue
            cp = self.checkpoints.get(key)
            info = parse_log_path(cp.path) if cp is not None else None
            if cp is None or info is None:
                continue
            self._add_entries(batch, info, entries)
            parser = self._parsers.get(key)
            state = parser.state() if parser is not None else {}
            batch.positions[key] = (cp.offset, state, FileId.from_key(key), cp.path)

    def _next_wake(self) -> float:
        wait = min(0.2, self.opts.batch_wait)
        now = time.monotonic()
        for joiner in self._joiners.values():
            deadline = joiner.next_deadline()
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - now))
        return wait

    def run_reader(self, stop: threading.Event) -> None:
        resume = self._resume()
        batch = _Batch()
        opts = self.opts
        trim = trimmer()
        trimmed = time.monotonic()
        with Tailer(
            opts.pods_dir,
            rescan_interval=opts.rescan_interval,
            resume=resume,
            start_at=opts.start_at,  # type: ignore[arg-type]
            read_size=opts.read_bytes,
            max_poll_bytes=opts.poll_bytes,
        ) as tailer:
            self.reading = True
            stats_at = 0.0
            while not stop.is_set():
                if time.monotonic() - stats_at >= 1.0:
                    self.tail_stats = tailer.stats()  # read by the metrics thread
                    stats_at = time.monotonic()
                if self.queue.full:
                    stop.wait(0.05)  # backpressure: the shipper must catch up first
                    continue
                if self.put_failed:
                    # The state dir is full: read nothing more until the held batch is queued.
                    stop.wait(DISK_RETRY_SECONDS)
                    batch = self._enqueue(batch, tailer)
                    continue
                polled = time.monotonic()
                reads = tailer.poll()
                now = time.time_ns()
                for r in reads:
                    self._take(batch, r, now)
                    if batch.lines >= opts.batch_lines or batch.bytes >= opts.batch_bytes:
                        batch = self._enqueue(batch, tailer)
                if self._joiners:
                    self._flush_multiline(batch)
                if self._saved_multiline and not tailer.backlog:
                    self._flush_orphans(batch)
                if batch.positions and time.monotonic() - batch.started >= opts.batch_wait:
                    batch = self._enqueue(batch, tailer)
                if trim is not None and time.monotonic() - trimmed >= TRIM_INTERVAL:
                    trim()
                    trimmed = time.monotonic()
                if tailer.backlog:
                    continue
                if reads:
                    stop.wait(max(0.0, POLL_COALESCE - (time.monotonic() - polled)))
                    continue
                tailer.wait(self._next_wake())
            for key, joiner in self._joiners.items():  # stopping: what is held is complete enough
                if joiner.has_pending and key in self._files:
                    offset, fid, path, info = self._files[key]
                    self._add_entries(batch, info, joiner.flush())
                    batch.positions[key] = (offset, self._state(key), fid, path)
            if batch.positions:
                self._enqueue(batch, tailer)
            self.tail_stats = tailer.stats()
            self.reading = False

    def _enqueue(self, batch: _Batch, tailer: Tailer) -> _Batch:
        self._live_keys = frozenset(fid.key for fid in tailer.positions())
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
            for key, (off, state, fid, path) in batch.positions.items()
        }
        body = encode_streams(batch.streams.items()) if batch.streams else b""
        try:
            self.queue.put(json.dumps(header, separators=(",", ":")).encode() + b"\n" + body)
        except OSError as e:
            # Keep the batch: its checkpoints did not advance, so even a crash now loses nothing.
            if not self.put_failed:
                log.error(
                    "cannot queue a batch; reading pauses until it can",
                    extra=log_fields(error=str(e), lines=batch.lines, retry_every=DISK_RETRY_SECONDS),
                )
            self.put_failed = True
            return batch
        if self.put_failed:
            log.info("queueing works again; reading resumes")
        self.put_failed = False
        self.lines_read += batch.lines
        return _Batch()

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
                try:
                    result = self.send(body)
                except Exception:  # noqa: BLE001 - a bug in `send` must not stop shipping for good
                    log.exception("shipping failed; retrying the batch")
                    if stop.wait(1.0):
                        return  # stopping: the batch stays queued for the next start
                    continue
                if result.outcome is PushOutcome.STOPPED:
                    return
                if result.outcome is PushOutcome.RETRY:
                    log.warning(
                        "batch not stored now; sending it again later",
                        extra=log_fields(error=result.message, retry_in=result.retry_after),
                    )
                    if stop.wait(max(result.retry_after, DISK_RETRY_SECONDS)):
                        return  # stopping: the batch stays queued for the next start
                    continue
                if result.outcome is PushOutcome.REJECTED:
                    log.error("batch rejected by the server", extra=log_fields(status=result.status))
            if not self._settle(seq, header, stop):
                return
            self.batches_shipped += 1

    def _settle(self, seq: int, header: dict, stop: threading.Event) -> bool:
        """Advance the checkpoints and acknowledge `seq`, retrying while the disk is full;
        False when stopping first (the batch is then sent again by the next start)."""
        while True:
            try:
                self._advance(header)
                self.queue.ack(seq)
                return True
            except OSError as e:
                log.error(
                    "cannot save checkpoints or the queue ack; retrying",
                    extra=log_fields(error=str(e), retry_in=DISK_RETRY_SECONDS),
                )
                if stop.wait(DISK_RETRY_SECONDS):
                    return False

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
