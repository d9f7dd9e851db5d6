"""The query worker process: a WAL replica, a LogQL and a PromQL engine, and a loop over a pipe.

It runs at a lower CPU priority than the server process and is the kernel's first choice
when memory runs out, so a heavy query slows or loses only itself, never ingest
(docs/architecture.md).
"""

from __future__ import annotations

import logging
import os
import signal
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from heron.api.promquerying import execute_prom_query, prom_engine_for
from heron.api.querying import QueryAnswer, execute_query
from heron.api.state import ApiLimits
from heron.logsetup import log_fields, setup_logging
from heron.workers.replica import WalPosition, WalReplica

__all__ = ["WorkerSpec", "QueryJob", "WorkerReply", "worker_main", "WORKER_NICENESS"]

log = logging.getLogger("heron.workers")

WORKER_NICENESS = 10  # CFS weight 110 against the server's 1024: ingest wins every contended core
_OOM_SCORE_ADJ = 500  # a runaway query is killed before the process holding acked data


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs, sent once when it starts (it must pickle)."""

    data_dir: str
    limits: ApiLimits
    engine_options: dict[str, Any] = field(default_factory=dict)
    log_level: str = "info"
    log_format: str = "logfmt"


@dataclass(frozen=True)
class QueryJob:
    params: dict[str, Any]
    instant: bool
    categorize: bool
    position: WalPosition  # the writer's committed WAL end when the query arrived
    language: str = "logql"  # or "promql": which engine answers it


@dataclass(frozen=True)
class WorkerReply:
    answer: QueryAnswer
    corrupt: list[tuple[str, str]]  # (block id, reason) for the writer to quarantine


def _lower_priority() -> None:
    try:
        os.nice(WORKER_NICENESS)
    except OSError as exc:
        log.warning("cannot lower the query worker's priority", extra=log_fields(error=str(exc)))
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(_OOM_SCORE_ADJ))
    except OSError as exc:
        log.debug("cannot set oom_score_adj", extra=log_fields(error=str(exc)))


def worker_main(conn: Connection, spec: WorkerSpec, cancelled: Any = None) -> None:
    """Answer jobs until the pipe closes (the server stopped or dropped this worker).

    `cancelled` is a multiprocessing Event the server sets when the client of the running
    PromQL query went away; the engine checks it between units of work and stops."""
    # Ctrl-C reaches the whole process group; the server decides when workers stop (it
    # closes their pipes after in-flight queries are answered).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    setup_logging(spec.log_level, spec.log_format)
    _lower_priority()
    from heron.logql.engine import Engine

    replica = WalReplica(spec.data_dir)
    engine = Engine(replica, **spec.engine_options)
    prom_engine: Any = None  # made at the first PromQL job: a LogQL-only worker never imports it
    try:
        while True:
            try:
                job: QueryJob = conn.recv()
            except (EOFError, OSError):
                return
            try:
                replica.sync(job.position)
                if job.language == "promql":
                    if prom_engine is None:
                        prom_engine = prom_engine_for(replica, spec.limits)
                    answer = execute_prom_query(
                        prom_engine, spec.limits, job.params, instant=job.instant, cancelled=cancelled
                    )
                else:
                    answer = execute_query(
                        engine, spec.limits, job.params, instant=job.instant, categorize=job.categorize
                    )
            except Exception as exc:
                # A bug, as the server's generic handler reports one; the worker lives on.
                log.exception("query failed in worker", extra=log_fields(query=job.params.get("query")))
                answer = QueryAnswer(
                    500, f"internal error: {type(exc).__name__}: {exc}\n".encode(), "text/plain", "error"
                )
            conn.send(WorkerReply(answer, replica.take_corrupt()))
    finally:
        replica.close()
