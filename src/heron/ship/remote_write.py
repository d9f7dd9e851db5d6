"""Remote write sender: samples -> durable on-disk queue -> one remote_write endpoint.

One sender per `remote_write` entry. The scraper calls `submit` once per scrape; it applies
`external_labels` (a series' own label wins) and then `write_relabel_configs`, as Prometheus'
queue manager does, and stages the samples in memory. Staged samples become one queue record
(a ready-to-send request body) when `max_samples_per_send` are staged or the oldest has waited
`batch_send_deadline`; a record in the queue survives `kill -9` and is delivered after a
restart (at least once: storage acknowledges a repeated sample as a duplicate).

Bounded everywhere: past the queue's byte bound `submit` drops the samples and counts them
(it never blocks the scraper on the network); staging holds at most `capacity` samples before
it is written to the queue.

One thread sends the oldest record, and only that one, until a final answer, so one series'
samples always arrive in order (Prometheus shards by series for throughput; Heron's one
shard keeps order trivially, so `min_shards`/`max_shards` are not used). Network errors and
5xx are retried with exponential backoff from `min_backoff` doubling to `max_backoff`
(a `Retry-After` header may ask for longer); 429 is retried only with `retry_on_http_429`,
and any other 4xx drops the record and counts its samples as failed.

Queue record layout (docs/format/remote-write-queue.md): 1 byte protocol (1 = remote write
1.0, 2 = 2.0), a little-endian uint32 sample count, then the snappy request body.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import threading
import time
import weakref
from typing import Callable, Mapping, Sequence

from heron.logsetup import log_fields
from heron.model import Labels
from heron.promconfig.types import RemoteWriteConfig
from heron.selfmetrics import Counter, Gauge, Registry
from heron.ship.queue import DurableQueue
from heron.ship.remote_write_encode import (
    V1_CONTENT_TYPE,
    V2_CONTENT_TYPE,
    LabelCache,
    encode_v1,
    encode_v2,
    group_by_series,
    snappy,
)
from heron.ship.remote_write_http import RemoteWriteHTTP, TransportError
from heron.storage import SampleColumns

__all__ = ["RemoteWriteSender", "RemoteWriteFanout", "RECORD_HEADER", "decode_record", "queue_dir_name"]

log = logging.getLogger("heron.ship.remote_write")

RECORD_HEADER = struct.Struct("<BI")  # protocol, sample count
_PROTO_V1, _PROTO_V2 = 1, 2
_V2_MESSAGE = "io.prometheus.write.v2.Request"
_RELABEL_CACHE_MAX = 100_000
_MAX_WAIT = 1.0  # the thread re-checks the staged deadline at least this often


def decode_record(payload: bytes) -> tuple[int, int, bytes]:
    """A queue record's (protocol, sample count, snappy body)."""
    proto, count = RECORD_HEADER.unpack_from(payload)
    return proto, count, payload[RECORD_HEADER.size :]


class _Metrics:
    """The counters every sender on one registry shares, labelled by url."""

    def __init__(self, registry: Registry) -> None:
        self.samples: Counter = registry.counter(
            "heron_remote_write_samples_total", "Samples the remote endpoint accepted.", ("url",)
        )
        self.failed: Counter = registry.counter(
            "heron_remote_write_failed_samples_total",
            "Samples the remote endpoint refused with a final 4xx (not retried).",
            ("url",),
        )
        self.retried: Counter = registry.counter(
            "heron_remote_write_retried_samples_total",
            "Samples sent again after a network error, a 5xx or a retried 429.",
            ("url",),
        )
        self.dropped: Counter = registry.counter(
            "heron_remote_write_dropped_samples_total",
            "Samples never queued: the queue was full, its disk failed, or write relabeling dropped them.",
            ("url", "reason"),
        )
        self.senders: weakref.WeakSet[RemoteWriteSender] = weakref.WeakSet()
        registry.register(
            Gauge(
                "heron_remote_write_queue_bytes",
                "Bytes waiting to be sent: queued on disk plus staged in memory.",
                self._queue_bytes,
                ("url",),
            )
        )

    def _queue_bytes(self) -> list[tuple[tuple[str, ...], float]]:
        return sorted(((s.url,), float(s.queue_bytes)) for s in list(self.senders))


_METRICS: "weakref.WeakKeyDictionary[Registry, _Metrics]" = weakref.WeakKeyDictionary()
_METRICS_LOCK = threading.Lock()


def _metrics_for(registry: Registry) -> _Metrics:
    with _METRICS_LOCK:
        m = _METRICS.get(registry)
        if m is None:
            m = _METRICS[registry] = _Metrics(registry)
        return m


def _relabel_fn(cfg: RemoteWriteConfig) -> Callable[[dict[str, str]], dict[str, str] | None] | None:
    if not cfg.write_relabel_configs:
        return None
    from heron.promconfig import relabel  # the config package's Prometheus relabel.Process

    configs = cfg.write_relabel_configs
    return lambda labels: relabel(labels, configs)


class RemoteWriteSender:
    """Durable, bounded, retrying sender for one `remote_write` entry (see the module doc)."""

    def __init__(
        self,
        cfg: RemoteWriteConfig,
        queue_dir: str,
        *,
        registry: Registry | None = None,
        external_labels: Mapping[str, str] = {},
        max_queue_bytes: int = 256 << 20,
        transport: RemoteWriteHTTP | None = None,
    ) -> None:
        self.cfg = cfg
        self.url = cfg.url
        self.queue_config = cfg.queue_config
        self._http = transport or RemoteWriteHTTP(cfg, user_agent="heron")
        self._v2 = cfg.protobuf_message == _V2_MESSAGE
        self._external = tuple(sorted((k, v) for k, v in external_labels.items() if v != ""))
        self._relabel = _relabel_fn(cfg)
        self._relabeled: dict[Labels, Labels | None] = {}
        self._label_cache = LabelCache()
        os.makedirs(queue_dir, exist_ok=True)
        self._queue = DurableQueue(queue_dir, max_queue_bytes)
        self._metrics = _metrics_for(registry or Registry())
        self._metrics.senders.add(self)
        self._lock = threading.Lock()  # guards staging
        self._staged_labels: list[Labels] = []
        self._staged_ts: list[int] = []
        self._staged_vals: list[float] = []
        self._staged_since = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._drain_until: float | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- the scraper's side ------------------------------------------------------------
    @property
    def queue_bytes(self) -> int:
        """Bytes on disk not yet acknowledged, plus an estimate (32 B a sample) of staged ones."""
        if self._closed:
            return 0
        return self._queue.unacked_bytes + 32 * len(self._staged_ts)

    def submit(self, cols: SampleColumns) -> None:
        """Queue a scrape's samples for sending. Returns at once: past the queue's bound the
        samples are dropped and counted, never waited for."""
        if self._closed:
            raise ValueError("sender is stopped")
        labels, ts, vals = self._prepare(cols)
        if not labels:
            return
        q = self.queue_config
        now = time.monotonic()
        with self._lock:
            if not self._staged_ts:
                self._staged_since = now
            self._staged_labels += labels
            self._staged_ts += ts
            self._staged_vals += vals
            ready = len(self._staged_ts) >= min(q.max_samples_per_send, max(q.capacity, 1))
            # Past the deadline everything staged goes to disk here too: the sending thread
            # may be busy retrying, and staged samples are lost by a kill -9.
            due = now - self._staged_since >= q.batch_send_deadline
        if ready or due:
            self._flush_staged(full_batches_only=not due)
        self._wake.set()

    def _prepare(self, cols: SampleColumns) -> tuple[list[Labels], list[int], list[float]]:
        """External labels and write relabeling, once per distinct label set (cached)."""
        tsl = cols.timestamps.tolist() if hasattr(cols.timestamps, "tolist") else list(cols.timestamps)
        vl = cols.values.tolist() if hasattr(cols.values, "tolist") else list(cols.values)
        if not self._external and self._relabel is None:
            return list(cols.labels), [int(t) for t in tsl], [float(v) for v in vl]
        out_l: list[Labels] = []
        out_t: list[int] = []
        out_v: list[float] = []
        dropped = 0
        cache = self._relabeled
        for lab, t, v in zip(cols.labels, tsl, vl):
            if lab in cache:
                final = cache[lab]
            else:
                final = self._transform(lab)
                if len(cache) >= _RELABEL_CACHE_MAX:
                    cache.clear()
                cache[lab] = final
            if final is None:
                dropped += 1
                continue
            out_l.append(final)
            out_t.append(int(t))
            out_v.append(float(v))
        if dropped:
            self._metrics.dropped.inc(dropped, self.url, "relabel")
        return out_l, out_t, out_v

    def _transform(self, labels: Labels) -> Labels | None:
        d = dict(labels)
        for k, v in self._external:
            d.setdefault(k, v)
        if self._relabel is not None:
            got = self._relabel(d)
            if got is None:
                return None
            d = got
        return tuple(sorted((k, v) for k, v in d.items() if v != "")) or None

    def _flush_staged(self, *, full_batches_only: bool) -> None:
        """Move staged samples into the queue as records of at most max_samples_per_send."""
        per = max(1, self.queue_config.max_samples_per_send)
        with self._lock:
            n = len(self._staged_ts)
            take = n - n % per if full_batches_only else n
            if take == 0:
                return
            labels, ts, vals = self._staged_labels[:take], self._staged_ts[:take], self._staged_vals[:take]
            del self._staged_labels[:take], self._staged_ts[:take], self._staged_vals[:take]
            if self._staged_ts:
                self._staged_since = time.monotonic()
            # Encoding and put stay under the lock: two flushes racing would reorder records.
            for i in range(0, take, per):
                self._enqueue(labels[i : i + per], ts[i : i + per], vals[i : i + per])

    def _enqueue(self, labels: Sequence[Labels], ts: Sequence[int], vals: Sequence[float]) -> None:
        n = len(ts)
        if self._queue.full:
            self._metrics.dropped.inc(n, self.url, "queue_full")
            return
        series = group_by_series(labels, ts, vals)
        if self._v2:
            proto, body = _PROTO_V2, snappy(encode_v2(series))
        else:
            proto, body = _PROTO_V1, snappy(encode_v1(series, cache=self._label_cache))
        try:
            self._queue.put(RECORD_HEADER.pack(proto, n) + body)
        except OSError as exc:
            self._metrics.dropped.inc(n, self.url, "queue_write_failed")
            log.error(
                "remote write queue cannot be written; samples dropped",
                extra=log_fields(url=self.url, error=str(exc), samples=n),
            )

    # -- the sending thread ------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="remote-write", daemon=True)
        self._thread.start()

    def begin_stop(self, grace: float = 10.0) -> None:
        """Queue what is staged and start draining for `grace` seconds, without waiting."""
        if self._closed or self._drain_until is not None:
            return
        self._flush_staged(full_batches_only=False)
        self._drain_until = time.monotonic() + grace
        self._wake.set()

    def stop(self, grace: float = 10.0) -> None:
        """Queue what is staged, send for up to `grace` seconds, then stop; anything unsent
        stays in the queue on disk for the next start."""
        if self._closed:
            return
        self.begin_stop(grace)
        self._flush_staged(full_batches_only=False)
        if self._thread is not None:
            assert self._drain_until is not None
            self._thread.join(max(0.0, self._drain_until - time.monotonic()))
            self._stop.set()
            self._wake.set()
            # A request in flight ends within remote_timeout; its record stays queued.
            self._thread.join(self.cfg.remote_timeout + 1.0)
        self._closed = True
        self._queue.close()
        self._http.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._step():
                    return
            except OSError as exc:  # the queue's disk failed: say so, wait, try again
                log.error(
                    "remote write queue cannot be read or acknowledged; retrying",
                    extra=log_fields(url=self.url, error=str(exc)),
                )
                if self._sleep(self.queue_config.max_backoff):
                    return

    def _step(self) -> bool:
        """Queue what is due, then send the oldest record; True when the thread should end."""
        deadline = self.queue_config.batch_send_deadline
        with self._lock:
            due = bool(self._staged_ts) and time.monotonic() - self._staged_since >= deadline
        if due:
            self._flush_staged(full_batches_only=False)
        rec = self._queue.peek()
        if rec is None:
            if self._drain_until is not None:
                return True  # drained: stop() may finish at once
            self._wake.wait(min(_MAX_WAIT, max(deadline, 0.01)))
            self._wake.clear()
            return False
        seq, payload = rec
        if len(payload) < RECORD_HEADER.size or payload[0] not in (_PROTO_V1, _PROTO_V2):
            log.error("remote write queue record of an unknown kind; skipping it", extra=log_fields(seq=seq))
            self._queue.ack(seq)
            return False
        proto, count, body = decode_record(payload)
        outcome = self._send(proto, count, body)
        if outcome is None:
            return True  # stopping: the record stays queued
        self._queue.ack(seq)
        (self._metrics.samples if outcome else self._metrics.failed).inc(count, self.url)
        return False

    def _stopping(self) -> bool:
        return self._stop.is_set() or (
            self._drain_until is not None and time.monotonic() >= self._drain_until
        )

    def _send(self, proto: int, count: int, body: bytes) -> bool | None:
        """Send one record until a final answer: True delivered, False refused, None stopped."""
        q = self.queue_config
        headers = {
            "Content-Encoding": "snappy",
            "Content-Type": V2_CONTENT_TYPE if proto == _PROTO_V2 else V1_CONTENT_TYPE,
            "X-Prometheus-Remote-Write-Version": "2.0.0" if proto == _PROTO_V2 else "0.1.0",
        }
        backoff = q.min_backoff
        attempt = 0
        while True:
            attempt += 1
            retry_after = 0.0
            try:
                status, text, retry_after = self._http.post(body, headers)
            except TransportError as exc:
                status, message = None, str(exc)
            else:
                if 200 <= status < 300:
                    return True
                message = text.strip()[:500]
                retryable = status >= 500 or (status == 429 and q.retry_on_http_429)
                if not retryable:
                    log.error(
                        "remote write refused by the endpoint; dropping the batch",
                        extra=log_fields(url=self.url, status=status, error=message, samples=count),
                    )
                    return False
            if self._stopping():
                return None
            self._metrics.retried.inc(count, self.url)
            delay = max(backoff, retry_after)
            log.warning(
                "remote write failed; retrying",
                extra=log_fields(
                    url=self.url, status=status, error=message, attempt=attempt, retry_in=round(delay, 3)
                ),
            )
            if self._sleep(delay):
                return None
            backoff = min(q.max_backoff, backoff * 2)

    def _sleep(self, delay: float) -> bool:
        """Wait `delay` seconds; True when the sender is stopping meanwhile."""
        end = time.monotonic() + delay
        while True:
            if self._stopping():
                return True
            left = end - time.monotonic()
            if left <= 0:
                return False
            wait = (
                left
                if self._drain_until is None
                else min(left, max(0.0, self._drain_until - time.monotonic()))
            )
            self._stop.wait(min(wait, _MAX_WAIT) if wait > 0 else 0.001)


def queue_dir_name(cfg: RemoteWriteConfig) -> str:
    """A stable directory name for an entry's queue: its `name` when set (made filename-safe),
    else a hash of its URL, so a restart finds the same queue and two entries never share one."""
    if cfg.name:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in cfg.name).strip(".")
        if safe:
            return safe
    return "url-" + hashlib.sha256(cfg.url.encode()).hexdigest()[:16]


class RemoteWriteFanout:
    """Every `remote_write` entry of a config as one sink: `submit` gives the samples to each
    entry's sender (each applies its own relabeling and keeps its own queue under `base_dir`)."""

    def __init__(
        self,
        configs: Sequence[RemoteWriteConfig],
        base_dir: str,
        *,
        registry: Registry | None = None,
        external_labels: Mapping[str, str] = {},
        max_queue_bytes: int = 256 << 20,
    ) -> None:
        names = [queue_dir_name(c) for c in configs]
        if len(set(names)) != len(names):
            raise ValueError("two remote_write entries would share a queue: give them distinct names")
        self.senders = [
            RemoteWriteSender(
                cfg,
                os.path.join(base_dir, name),
                registry=registry,
                external_labels=external_labels,
                max_queue_bytes=max_queue_bytes,
            )
            for cfg, name in zip(configs, names)
        ]

    def submit(self, cols: SampleColumns) -> None:
        for sender in self.senders:
            sender.submit(cols)

    def start(self) -> None:
        for sender in self.senders:
            sender.start()

    def stop(self, grace: float = 10.0) -> None:
        """Stop all senders within `grace` seconds in total (they drain side by side)."""
        for sender in self.senders:
            sender.begin_stop(grace)
        for sender in self.senders:
            sender.stop(grace)
