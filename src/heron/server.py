"""`heron server`: storage, query engine and HTTP APIs in one process on one port.

Storage opens in a background thread after the socket is listening, so `/-/healthy` answers at
once and `/-/ready` turns 200 only after WAL replay. SIGTERM/SIGINT make uvicorn stop
accepting, finish in-flight requests, and then the lifespan closes storage cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from typing import AsyncIterator

import uvicorn

from heron.api.app import create_app
from heron.api.state import ApiLimits, AppState
from heron.config import Settings
from heron.logsetup import log_fields

__all__ = ["run_server", "build_state"]

log = logging.getLogger("heron.server")


def build_state(settings: Settings) -> AppState:
    return AppState(
        limits=ApiLimits(
            max_entries_per_query=settings.max_entries_per_query,
            max_series_per_query=settings.max_series_per_query,
            query_timeout_seconds=settings.query_timeout,
            max_push_body_bytes=settings.max_push_size,
            ingestion_rate_bytes=float(settings.ingestion_rate),
            ingestion_burst_bytes=float(settings.ingestion_burst),
        )
    )


def run_server(settings: Settings) -> int:
    from heron.logql.engine import Engine
    from heron.storage import Database, StorageError

    state = build_state(settings)
    exit_code = [0]
    server_box: list[uvicorn.Server] = []

    async def open_storage() -> None:
        try:
            db = await asyncio.to_thread(Database.open, str(settings.data_dir), settings.storage_options())
        except (StorageError, OSError) as exc:
            sys.stderr.write(f"heron: cannot open storage in {settings.data_dir}: {exc}\n")
            exit_code[0] = 1
            server_box[0].should_exit = True
            return
        state.db = db
        state.engine = Engine(
            db,
            max_series=state.limits.max_series_per_query,
            max_entries=state.limits.max_entries_per_query,
        )
        state.ready = True
        log.info("storage open", extra=log_fields(data_dir=str(settings.data_dir)))

    @contextlib.asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        task = asyncio.create_task(open_storage())
        try:
            yield
        finally:
            await task
            if state.db is not None:
                state.ready = False
                await asyncio.to_thread(state.db.close)
                log.info("storage closed")

    host, port = settings.listen_address
    config = uvicorn.Config(
        create_app(state, lifespan),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=30,
        ws_max_size=16 * 1024 * 1024,
    )
    server = uvicorn.Server(config)
    server_box.append(server)
    # uvicorn handles SIGTERM/SIGINT itself (graceful shutdown), then restores the previous
    # handlers and re-raises the signal. Handlers that only log make that re-raise harmless, so
    # a clean shutdown exits 0 rather than dying by the signal it already handled.
    received: list[str] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: received.append(signal.Signals(signum).name))
    log.info("listening", extra=log_fields(address=f"http://{host}:{port}"))
    server.run()
    log.info("stopped", extra=log_fields(signal=received[0] if received else None))
    return exit_code[0]
