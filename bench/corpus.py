"""Deterministic synthetic corpora for the benchmarks: Kubernetes-style logs and scrape metrics.

Everything is generated with numpy over whole columns, so millions of lines take seconds:
a line is a row of byte fragments (constants folded into picks from pools of pre-formatted
values, and per-line random hex ids built as numpy byte arrays), and the rows of a stream are
joined and split on b"\\n" 4096 at a time. Same arguments and seed, same corpus.

Logs (`make_log_corpus`): >= 200 streams labelled {namespace, pod, container, app, stream}, each
with one format (JSON access, JSON app, logfmt, plain text, Java or Python app logs whose errors
carry multi-line stack traces, one entry per trace line as kubelet stores them). Stream rates
are skewed; timestamps (ns) are sorted per stream and span ~1 h ending now - 5 min.

Metrics (`make_metric_corpus`): node-exporter / cAdvisor-like series grouped into scrape
targets that share timestamps (15 s with a few ms jitter, ending now - 5 min): integer
counters (some bursty, some idle), integer gauges (memory bytes at page granularity, file
descriptors), histogram _bucket/_sum/_count sets, and ~15% noisy full-precision float gauges.
"""

from __future__ import annotations

import functools
import math
import os
import time
import zlib
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

__all__ = [
    "LogStream",
    "LogCorpus",
    "make_log_corpus",
    "load_dir_corpus",
    "MetricCorpus",
    "make_metric_corpus",
    "METRIC_KINDS",
    "NEEDLE",
]

Labels = tuple[tuple[str, str], ...]

NEEDLE = b"ERR_QUOTA_7731"
"""Injected into about one line in 50,000 of the generated corpus: the rare substring to scan for."""

_NEEDLE_EVERY = 50_000
_HOUR_NS = 3600 * 1_000_000_000
_END_LAG_NS = 5 * 60 * 1_000_000_000


@dataclass
class LogStream:
    labels: Labels
    timestamps: np.ndarray  # int64 ns, sorted ascending
    lines: list[bytes]
    fmt: str = ""


@dataclass
class LogCorpus:
    streams: list[LogStream]
    description: str = ""
    needle: bytes = NEEDLE
    needle_lines: int = -1  # lines containing the needle; -1 when unknown

    @property
    def lines(self) -> int:
        return sum(len(s.lines) for s in self.streams)

    @property
    def raw_bytes(self) -> int:
        return sum(sum(map(len, s.lines)) for s in self.streams)

    def batches(self, lines_per_call: int = 10_000) -> Iterator[list[tuple[int, int, int]]]:
        """Push-shaped calls: consecutive time windows holding ~`lines_per_call` lines across
        all streams, each a list of (stream index, start, stop) slices in time order."""
        total = self.lines
        if total == 0:
            return
        lo = min(int(s.timestamps[0]) for s in self.streams if len(s.lines))
        hi = max(int(s.timestamps[-1]) for s in self.streams if len(s.lines)) + 1
        windows = max(1, -(-total // lines_per_call))
        edges = lo + (np.arange(windows + 1, dtype=np.int64) * (hi - lo)) // windows  # exact ints
        cuts = [np.searchsorted(s.timestamps, edges, side="left") for s in self.streams]
        for w in range(windows):
            call = []
            for si, c in enumerate(cuts):
                a, b = int(c[w]), int(c[w + 1])
                if b > a:
                    call.append((si, a, b))
            if call:
                yield call


# ---------------------------------------------------------------------------------------------
# vocabulary
_NAMESPACES = [
    "default",
    "kube-system",
    "monitoring",
    "payments",
    "checkout",
    "search",
    "auth",
    "ingress-nginx",
    "data",
    "ml-serving",
    "notifications",
    "inventory",
]
_APPS = [
    "api-gateway",
    "orders",
    "payments-svc",
    "cart",
    "catalog",
    "search-api",
    "indexer",
    "auth-svc",
    "session-store",
    "ingress-nginx-controller",
    "coredns",
    "kube-proxy",
    "metrics-server",
    "notification-worker",
    "email-sender",
    "inventory-svc",
    "pricing",
    "recommendations",
    "user-profile",
    "billing",
    "ledger",
    "fraud-detector",
    "image-resizer",
    "thumbnailer",
    "feature-store",
    "model-server",
    "scheduler",
    "etl-runner",
    "kafka-consumer",
    "webhook-dispatcher",
    "geo-ip",
    "rate-limiter",
    "config-service",
    "audit-log",
    "shipping",
    "returns",
    "reviews",
    "wishlist",
    "loyalty",
    "frontend",
]
_FORMATS = ["json_access", "json_app", "logfmt", "plain", "java", "python"]
_FORMAT_WEIGHTS = [0.22, 0.2, 0.18, 0.12, 0.16, 0.12]
_PATHS = [
    (b"/api/v1/users/", b"/orders"),
    (b"/api/v1/users/", b"/profile"),
    (b"/api/v1/orders/", b""),
    (b"/api/v1/orders/", b"/items"),
    (b"/api/v2/catalog/products/", b""),
    (b"/api/v2/catalog/products/", b"/reviews"),
    (b"/api/v1/cart/", b"/checkout"),
    (b"/api/v1/payments/", b"/capture"),
    (b"/api/v1/search?q=item", b"&page=2"),
    (b"/api/v1/inventory/sku-", b"/stock"),
    (b"/healthz?probe=", b""),
    (b"/metrics?scrape=", b""),
    (b"/api/v1/sessions/", b"/refresh"),
    (b"/static/js/app.", b".chunk.js"),
    (b"/api/v1/shipments/", b"/track"),
    (b"/graphql?op=GetUser&id=", b""),
]
_METHODS = [b"GET"] * 7 + [b"POST"] * 2 + [b"PUT", b"DELETE", b"PATCH"]
_STATUS = [b"200"] * 40 + [b"201"] * 4 + [b"204"] * 3 + [b"301", b"304", b"304"] + [b"400", b"401", b"403"]
_STATUS += [b"404"] * 3 + [b"429", b"500", b"502", b"503"]
_AGENTS = [
    b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    b" Chrome/124.0.0.0 Safari/537.36",
    b"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    b" Version/17.4 Safari/605.1.15",
    b"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    b"okhttp/4.12.0",
    b"Go-http-client/1.1",
    b"kube-probe/1.29",
    b"Prometheus/2.51.2",
    b"python-requests/2.31.0",
    b"curl/8.5.0",
    b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
]
_LEVELS = [b"info"] * 16 + [b"debug"] * 4 + [b"warn"] * 2 + [b"error"]
_APP_MSGS = [
    b"request completed",
    b"cache miss, loading from database",
    b"retrying upstream call",
    b"connection pool exhausted, waiting for a free connection",
    b"published event to topic orders.v1",
    b"consumer group rebalanced",
    b"token refreshed",
    b"slow query detected",
    b"circuit breaker half-open",
    b"job finished",
    b"acquired leader lease",
    b"validation failed for field email",
    b"payment authorised",
    b"upstream returned non-2xx status",
    b"scheduled reconciliation",
    b"feature flag evaluated",
    b"rate limit exceeded for client",
    b"message acknowledged",
    b"config reloaded from /etc/app/config.yaml",
]
_ERRS = [
    b"null",
    b"null",
    b"null",
    b"null",
    b'"context deadline exceeded"',
    b'"connection reset by peer"',
    b'"EOF"',
    b'"i/o timeout"',
    b'"pq: duplicate key value violates unique constraint\\"orders_pkey\\""',
    b'"dial tcp 10.96.0.10:53: connect: connection refused"',
]
_LOGGERS = [
    b"svc.orders",
    b"svc.payments",
    b"http.server",
    b"db.pool",
    b"kafka.consumer",
    b"cache.redis",
    b"auth.jwt",
    b"grpc.client",
    b"scheduler.cron",
    b"outbox.relay",
]
_GO_CALLERS = [
    b"server.go:212",
    b"handler.go:88",
    b"client.go:341",
    b"pool.go:57",
    b"reconcile.go:140",
    b"consumer.go:96",
    b"retry.go:44",
    b"main.go:71",
    b"cache.go:203",
    b"leader.go:118",
]
_JAVA_CLASSES = [
    b"c.e.orders.OrderService",
    b"c.e.orders.web.OrderController",
    b"o.s.web.servlet.DispatcherServlet",
    b"c.e.payments.PaymentGatewayClient",
    b"o.h.engine.jdbc.spi.SqlExceptionHelper",
    b"c.z.hikari.pool.HikariPool",
    b"o.a.kafka.clients.consumer.KafkaConsumer",
    b"c.e.inventory.StockReservationService",
]
_JAVA_MSGS = [
    b"Created order ",
    b"Reserved stock for order ",
    b"Completed initialization in ",
    b"Processing payment for order ",
    b"Fetched product page ",
    b"Committed offsets for partition ",
    b"Evicted cache entries: ",
    b"Loaded user ",
]
_PY_MODULES = [
    b"app.worker",
    b"app.api.views",
    b"celery.app.trace",
    b"app.tasks.email",
    b"gunicorn.error",
    b"app.services.billing",
    b"sqlalchemy.engine.Engine",
    b"app.ml.predict",
]
_PY_MSGS = [
    b"Task app.tasks.send_email[",
    b"Processing invoice ",
    b"Prediction served for model v",
    b"Received task: ",
    b"Booting worker with pid: ",
    b"Rendered template in ",
    b"Query returned rows: ",
    b"Cache warmed, keys: ",
]
_JAVA_FRAMES = [
    b"\tat org.springframework.web.servlet.FrameworkServlet.processRequest(FrameworkServlet.java:1014)",
    b"\tat org.springframework.web.servlet.DispatcherServlet.doDispatch(DispatcherServlet.java:1089)",
    b"\tat org.springframework.web.servlet.mvc.method.annotation.Request"
    b"MappingHandlerAdapter.handle(RequestMappingHandlerAdapter.java:795)",
    b"\tat org.apache.catalina.core.ApplicationFilterChain.internalDoFilter(ApplicationFilterChain.java:166)",
    b"\tat org.apache.catalina.core.StandardWrapperValve.invoke(StandardWrapperValve.java:174)",
    b"\tat org.apache.tomcat.util.net.NioEndpoint$SocketProcessor.doRun(NioEndpoint.java:1791)",
    b"\tat java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1136)",
    b"\tat java.base/java.util.concurrent.ThreadPoolExecutor$Worker.run(ThreadPoolExecutor.java:635)",
    b"\tat org.hibernate.engine.jdbc.spi.SqlExceptionHelper.convert(SqlExceptionHelper.java:113)",
    b"\tat org.hibernate.internal.SessionImpl.firePersist(SessionImpl.java:761)",
    b"\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)",
    b"\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:181)",
    b"\tat com.example.orders.service.OrderService.createOrder(OrderService.java:142)",
    b"\tat com.example.orders.web.OrderController.submitOrder(OrderController.java:87)",
    b"\tat com.example.payments.client.PaymentGatewayClient.capture(PaymentGatewayClient.java:219)",
    b"\tat com.example.inventory.StockReservationService.reserve(StockReservationService.java:64)",
    b"\tat io.netty.channel.nio.NioEventLoop.processSelectedKeysOptimized(NioEventLoop.java:689)",
    b"\tat reactor.core.publisher.FluxOnErrorResume$ResumeSubscriber.onError(FluxOnErrorResume.java:94)",
    b"\tat org.apache.kafka.clients.consumer.internals.Consume"
    b"rCoordinator.onJoinComplete(ConsumerCoordinator.java:352)",
    b"\tat jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)",
]
_JAVA_EXC = [
    b"org.springframework.dao.DataIntegrityViolationException: could not execute statement;"
    b" constraint [orders_pkey]",
    b"java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request"
    b" timed out after 30000ms.",
    b"java.net.SocketTimeoutException: Read timed out while calling https://payments.internal/v1/capture",
    b"java.lang.IllegalStateException: Reservation for order already released; refusing to"
    b" double-release stock",
    b'java.lang.NullPointerException: Cannot invoke "com.example.orders.model.Customer.getId()"'
    b' because "customer" is null',
    b"org.apache.kafka.common.errors.RebalanceInProgressException: Offset commit cannot be completed"
    b" since the consumer is rebalancing",
]
_PY_FRAMES = [
    (
        b'  File "/usr/local/lib/python3.11/site-packages/celery/app/trace.py", line 477, in trace_task',
        b"    R = retval = fun(*args, **kwargs)",
    ),
    (
        b'  File "/usr/local/lib/python3.11/site-packages/django/core/handlers/exception.py", line'
        b" 55, in inner",
        b"    response = get_response(request)",
    ),
    (
        b'  File "/app/app/tasks/email.py", line 64, in send_email',
        b"    smtp.send_message(msg, from_addr=settings.DEFAULT_FROM_EMAIL, to_addrs=recipients)",
    ),
    (
        b'  File "/app/app/services/billing.py", line 212, in finalize_invoice',
        b"    total = sum(line.amount for line in invoice.lines) + invoice.tax_amount",
    ),
    (
        b'  File "/usr/local/lib/python3.11/site-packages/sqlalchemy/engine/base.py", line 1969, in'
        b" _exec_single_context",
        b"    self.dialect.do_execute(cursor, str_statement, effective_parameters, context)",
    ),
    (
        b'  File "/usr/local/lib/python3.11/site-packages/redis/connection.py", line 707, in connect',
        b"    sock = self.retry.call_with_retry(lambda: self._connect(), lambda error:"
        b" self.disconnect(error))",
    ),
    (
        b'  File "/app/app/ml/predict.py", line 88, in predict',
        b"    scores = self.model.predict_proba(features.reindex(columns=self.feature_names,"
        b" fill_value=0.0))",
    ),
]
_PY_EXC = [
    b"sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) server closed the connection unexpectedly",
    b"redis.exceptions.ConnectionError: Error 111 connecting to"
    b" redis-master.data.svc.cluster.local:6379. Connection refused.",
    b"KeyError: 'customer_id' while finalizing invoice; payload keys were ['id', 'lines', 'currency', 'tax']",
    b"smtplib.SMTPServerDisconnected: Connection unexpectedly closed: timed out after 30 seconds",
    b"ValueError: could not convert string to float: 'N/A' in column 'avg_basket_value' of feature frame",
]


def _obj(items: list[bytes]) -> np.ndarray:
    a = np.empty(len(items), dtype=object)
    a[:] = items
    return a


# A line format is a list of constants (bytes) and fields. `_rows` folds every constant into
# a neighbouring field (as its suffix or prefix), so a JSON access line costs ~14 fragments,
# and every field is either a pick from a pool of pre-formatted values or a numpy S array.
_POOL = 1 << 16  # pre-formatted numbers per field: far more than one chunk's worth of lines


@dataclass
class _Field:
    kind: str  # vocab | int | float | hex | sec | ms
    args: tuple = ()
    idx: np.ndarray | None = None  # vocab: explicit picks (to correlate two fields)
    override: tuple[np.ndarray, bytes] | None = None  # vocab: (mask, value) forced on some rows
    prefix: bytes = b""
    suffix: bytes = b""


def _vocab(items: list[bytes], idx: np.ndarray | None = None, override: tuple | None = None) -> _Field:
    return _Field("vocab", (tuple(items),), idx, override)


def _int(lo: int, hi: int) -> _Field:
    return _Field("int", (lo, hi))


def _float(mean: float, sigma: float, decimals: int) -> _Field:
    return _Field("float", (mean, sigma, decimals))


def _hex(width: int) -> _Field:
    return _Field("hex", (width,))


def _ts(sep: bytes = b"T", frac: bytes = b".") -> list[_Field]:
    """'YYYY-MM-DD?HH:MM:SS' and '.mmm' of the entry's own timestamp."""
    return [_Field("sec", (sep,)), _Field("ms", (frac,))]


@functools.cache
def _number_pool(kind: str, args: tuple, prefix: bytes, suffix: bytes) -> np.ndarray:
    rng = np.random.default_rng(zlib.crc32(repr((kind, args, prefix, suffix)).encode()))  # stable seed
    if kind == "int":
        lo, hi = args
        vals = [b"%d" % v for v in rng.integers(lo, hi, min(_POOL, hi - lo)).tolist()]
    else:
        mean, sigma, decimals = args
        fmt = b"%%.%df" % decimals
        vals = [fmt % v for v in rng.lognormal(mean, sigma, _POOL).tolist()]
    return _obj([prefix + v + suffix for v in vals])


@functools.cache
def _ms_pool(frac: bytes, suffix: bytes) -> np.ndarray:
    return _obj([b"%s%03d%s" % (frac, i, suffix) for i in range(1000)])


def _field_values(f: _Field, rng: np.random.Generator, ts: np.ndarray) -> np.ndarray:
    n = len(ts)
    if f.kind == "vocab":
        pool = _obj([f.prefix + v + f.suffix for v in f.args[0]])
        out = pool[f.idx if f.idx is not None else rng.integers(0, len(pool), n)]
        if f.override is not None:
            out[f.override[0]] = f.prefix + f.override[1] + f.suffix
        return out
    if f.kind in ("int", "float"):
        pool = _number_pool(f.kind, f.args, f.prefix, f.suffix)
        return pool[rng.integers(0, len(pool), n)]
    if f.kind == "hex":  # random per line; the affixes are written into a fixed-width S array
        w = f.args[0]
        p, q = len(f.prefix), len(f.suffix)
        u8 = np.empty((n, p + w + q), dtype=np.uint8)
        u8[:, :p] = np.frombuffer(f.prefix, dtype=np.uint8)
        u8[:, p : p + w] = np.frombuffer(rng.bytes(n * w // 2).hex().encode(), dtype=np.uint8).reshape(n, w)
        u8[:, p + w :] = np.frombuffer(f.suffix, dtype=np.uint8)
        return u8.view(f"S{p + w + q}").reshape(n)
    if f.kind == "sec":  # formatted once per distinct second (timestamps are sorted)
        secs = ts // 1_000_000_000
        change = np.empty(n, dtype=bool)
        change[:1] = True
        change[1:] = secs[1:] != secs[:-1]
        txt = np.datetime_as_string(secs[change].astype("datetime64[s]"), unit="s").astype("S19")
        txt.view(np.uint8).reshape(-1, 19)[:, 10] = f.args[0][0]
        table = _obj([f.prefix + t + f.suffix for t in txt.tolist()])
        return table[np.cumsum(change) - 1]
    if f.kind == "ms":
        return _ms_pool(f.args[0], f.suffix)[(ts // 1_000_000) % 1000]
    raise ValueError(f.kind)


def _rows(spec: list[bytes | _Field | list[_Field]], rng: np.random.Generator, ts: np.ndarray) -> list[bytes]:
    """Render n = len(ts) lines from a format spec (no fragment may contain b'\\n')."""
    items: list[bytes | _Field] = []
    for it in spec:
        items.extend(it if isinstance(it, list) else [it])
    fields: list[_Field] = []
    pending = b""
    for it in items:
        if isinstance(it, _Field):
            it.prefix, pending = pending + it.prefix, b""
            fields.append(it)
        elif fields:
            fields[-1].suffix += it
        else:
            pending += it
    n = len(ts)
    width = len(fields) + 1
    flat: list[bytes] = [b"\n"] * (n * width)  # row-major fragments, each row ending in b"\n"
    for j, f in enumerate(fields):
        flat[j::width] = _field_values(f, rng, ts).tolist()
    # bytes.join allocates a Py_buffer per item, so join a few thousand rows at a time
    step = width * 4096
    out: list[bytes] = []
    for i in range(0, len(flat), step):
        part = b"".join(flat[i : i + step]).split(b"\n")
        part.pop()
        out.extend(part)
    return out


def _b(items: list[str]) -> list[bytes]:
    return [x.encode() for x in items]


# ---------------------------------------------------------------------------------------------
# one spec per format: (rng, n, error mask or None) -> spec for `_rows`
_Spec = list[bytes | _Field | list[_Field]]


def _json_access(rng: np.random.Generator, n: int, err: np.ndarray | None) -> _Spec:
    pi = rng.integers(0, len(_PATHS), n)
    return [
        b'{"ts":"',
        _ts(),
        b'Z","level":"info","msg":"request","method":"',
        _vocab(_METHODS),
        b'","path":"',
        _vocab([p[0] for p in _PATHS], pi),
        _int(1000, 999_999),
        _vocab([p[1] for p in _PATHS], pi),
        b'","status":',
        _vocab(_STATUS),
        b',"duration_ms":',
        _float(2.5, 1.2, 3),
        b',"bytes":',
        _int(120, 250_000),
        b',"user_id":"u-',
        _hex(8),
        b'","trace_id":"',
        _hex(32),
        b'","remote_addr":"10.244.',
        _int(0, 32),
        b".",
        _int(2, 254),
        b'","user_agent":"',
        _vocab(_AGENTS),
        b'"}',
    ]


def _json_app(rng: np.random.Generator, n: int, err: np.ndarray | None) -> _Spec:
    return [
        b'{"time":"',
        _ts(),
        b'Z","level":"',
        _vocab(_LEVELS),
        b'","logger":"',
        _vocab(_LOGGERS),
        b'","msg":"',
        _vocab(_APP_MSGS),
        b'","attempt":',
        _int(1, 4),
        b',"latency_ms":',
        _float(3.0, 1.0, 2),
        b',"error":',
        _vocab(_ERRS),
        b',"request_id":"',
        _hex(16),
        b'","span_id":"',
        _hex(16),
        b'"}',
    ]


def _logfmt(rng: np.random.Generator, n: int, err: np.ndarray | None) -> _Spec:
    pi = rng.integers(0, len(_PATHS), n)
    return [
        b"ts=",
        _ts(),
        b"Z level=",
        _vocab(_LEVELS),
        b" caller=",
        _vocab(_GO_CALLERS),
        b' msg="handled request" method=',
        _vocab(_METHODS),
        b" path=",
        _vocab([p[0] for p in _PATHS], pi),
        _int(1, 99_999),
        _vocab([p[1] for p in _PATHS], pi),
        b" status=",
        _vocab(_STATUS),
        b" duration=",
        _float(1.5, 1.3, 3),
        b"ms size=",
        _int(0, 65_536),
        b" trace_id=",
        _hex(32),
    ]


def _plain(rng: np.random.Generator, n: int, err: np.ndarray | None) -> _Spec:
    levels = [b"INFO "] * 14 + [b"DEBUG"] * 4 + [b"WARN "] * 2
    return [
        _ts(b" "),
        b" ",
        _vocab(levels, override=None if err is None else (err, b"ERROR")),
        b" [http-nio-8080-exec-",
        _int(1, 200),
        b"] ",
        _vocab(_JAVA_CLASSES),
        b" - ",
        _vocab(_JAVA_MSGS),
        _int(10_000, 9_999_999),
        b" (tenant=",
        _vocab(_b(_NAMESPACES)),
        b", took ",
        _int(1, 5000),
        b" ms, corr=",
        _hex(12),
        b")",
    ]


def _python(rng: np.random.Generator, n: int, err: np.ndarray | None) -> _Spec:
    levels = [b"INFO"] * 14 + [b"DEBUG"] * 4 + [b"WARNING"] * 2
    return [
        b"[",
        _ts(b" ", b","),
        b"] [",
        _int(7, 64),
        b"] [",
        _vocab(levels, override=None if err is None else (err, b"ERROR")),
        b"] ",
        _vocab(_PY_MODULES),
        b": ",
        _vocab(_PY_MSGS),
        _hex(8),
        b"-",
        _hex(4),
        b"] succeeded in ",
        _float(-2.0, 1.5, 6),
        b"s: {'status': 'ok', 'items': ",
        _int(0, 500),
        b"}",
    ]


def _java_traces(rng: np.random.Generator, count: int) -> list[list[bytes]]:
    traces = []
    for _ in range(count):
        depth = int(rng.integers(8, 26))
        frames = [_JAVA_FRAMES[i] for i in rng.integers(0, len(_JAVA_FRAMES), depth)]
        exc = _JAVA_EXC[int(rng.integers(0, len(_JAVA_EXC)))]
        cause = _JAVA_EXC[int(rng.integers(0, len(_JAVA_EXC)))]
        tail = [
            b"Caused by: " + cause,
            *frames[: depth // 3],
            b"\t... " + str(depth).encode() + b" common frames omitted",
        ]
        traces.append([exc, *frames, *tail])
    return traces


def _py_traces(rng: np.random.Generator, count: int) -> list[list[bytes]]:
    traces = []
    for _ in range(count):
        depth = int(rng.integers(3, 8))
        body = [b"Traceback (most recent call last):"]
        for i in rng.integers(0, len(_PY_FRAMES), depth):
            body.extend(_PY_FRAMES[i])
        body.append(_PY_EXC[int(rng.integers(0, len(_PY_EXC)))])
        traces.append(body)
    return traces


_GENERATORS: dict[str, Callable[[np.random.Generator, int, np.ndarray | None], _Spec]] = {
    "json_access": _json_access,
    "json_app": _json_app,
    "logfmt": _logfmt,
    "plain": _plain,
    "java": _plain,
    "python": _python,
}


def _with_traces(
    rng: np.random.Generator, ts: np.ndarray, fmt: str, traces: list[list[bytes]]
) -> tuple[np.ndarray, list[bytes]]:
    """Entries of a stream whose error events are followed by a stack trace, one entry per line."""
    n = len(ts)
    err_p = 0.012
    lens = np.array([len(t) for t in traces], dtype=np.int64)
    flat = _obj([line for t in traces for line in t])
    starts = np.concatenate(([0], np.cumsum(lens)[:-1]))
    # events: 1 head line each, plus the trace lines after an error head
    tid = rng.integers(0, len(traces), n)
    is_err = rng.random(n) < err_p
    per_event = 1 + np.where(is_err, lens[tid], 0)
    ends = np.cumsum(per_event)
    m = int(np.searchsorted(ends, n, side="left")) + 1  # events needed to fill n entries
    m = min(m, n)
    ev_ts = ts[np.linspace(0, n - 1, m).astype(np.int64)]  # m event times spread over the span
    heads = _rows(_GENERATORS[fmt](rng, m, is_err[:m]), rng, ev_ts)
    per_event, is_err, tid = per_event[:m], is_err[:m], tid[:m]
    event_of = np.repeat(np.arange(m), per_event)[:n]
    first = np.concatenate(([0], np.cumsum(per_event)[:-1]))
    pos = np.arange(len(event_of)) - first[event_of]  # 0 = head line, k = k-th trace line
    out = np.empty(len(event_of), dtype=object)
    head_slots = pos == 0
    out[head_slots] = _obj(heads)[event_of[head_slots]]
    tr = ~head_slots
    out[tr] = flat[starts[tid[event_of[tr]]] + pos[tr] - 1]
    entry_ts = ev_ts[event_of] + pos * 1_000  # trace lines 1 µs apart, as written
    entry_ts = np.maximum.accumulate(entry_ts)
    return entry_ts, out.tolist()


def _pod_suffix(rng: np.random.Generator) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    rs = "".join(alphabet[i] for i in rng.integers(0, len(alphabet), 10))
    pod = "".join(alphabet[i] for i in rng.integers(0, len(alphabet), 5))
    return f"{rs}-{pod}"


def make_log_corpus(
    lines: int, streams: int = 200, *, seed: int = 42, end_ns: int | None = None, span_ns: int = _HOUR_NS
) -> LogCorpus:
    """`lines` entries over `streams` streams, timestamps in [end - span, end] (end = now - 5 min)."""
    if streams < 1:
        raise ValueError("need at least one stream")
    rng = np.random.default_rng(seed)
    end_ns = time.time_ns() - _END_LAG_NS if end_ns is None else end_ns
    start_ns = end_ns - span_ns
    weights = rng.lognormal(0.0, 0.8, streams)
    counts = np.floor(weights / weights.sum() * lines).astype(np.int64)
    counts[np.argsort(-weights)[: lines - int(counts.sum())]] += 1
    fmts = rng.choice(len(_FORMATS), streams, p=_FORMAT_WEIGHTS)
    java_traces, py_traces = _java_traces(rng, 40), _py_traces(rng, 40)
    out: list[LogStream] = []
    seen: set[Labels] = set()
    for i in range(streams):
        fmt = _FORMATS[int(fmts[i])]
        app = _APPS[i % len(_APPS)]
        ns = _NAMESPACES[(i // len(_APPS) * 7 + i) % len(_NAMESPACES)]
        stream = "stderr" if fmt in ("java", "python") and i % 3 == 0 else "stdout"
        while True:
            labels: Labels = tuple(
                sorted(
                    {
                        "namespace": ns,
                        "pod": f"{app}-{_pod_suffix(rng)}",
                        "container": app.split("-")[0],
                        "app": app,
                        "stream": stream,
                    }.items()
                )
            )
            if labels not in seen:
                seen.add(labels)
                break
        n = int(counts[i])
        ts = np.sort(rng.integers(start_ns, end_ns, n, dtype=np.int64))
        if n == 0:
            out.append(LogStream(labels, ts, [], fmt))
            continue
        if fmt == "java":
            ts, body = _with_traces(rng, ts, fmt, java_traces)
        elif fmt == "python":
            ts, body = _with_traces(rng, ts, fmt, py_traces)
        else:
            body = _rows(_GENERATORS[fmt](rng, n, None), rng, ts)
        out.append(LogStream(labels, ts, body, fmt))
    # the rare needle: appended to ~1 line in _NEEDLE_EVERY, at deterministic random places
    needles = 0
    for s in out:
        k = len(s.lines) // _NEEDLE_EVERY + (
            1 if rng.random() < (len(s.lines) % _NEEDLE_EVERY) / _NEEDLE_EVERY else 0
        )
        for j in rng.choice(len(s.lines), k, replace=False).tolist() if k else []:
            s.lines[j] = s.lines[j] + b" " + NEEDLE
            needles += 1
    return LogCorpus(out, f"synthetic k8s logs, seed {seed}", NEEDLE, needles)


# ---------------------------------------------------------------------------------------------
# real files
def _is_text(head: bytes) -> bool:
    if not head:
        return False
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is fine
        return exc.start >= len(head) - 4


_BINARY_SUFFIXES = (
    ".gz",
    ".xz",
    ".bz2",
    ".zst",
    ".zip",
    ".lz4",
    ".tgz",
    ".journal",
    ".png",
    ".jpg",
    ".gif",
    ".pdf",
)


def load_dir_corpus(
    root: str, *, end_ns: int | None = None, span_ns: int = _HOUR_NS, max_bytes: int = 2 << 30
) -> LogCorpus:
    """One stream per readable text file under `root` (recursively); lines as they are,
    timestamps spread evenly over [end - span, end] in file order. Binary, compressed and
    unreadable files are skipped; at most `max_bytes` of text are loaded."""
    end_ns = time.time_ns() - _END_LAG_NS if end_ns is None else end_ns
    streams: list[LogStream] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if name.endswith(_BINARY_SUFFIXES) or os.path.islink(path) or not os.path.isfile(path):
                continue
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            if not _is_text(data[:8192]) or total + len(data) > max_bytes:
                continue
            lines = data.split(b"\n")
            if lines and lines[-1] == b"":
                lines.pop()
            if not lines:
                continue
            n = len(lines)
            total += len(data)
            ts = end_ns - span_ns + (np.arange(n, dtype=np.int64) * (span_ns // max(n, 1)))
            rel = os.path.relpath(path, root)
            streams.append(LogStream((("filename", rel[:1024]), ("job", "corpus")), ts, lines, "file"))
    return LogCorpus(streams, f"text files under {root}", b"heron-bench-needle-absent", 0)


# ---------------------------------------------------------------------------------------------
# metrics
METRIC_KINDS = ("counter", "int_gauge", "histogram", "float_gauge")
_KIND_SHARES = {"counter": 0.35, "int_gauge": 0.25, "histogram": 0.25, "float_gauge": 0.15}
_COUNTER_NAMES = [
    "node_network_receive_bytes_total",
    "node_network_transmit_packets_total",
    "node_disk_reads_completed_total",
    "node_disk_written_bytes_total",
    "container_network_receive_bytes_total",
    "http_requests_total",
    "node_context_switches_total",
    "container_cpu_cfs_throttled_periods_total",
    "node_intr_total",
    "process_open_fds_opened_total",
    "kube_pod_container_status_restarts_total",
    "grpc_server_handled_total",
]
_GAUGE_NAMES = [
    "container_memory_working_set_bytes",
    "container_memory_rss",
    "node_memory_MemAvailable_bytes",
    "process_resident_memory_bytes",
    "process_open_fds",
    "node_filefd_allocated",
    "container_threads",
    "kube_deployment_status_replicas_available",
    "node_procs_running",
]
_HIST_NAMES = [
    "http_request_duration_seconds",
    "grpc_server_handling_seconds",
    "apiserver_request_duration_seconds",
]
_FLOAT_NAMES = [
    "node_load1",
    "node_load5",
    "node_hwmon_temp_celsius",
    "go_gc_duration_seconds_avg",
    "node_cpu_scaling_ratio",
    "container_cpu_usage_ratio",
    "node_network_speed_ewma",
]
_LE = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]
_TARGET_SIZE = 500
_STEP_MS = 15_000


@dataclass
class MetricCorpus:
    labels: list[Labels]
    kinds: np.ndarray  # index into METRIC_KINDS, one per series
    target: np.ndarray  # target (timestamp row) of each series
    timestamps: np.ndarray  # int64 ms, shape (targets, samples)
    values: np.ndarray  # float64, shape (series, samples)
    description: str = ""
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def series(self) -> int:
        return len(self.labels)

    @property
    def samples_per_series(self) -> int:
        return int(self.values.shape[1])

    def ts_of(self, s: int) -> np.ndarray:
        return self.timestamps[self.target[s]]

    def subset(self, mask: np.ndarray) -> MetricCorpus:
        idx = np.flatnonzero(mask)
        return MetricCorpus(
            [self.labels[i] for i in idx.tolist()],
            self.kinds[idx],
            self.target[idx],
            self.timestamps,
            self.values[idx],
            self.description,
        )


def _counter_values(rng: np.random.Generator, n: int, t: int) -> np.ndarray:
    rate = rng.lognormal(0.5, 2.0, n)  # events per second, very skewed
    rate[rng.random(n) < 0.2] = 0.0  # idle counters (constant value)
    lam = np.repeat((rate * 15.0)[:, None], t, axis=1)
    bursty = rng.random(n) < 0.15
    if bursty.any():  # bursts: a few 2-minute windows at 30x the usual rate
        for i in np.flatnonzero(bursty).tolist():
            for _ in range(int(rng.integers(1, 4))):
                a = int(rng.integers(0, max(1, t - 8)))
                lam[i, a : a + 8] *= 30.0
    inc = rng.poisson(lam).astype(np.float64)
    start = np.floor(rng.lognormal(10, 3, n))
    return start[:, None] + np.cumsum(inc, axis=1)


def _gauge_values(rng: np.random.Generator, n: int, t: int, names: list[str]) -> np.ndarray:
    out = np.empty((n, t))
    for i, name in enumerate(names):
        if "bytes" in name or "memory" in name:
            pages = int(rng.integers(2_000, 2_000_000))
            steps = rng.integers(-64, 65, t) * (rng.random(t) < 0.6)
            out[i] = 4096.0 * np.maximum(1, pages + np.cumsum(steps))
        elif "replicas" in name:
            out[i] = float(rng.integers(1, 6))
        else:
            base = int(rng.integers(5, 3000))
            out[i] = np.maximum(0, base + np.cumsum(rng.integers(-3, 4, t) * (rng.random(t) < 0.3)))
    return out


def _float_values(rng: np.random.Generator, n: int, t: int) -> np.ndarray:
    base = rng.uniform(0.1, 80.0, n)[:, None]
    walk = np.cumsum(rng.normal(0, 0.05, (n, t)), axis=1)
    return (
        np.abs(base * (1.0 + 0.1 * np.sin(np.linspace(0, 6, t))[None, :]) + walk) + rng.random((n, t)) * 1e-3
    )


def _hist_values(rng: np.random.Generator, h: int, t: int) -> np.ndarray:
    """h histograms -> rows [bucket x12, sum, count] per histogram (cumulative over time)."""
    nb = len(_LE)
    out = np.empty((h * (nb + 2), t))
    bounds = np.array([float(x) for x in _LE[:-1]])
    for i in range(h):
        rate = float(rng.lognormal(0.0, 1.5))
        k = rng.poisson(rate * 15.0, t)
        mu, sigma = float(rng.uniform(-5, 0)), float(rng.uniform(0.5, 1.5))
        cdf = np.array(
            [0.5 * (1 + math.erf((math.log(b) - mu) / (sigma * math.sqrt(2)))) for b in bounds] + [1.0]
        )
        p = np.diff(np.concatenate(([0.0], cdf)))
        p = np.clip(p, 0, None)
        p /= p.sum()
        per_bucket = rng.multinomial(k, p)  # (t, nb)
        cum = np.cumsum(np.cumsum(per_bucket, axis=1), axis=0)  # le-cumulative, then over time
        row = i * (nb + 2)
        out[row : row + nb] = cum.T
        mean = float(np.exp(mu + sigma * sigma / 2))
        sums = np.round(k * mean * rng.uniform(0.8, 1.2, t), 3)
        out[row + nb] = np.round(np.cumsum(sums), 3)
        out[row + nb + 1] = np.cumsum(k)
    return out


def make_metric_corpus(
    series: int, samples: int, *, seed: int = 7, end_ms: int | None = None, jitter_ms: int = 3
) -> MetricCorpus:
    """~`series` series x `samples` samples at 15 s, grouped in scrape targets of 500 series."""
    rng = np.random.default_rng(seed)
    end_ms = int(time.time() * 1000) - 5 * 60 * 1000 if end_ms is None else end_ms
    n_hist = max(1, round(series * _KIND_SHARES["histogram"] / (len(_LE) + 2)))
    n_count = round(series * _KIND_SHARES["counter"])
    n_float = round(series * _KIND_SHARES["float_gauge"])
    n_gauge = max(0, series - n_count - n_float - n_hist * (len(_LE) + 2))
    dicts: list[dict[str, str]] = []
    kinds: list[int] = []
    blocks: list[np.ndarray] = []

    def add(name: str, extra: dict[str, str], kind: int, idx: int) -> None:
        job = ("node-exporter", "cadvisor", "kubernetes-pods", "node-exporter")[kind]
        dicts.append({"__name__": name, "job": job, **extra})
        kinds.append(kind)

    for j in range(n_count):
        name = _COUNTER_NAMES[j % len(_COUNTER_NAMES)]
        add(
            name,
            {"device": f"eth{j // len(_COUNTER_NAMES) % 4}", "pod": f"p-{j // len(_COUNTER_NAMES)}"},
            0,
            j,
        )
    blocks.append(_counter_values(rng, n_count, samples))
    gnames = [_GAUGE_NAMES[j % len(_GAUGE_NAMES)] for j in range(n_gauge)]
    for j, name in enumerate(gnames):
        add(
            name, {"container": f"c-{j // len(_GAUGE_NAMES) % 7}", "pod": f"p-{j // len(_GAUGE_NAMES)}"}, 1, j
        )
    blocks.append(_gauge_values(rng, n_gauge, samples, gnames))
    for h in range(n_hist):
        name = _HIST_NAMES[h % len(_HIST_NAMES)]
        base = {"handler": f"/api/v{h % 3}/r{h // len(_HIST_NAMES)}", "method": "GET"}
        for le in _LE:
            add(name + "_bucket", {**base, "le": le}, 2, h)
        add(name + "_sum", base, 2, h)
        add(name + "_count", base, 2, h)
    blocks.append(_hist_values(rng, n_hist, samples))
    for j in range(n_float):
        name = _FLOAT_NAMES[j % len(_FLOAT_NAMES)]
        add(name, {"sensor": f"s{j // len(_FLOAT_NAMES) % 5}", "pod": f"p-{j // len(_FLOAT_NAMES)}"}, 3, j)
    blocks.append(_float_values(rng, n_float, samples))
    values = np.concatenate([b for b in blocks if b.size], axis=0)
    n = len(dicts)
    n_targets = max(1, -(-n // _TARGET_SIZE))
    target = rng.permutation(np.arange(n) % n_targets)
    labels: list[Labels] = []
    for d, t in zip(dicts, target.tolist()):  # series of one instance share its scrape timestamps
        d["instance"] = f"10.0.{t // 250}.{t % 250 + 2}:9100"
        labels.append(tuple(sorted(d.items())))
    offsets = rng.integers(0, _STEP_MS, n_targets)
    first = end_ms - (samples - 1) * _STEP_MS - _STEP_MS
    grid = first + offsets[:, None] + _STEP_MS * np.arange(samples, dtype=np.int64)[None, :]
    jitter = rng.integers(-jitter_ms, jitter_ms + 1, grid.shape) if jitter_ms else 0
    timestamps = (grid + jitter).astype(np.int64)
    desc = f"synthetic scrape metrics, seed {seed}, {n_targets} targets, jitter +-{jitter_ms} ms"
    return MetricCorpus(labels, np.array(kinds, dtype=np.int8), target, timestamps, values, desc)
