"""`heron server`: storage, query engine and HTTP APIs in one process on one port.

Storage opens in a background thread after the socket is listening, so `/-/healthy` answers at
once and `/-/ready` turns 200 only after WAL replay. SIGTERM/SIGINT make uvicorn stop
accepting, finish in-flight requests, and then the lifespan closes storage cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable

import uvicorn

from heron.api.app import create_app
from heron.api.connection import MAX_HEADER_BYTES, HeronH11Protocol
from heron.api.state import ApiLimits, AppState
from heron.api.status import sample_ingest
from heron.config import Settings
from heron.logsetup import log_fields
from heron.promconfig import PromConfig
from heron.receive.discovery import Discovery, discover
from heron.receive.loki_push import decode_push
from heron.ship.loki_client import PushOutcome, PushResult
from heron.ship.loki_encode import PROTOBUF_CONTENT_TYPE
from heron.storage import Database, LogBatch, SampleColumns, StorageWriteError

if TYPE_CHECKING:
    from heron.collect.metrics.scrape import ScrapeManager
    from heron.promconfig import ScrapeConfig
    from heron.ship.remote_write import RemoteWriteFanout
    from heron.workers import QueryPool

__all__ = ["run_server", "build_state", "engine_options"]

log = logging.getLogger("heron.server")
IN_PROCESS_AGENT = "heron-agent (in-process)"  # the User-Agent the status page shows for it


def build_state(settings: Settings) -> AppState:
    return AppState(
        limits=ApiLimits(
            max_entries_per_query=settings.max_entries_per_query,
            max_series_per_query=settings.max_series_per_query,
            query_timeout_seconds=settings.query_timeout,
            query_memory_bytes=settings.query_memory_budget,
            query_workers=settings.query_workers,
            lookback_delta_seconds=settings.lookback_delta,
            query_max_samples=settings.query_max_samples,
            request_read_timeout_seconds=settings.request_read_timeout,
            max_push_body_bytes=settings.max_push_size,
            ingestion_rate_bytes=float(settings.ingestion_rate),
            ingestion_burst_bytes=float(settings.ingestion_burst),
        ),
        ui_dir=settings.ui_dir,
        settings=settings,
    )


def discovery_settings(settings: Settings) -> Discovery:
    """What every push path adds to streams and entries (service_name, detected_level)."""
    return Discovery(settings.discover_service_name, settings.discover_log_levels)


def engine_options(state: AppState) -> dict[str, Any]:
    """The LogQL engine's limits, the same for the in-process engine and the query workers."""
    options: dict[str, Any] = {
        "max_series": state.limits.max_series_per_query,
        "max_entries": state.limits.max_entries_per_query,
    }
    if state.db is not None:  # a template renders at most one line's worth (max_line_size)
        options["max_line_bytes"] = state.db.options.max_line_bytes
    return options


def _query_pool(settings: Settings, state: AppState, db: Database) -> QueryPool:
    """Worker processes for LogQL queries (docs/architecture.md); they start on first use."""
    from heron.workers import QueryPool, WorkerSpec

    def quarantine(block_id: str, reason: str) -> None:
        for block in db.snapshot().blocks:
            if block.id == block_id:
                db.quarantine(block, reason)

    spec = WorkerSpec(
        data_dir=db.path,
        limits=state.limits,
        engine_options=engine_options(state),
        log_level=settings.log_level,
        log_format=settings.log_format,
    )
    pool = QueryPool(spec, settings.query_workers, db.wal_position, quarantine)
    pool.register_metrics(state.registry)
    return pool


def _in_process_sink(
    db: Database,
    discovery: Discovery | None = None,
    on_stored: Callable[[list[LogBatch]], None] | None = None,
) -> Callable[[bytes], PushResult]:
    """`heron all` ships through a function call: decode the same push body the agent would
    send over HTTP and append it, with the same discovery (Loki's defaults when not given).
    Refused entries are final, as a 400 would be; a full disk is a RETRY, as a 507 would be."""
    settings = discovery if discovery is not None else Discovery()

    def send(body: bytes) -> PushResult:
        batches = discover(decode_push(body, PROTOBUF_CONTENT_TYPE), settings)
        try:
            result = db.append(batches)
        except StorageWriteError as exc:
            # A full or failing disk: the agent keeps the batch queued and sends it again.
            return PushResult(PushOutcome.RETRY, None, 1, str(exc), float(exc.retry_after_seconds))
        if result.rejected:
            log.warning(
                "agent entries refused by storage",
                extra=log_fields(count=result.rejected_count, first=result.rejected[0].message),
            )
        if on_stored is not None:
            on_stored(batches)
        return PushResult(PushOutcome.DELIVERED, 204, 1)

    return send


def scrape_configs(
    settings: Settings,
    prom_config: PromConfig,
    kube_connect: Callable[[], object] | None,
    *,
    with_agent: bool = False,
) -> list[ScrapeConfig]:
    """What the server scrapes: the file's `scrape_configs` when it has some; else, with a
    Kubernetes connection, the zero-configuration jobs (annotated services' endpointslices,
    and in `heron all` this node's kubelet and annotated pods too, so that one manager holds
    every target and `/api/v1/targets` lists them all); else nothing."""
    if prom_config.scrape_configs:
        return list(prom_config.scrape_configs)
    if kube_connect is None:
        return []
    from heron.collect.metrics.defaults import server_scrape_configs

    configs = server_scrape_configs(global_=prom_config.global_)
    if with_agent:
        from heron.agent import node_scrape_configs

        configs = node_scrape_configs(settings, prom_config, kube_connect) + configs  # type: ignore[arg-type]
    return configs


def _scrape_manager(
    state: AppState,
    db: Database,
    configs: list[ScrapeConfig],
    prom_config: PromConfig,
    kube_connect: Callable[[], object] | None,
    base_dir: str,
) -> ScrapeManager:
    """The server's own scraping: each scrape is one `db.append`, the targets show in
    `/api/v1/targets`, their metadata in `/api/v1/metadata`."""
    from heron.collect.metrics.kubesd import scrape_discoverers
    from heron.collect.metrics.scrape import ScrapeManager

    def sink(columns: SampleColumns) -> None:
        result = db.append(columns=columns)
        if state.forward is not None:
            state.forward.submit(columns)
        if result.rejected:
            log.debug(
                "scraped samples refused by storage",
                extra=log_fields(count=result.rejected_count, first=result.rejected[0].message),
            )

    return ScrapeManager(
        configs,
        sink,
        discoverers=scrape_discoverers(kube_connect, base_dir),  # type: ignore[arg-type]
        registry=state.registry,
        metadata=state.metadata,
        external_labels=prom_config.global_.external_labels,
        base_dir=base_dir,
        series_refs=db.series_refs,
    )


def _forwarder(state: AppState, settings: Settings, prom: PromConfig) -> RemoteWriteFanout:
    """The `remote_write:` senders, each with its durable queue under the data dir, so a
    restart resends what the remote end had not acknowledged."""
    from heron.ship.remote_write import RemoteWriteFanout

    fan = RemoteWriteFanout(
        prom.remote_write,
        str(settings.data_dir / "remote-write"),
        registry=state.registry,
        external_labels=prom.global_.external_labels,
    )
    fan.start()
    log.info("forwarding samples", extra=log_fields(remote_write=[c.url for c in prom.remote_write]))
    return fan


def run_server(
    settings: Settings,
    *,
    with_agent: bool = False,
    agent_metadata: object | None = None,
    on_ready: Callable[[], None] | None = None,
    prom_config: PromConfig | None = None,
    config_dir: str = ".",
    config_file: str | None = None,
) -> int:
    """`heron server`, or with `with_agent` `heron all`: the agent runs in-process once storage
    is open, and stops (after draining its queue into storage) before storage closes.

    `prom_config` holds the file's Prometheus sections; with `scrape_configs` the server
    scrapes them from when storage is open until just before it closes (relative file_sd
    paths are resolved from `config_dir`, the config file's directory). `config_file` is
    read again on `POST /-/reload` and SIGHUP, whose new `scrape_configs` then apply."""
    from heron.logql.engine import Engine
    from heron.storage import StorageError

    state = build_state(settings)
    state.prom_config = prom_config if prom_config is not None else PromConfig()
    exit_code = [0]
    server_box: list[uvicorn.Server] = []
    agent_stop = threading.Event()
    agent_threads: list[threading.Thread] = []
    kube_box: list[Callable[[], object] | None] = [None]
    reload_lock = threading.Lock()

    def reload_scraping() -> None:
        """Read `config_file` again and apply its scrape jobs; raises ConfigError (nothing
        changes then). Flat settings and `remote_write` keep their values until a restart."""
        from heron.config import load_prom_config

        with reload_lock:
            db = state.db
            if db is None or not state.ready:
                raise RuntimeError("storage is not open")
            new = load_prom_config(config_file)
            configs = scrape_configs(settings, new, kube_box[0], with_agent=with_agent)
            if state.scrapes is not None:
                state.scrapes.apply(configs)
            elif configs:
                manager = _scrape_manager(state, db, configs, new, kube_box[0], config_dir)
                manager.start()
                state.scrapes = manager
            if state.prom_config is not None:  # what /api/v1/status/config shows now
                state.prom_config = dataclasses.replace(
                    state.prom_config, global_=new.global_, scrape_configs=new.scrape_configs
                )
            log.info("configuration reloaded", extra=log_fields(jobs=[c.job_name for c in configs]))

    async def open_storage() -> None:
        try:
            db = await asyncio.to_thread(Database.open, str(settings.data_dir), settings.storage_options())
        except (StorageError, OSError) as exc:
            sys.stderr.write(f"heron: cannot open storage in {settings.data_dir}: {exc}\n")
            exit_code[0] = 1
            server_box[0].should_exit = True
            return
        state.db = db
        state.ingest.sample(db.counters)  # the ingest rates' baseline, before the first push
        state.engine = Engine(db, **engine_options(state))
        if settings.query_workers > 0:
            state.query_pool = _query_pool(settings, state, db)
        state.ready = True
        log.info("storage open", extra=log_fields(data_dir=str(settings.data_dir)))
        prom = prom_config if prom_config is not None else PromConfig()
        if prom.remote_write:
            try:
                state.forward = _forwarder(state, settings, prom)
            except (OSError, ValueError) as exc:
                sys.stderr.write(f"heron: cannot start remote_write: {exc}\n")
                exit_code[0] = 1
                server_box[0].should_exit = True
                return
        try:
            from heron.agent import AgentConfigError, kube_connection

            kube_connect = kube_connection(settings, agent_metadata)
        except AgentConfigError as exc:
            log.warning("no Kubernetes discovery", extra=log_fields(error=str(exc)))
            kube_connect = None
        kube_box[0] = kube_connect
        configs = scrape_configs(settings, prom, kube_connect, with_agent=with_agent)
        if configs:
            try:
                manager = _scrape_manager(state, db, configs, prom, kube_connect, config_dir)
                manager.start()
            except Exception:
                log.exception("scraping failed to start")
                exit_code[0] = 1
                server_box[0].should_exit = True
                return
            state.scrapes = manager
            log.info("scraping", extra=log_fields(jobs=[c.job_name for c in configs]))
        if with_agent:
            from heron.agent import make_agent

            try:
                agent, release = make_agent(
                    settings,
                    _in_process_sink(
                        db,
                        discovery_settings(settings),
                        lambda batches: state.agents.record(batches, IN_PROCESS_AGENT, "in-process"),
                    ),
                    agent_metadata,
                    registry=state.registry,
                    # The server's manager above scrapes the node's jobs too (one set of
                    # targets for /api/v1/targets), so the in-process agent only tails logs.
                    scrape_configs=[],
                )
            except Exception:
                log.exception("the in-process agent failed to start")
                exit_code[0] = 1
                server_box[0].should_exit = True
                return

            def run() -> None:
                try:
                    agent.run(agent_stop)
                finally:
                    release()

            t = threading.Thread(target=run, name="heron-agent")
            t.start()
            agent_threads.append(t)
        if on_ready is not None:
            on_ready()

    @contextlib.asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        task = asyncio.create_task(open_storage())
        sampler = asyncio.create_task(sample_ingest(state))  # the status page's ingest rates
        try:
            yield
        finally:
            sampler.cancel()
            await task
            agent_stop.set()
            for t in agent_threads:
                await asyncio.to_thread(t.join)
            if state.scrapes is not None:  # its staleness markers go to storage before it closes
                await asyncio.to_thread(state.scrapes.stop)
            if state.forward is not None:  # what is not sent in the grace stays queued on disk
                await asyncio.to_thread(state.forward.stop)
            if state.query_pool is not None:
                await asyncio.to_thread(state.query_pool.close)
            if state.db is not None:
                state.ready = False
                await asyncio.to_thread(state.db.close)
                log.info("storage closed")

    host, port = settings.listen_address
    app = create_app(state, lifespan)
    app.state.discovery = discovery_settings(settings)
    app.state.reload_scraping = reload_scraping  # POST /-/reload (heron.api.targets)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=30,
        ws_max_size=16 * 1024 * 1024,
        # Header deadline, 431/414 answers (heron.api.connection); the body deadline is the
        # RequestLimits middleware's.
        http=HeronH11Protocol.with_read_timeout(settings.request_read_timeout),
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
    )
    server = uvicorn.Server(config)
    server_box.append(server)
    # uvicorn handles SIGTERM/SIGINT itself (graceful shutdown), then restores the previous
    # handlers and re-raises the signal. Handlers that only log make that re-raise harmless, so
    # a clean shutdown exits 0 rather than dying by the signal it already handled.
    received: list[str] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: received.append(signal.Signals(signum).name))

    def on_sighup() -> None:
        try:
            reload_scraping()
        except Exception as exc:  # a bad file changes nothing; the error is the operator's to see
            log.error("reloading the configuration failed", extra=log_fields(error=str(exc)))

    # SIGHUP reloads, as it does Prometheus; the work runs off the signal handler.
    signal.signal(
        signal.SIGHUP, lambda signum, frame: threading.Thread(target=on_sighup, daemon=True).start()
    )
    log.info("listening", extra=log_fields(address=f"http://{host}:{port}"))
    server.run()
    log.info("stopped", extra=log_fields(signal=received[0] if received else None))
    return exit_code[0]
