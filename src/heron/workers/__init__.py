"""Query worker processes: LogQL evaluation kept apart from the process that ingests.

In one Python process a heavy query holds the GIL that ingest needs (measured: ingest fell
to 0.04 of its solo rate under four querying clients). Workers are separate processes that
read the same data directory: blocks directly, and recent data by following the WAL
(`WalReplica`). The server sends each query with the WAL position it had committed, so every
acknowledged push is visible to it. docs/architecture.md has the whole design.
"""

from heron.workers.pool import QueryPool
from heron.workers.replica import WalPosition, WalReplica
from heron.workers.worker import WorkerSpec

__all__ = ["QueryPool", "WalReplica", "WalPosition", "WorkerSpec"]
