"""The server's side of the query workers: start them, hand them queries, stop runaways.

A query waits for an idle worker (starting one while fewer than `size` run), is sent with the
WAL position committed at that moment, and its answer comes back as finished bytes. The
thread that waits for it blocks in a pipe read, outside the GIL, so a waiting query costs the
ingesting process nothing. A worker that outlives the query timeout by a grace period is
killed and replaced; one that dies is replaced too. At most `max_queued` queries wait; more
are refused with 429, as Loki's query frontend refuses past its outstanding-request limit.

A query whose client went away is cancelled: the caller sets the `cancelled` event it passed,
the pool sets the worker's own (multiprocessing) event, which the PromQL engine checks
between units of work, and the worker answers at once and stays. One that does not answer
within `_CANCEL_SECONDS` (stuck in one long step) is killed and replaced, so a departed
client never keeps a worker busy.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Callable

import anyio
import anyio.to_thread

from heron.api.promquerying import prom_error
from heron.api.querying import QueryAnswer
from heron.logsetup import log_fields
from heron.selfmetrics import Gauge, Registry
from heron.workers.replica import WalPosition
from heron.workers.worker import QueryJob, WorkerReply, WorkerSpec, worker_main

__all__ = ["QueryPool"]

log = logging.getLogger("heron.workers")

_GRACE_SECONDS = 10.0  # past the query timeout before a worker is killed rather than waited for
_STOP_SECONDS = 5.0
_CANCEL_SECONDS = 2.0  # a cancelled query's worker must answer within this, or it is killed
_POLL_SECONDS = 0.1  # how often a waiting query looks at its `cancelled` event


class _WorkerLost(Exception):
    """The worker died, or was killed for running past its time; the query has no answer."""


class _Worker:
    def __init__(self, ctx: Any, spec: WorkerSpec):
        self.conn, child = ctx.Pipe()
        self.cancel = ctx.Event()  # set: the running query's client went away
        self.proc: BaseProcess = ctx.Process(
            target=worker_main, args=(child, spec, self.cancel), name="heron-query-worker", daemon=True
        )
        self.proc.start()
        child.close()

    def ask(self, job: QueryJob, timeout: float, cancelled: threading.Event | None = None) -> WorkerReply:
        conn: Connection = self.conn
        self.cancel.clear()  # before the job is sent, so the worker never sees a stale one
        try:
            conn.send(job)
            if cancelled is None:
                if not conn.poll(timeout):
                    raise _WorkerLost("timeout")
                return conn.recv()
            until = time.monotonic() + timeout
            while not conn.poll(_POLL_SECONDS):
                if cancelled.is_set():
                    self.cancel.set()
                    if not conn.poll(_CANCEL_SECONDS):
                        raise _WorkerLost("canceled")
                    break
                if time.monotonic() > until:
                    raise _WorkerLost("timeout")
            return conn.recv()
        except (EOFError, OSError, BrokenPipeError) as exc:
            raise _WorkerLost(f"exited: {exc}") from None

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join(_STOP_SECONDS)
        self.conn.close()

    def stop(self) -> None:
        self.conn.close()  # the worker's recv sees EOF and returns
        self.proc.join(_STOP_SECONDS)
        if self.proc.is_alive():
            self.kill()


class QueryPool:
    """Up to `size` worker processes evaluating LogQL queries for one data directory."""

    def __init__(
        self,
        spec: WorkerSpec,
        size: int,
        position: Callable[[], WalPosition],
        on_corrupt: Callable[[str, str], None],
        *,
        max_queued: int = 100,
        grace_seconds: float = _GRACE_SECONDS,
    ):
        self.spec = spec
        self.size = size
        self.max_queued = max_queued
        self.grace_seconds = grace_seconds
        self._position = position
        self._on_corrupt = on_corrupt
        self._ctx = multiprocessing.get_context("spawn")  # never fork a process with threads
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._starting = 0
        self._waiting = 0
        self._closed = False
        self._limiter: anyio.CapacityLimiter | None = None
        self.restarts = 0

    def register_metrics(self, registry: Registry) -> None:
        registry.register(
            Gauge("heron_query_workers", "Query worker processes running.", lambda: [((), len(self._all))])
        )
        registry.register(
            Gauge(
                "heron_query_queue_length",
                "Queries waiting for a free query worker.",
                lambda: [((), float(self._waiting))],
            )
        )
        registry.register(
            Gauge(
                "heron_query_worker_restarts_total",
                "Query workers killed for running past the query timeout, or replaced after dying.",
                lambda: [((), float(self.restarts))],
                kind="counter",
            )
        )

    async def run(
        self,
        params: dict[str, Any],
        *,
        instant: bool,
        categorize: bool = False,
        language: str = "logql",
        cancelled: threading.Event | None = None,
    ) -> QueryAnswer:
        """Answer one query in a worker; waits in a thread of its own limiter, so queued
        queries never take the threads that pushes decode and append in. `language` picks
        the worker's engine; `cancelled`, once set, stops the query (see the module doc)."""
        if self._waiting >= self.max_queued:
            refusal = f"too many outstanding queries (limit {self.max_queued}); retry later"
            return _fail(language, 429, refusal)
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.size + self.max_queued)
        return await anyio.to_thread.run_sync(
            self._run_blocking, params, instant, categorize, language, cancelled, limiter=self._limiter
        )

    def _run_blocking(
        self,
        params: dict[str, Any],
        instant: bool,
        categorize: bool,
        language: str = "logql",
        cancelled: threading.Event | None = None,
    ) -> QueryAnswer:
        worker = self._acquire()
        if worker is None:
            return _fail(language, 503, "the server is shutting down")
        if cancelled is not None and cancelled.is_set():  # the client left while it queued
            self._release(worker)
            return _fail(language, 499, "query was canceled: the client went away", "canceled")
        job = QueryJob(params, instant, categorize, self._position(), language)
        timeout = self.spec.limits.query_timeout_seconds + self.grace_seconds
        t0 = time.monotonic()
        try:
            reply = worker.ask(job, timeout, cancelled)
        except _WorkerLost as exc:
            self._drop(worker)
            if str(exc) == "canceled":
                log.info(
                    "query worker killed: its query's client went away and it did not stop in time",
                    extra=log_fields(query=params.get("query"), seconds=round(time.monotonic() - t0, 1)),
                )
                return _fail(language, 499, "query was canceled: the client went away", "canceled")
            if str(exc) == "timeout":
                log.warning(
                    "query worker killed: the query ran past its timeout",
                    extra=log_fields(query=params.get("query"), seconds=round(time.monotonic() - t0, 1)),
                )
                message = "query timed out: the query exceeded its time limit and was cancelled"
                return _fail(language, 504, message, "timeout")
            log.error(
                "query worker died while evaluating a query",
                extra=log_fields(query=params.get("query"), exitcode=worker.proc.exitcode),
            )
            code = worker.proc.exitcode
            return _fail(language, 503, f"the query worker evaluating this query died (exit code {code})")
        self._release(worker)
        for block_id, reason in reply.corrupt:
            self._on_corrupt(block_id, reason)
        return reply.answer

    # -- the pool ----------------------------------------------------------------------------
    def _acquire(self) -> _Worker | None:
        with self._cond:
            self._waiting += 1
            try:
                while not self._closed:
                    if self._idle:
                        worker = self._idle.pop()
                        if worker.proc.is_alive():
                            return worker
                        # Died while idle (the OOM killer, a signal): replace it unnoticed.
                        log.warning(
                            "query worker had exited; replacing it",
                            extra=log_fields(pid=worker.proc.pid, exitcode=worker.proc.exitcode),
                        )
                        self._all.discard(worker)
                        self.restarts += 1
                        worker.conn.close()
                        continue
                    if len(self._all) + self._starting < self.size:
                        self._starting += 1
                        break
                    self._cond.wait()
                else:
                    return None
            finally:
                self._waiting -= 1
        try:
            worker = _Worker(self._ctx, self.spec)  # seconds of imports: outside the lock
        finally:
            with self._cond:
                self._starting -= 1
        with self._cond:
            self._all.add(worker)
        log.info("query worker started", extra=log_fields(pid=worker.proc.pid, workers=len(self._all)))
        return worker

    def _release(self, worker: _Worker) -> None:
        with self._cond:
            if self._closed:
                self._all.discard(worker)
                worker.stop()
                return
            self._idle.append(worker)
            self._cond.notify()

    def _drop(self, worker: _Worker) -> None:
        worker.kill()
        with self._cond:
            self._all.discard(worker)
            self.restarts += 1
            self._cond.notify()

    def close(self) -> None:
        """Stop every worker; called after the server has answered its in-flight requests."""
        with self._cond:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
            self._idle.clear()
            self._cond.notify_all()
        for w in workers:
            w.stop()


def _fail(language: str, status: int, message: str, outcome: str = "error") -> QueryAnswer:
    """The pool's own refusals: plain text as Loki writes errors, or for PromQL Prometheus'
    error envelope (a query past its time is Prometheus' 503 `timeout`)."""
    if language != "promql":
        return QueryAnswer(status, (message + "\n").encode(), "text/plain; charset=utf-8", outcome)
    kind = {429: "unavailable", 499: "canceled", 503: "unavailable", 504: "timeout"}[status]
    answer = prom_error(kind, message)
    return QueryAnswer(status if status != 504 else answer.status, answer.body, answer.content_type, outcome)
