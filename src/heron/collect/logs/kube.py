"""Pod metadata for the node agent: list + watch the pods on this node, serve labels from memory.

Why a watch and not per-file API calls: the agent tails every container log file on the node and
must label each stream without ever waiting on the network. So one background thread keeps a
local copy of this node's pods (`fieldSelector=spec.nodeName=<node>`, the same narrow view the
kubelet has), and `lookup()` is a plain dict read. When the API server is down, or answers 403
because RBAC is missing, the agent keeps running: it logs a structured warning, keeps whatever it
already knew, and the caller falls back to the labels encoded in the log path
(`/var/log/pods/<namespace>_<pod>_<uid>/<container>/`). Retries back off exponentially with
jitter so a node fleet does not stampede a recovering control plane.

Deleted pods stay known for `deleted_ttl` seconds after their DELETED event because their last
log lines are often read after the pod is gone.
"""

from __future__ import annotations

import fnmatch
import logging
import random
import re
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2
from lightkube import ApiError, Client
from lightkube.config.client_adapter import verify_cluster
from lightkube.config.kubeconfig import KubeConfig, SingleConfig
from lightkube.resources.core_v1 import Pod

from heron.logsetup import log_fields

__all__ = [
    "ANNOTATION_EXCLUDE",
    "ANNOTATION_MULTILINE",
    "DEFAULT_LABEL_DENY",
    "ClientFactory",
    "WatchGone",
    "InterruptibleTransport",
    "KubeConnection",
    "PodInfo",
    "PodMetadata",
    "kube_client_factory",
    "pod_info",
    "sanitize_label_name",
    "close_connection",
    "retry_delay",
    "watch_events",
]

log = logging.getLogger("heron.collect.kube")

ANNOTATION_EXCLUDE = "heron.io/exclude"
ANNOTATION_MULTILINE = "heron.io/multiline"

# Labels that change with every rollout or name one pod: as stream labels they only multiply
# streams without helping anyone select logs. Denied unless the caller passes its own deny list.
DEFAULT_LABEL_DENY: tuple[str, ...] = (
    "pod-template-hash",
    "controller-revision-hash",
    "pod-template-generation",
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
)

# Stream labels heron sets itself; a pod label that sanitises to one of these is dropped so a
# workload can never overwrite where its logs appear to come from.
_RESERVED_LABELS = frozenset({"namespace", "pod", "container", "node", "app", "stream"})
_INVALID_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")


def sanitize_label_name(key: str) -> str:
    """A Kubernetes label key as a valid Loki/Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.

    `app.kubernetes.io/name` becomes `app_kubernetes_io_name`; a leading digit gets a `_` prefix.
    """
    name = _INVALID_LABEL_CHARS.sub("_", key)
    if not name or name[0].isdigit():
        name = "_" + name
    return name


@dataclass(frozen=True)
class PodInfo:
    """What the log collector needs about one pod, precomputed once per pod change.

    `labels` holds namespace, pod, node, app (when known) and the allowed pod labels; the caller
    adds `container` (and `stream`) per log file.
    """

    uid: str
    labels: Mapping[str, str]
    excluded: bool
    multiline: str | None
    containers: tuple[str, ...]


def _label_allowed(key: str, allow: list[str] | None, deny: Iterable[str]) -> bool:
    if allow is not None and not any(fnmatch.fnmatchcase(key, pattern) for pattern in allow):
        return False
    return not any(fnmatch.fnmatchcase(key, pattern) for pattern in deny)


def pod_info(
    pod: Pod, node_name: str, *, label_allow: list[str] | None, label_deny: Iterable[str]
) -> PodInfo:
    """Derive a pod's stream labels and collection settings.

    `label_allow`/`label_deny` are glob patterns (`fnmatch`, case-sensitive) on the Kubernetes
    label key; allow=None means every label, deny wins over allow. `app` comes from
    `app.kubernetes.io/name`, else `app`, regardless of the lists, because dashboards key on it.
    """
    meta = pod.metadata
    assert meta is not None
    pod_labels: dict[str, str] = dict(meta.labels or {})
    annotations: dict[str, str] = dict(meta.annotations or {})
    labels: dict[str, str] = {
        "namespace": meta.namespace or "",
        "pod": meta.name or "",
        "node": (pod.spec.nodeName if pod.spec else None) or node_name,
    }
    app = pod_labels.get("app.kubernetes.io/name") or pod_labels.get("app")
    if app:
        labels["app"] = app
    for key in sorted(pod_labels):  # sorted: which of two colliding keys wins is deterministic
        if not _label_allowed(key, label_allow, label_deny):
            continue
        name = sanitize_label_name(key)
        if name in _RESERVED_LABELS or name in labels:
            continue
        labels[name] = pod_labels[key]
    containers: list[str] = []
    if pod.spec is not None:
        for group in (pod.spec.initContainers, pod.spec.containers, pod.spec.ephemeralContainers):
            containers.extend(c.name for c in group or ())
    return PodInfo(
        uid=meta.uid or "",
        labels=labels,
        excluded=annotations.get(ANNOTATION_EXCLUDE, "").strip().lower() == "true",
        multiline=annotations.get(ANNOTATION_MULTILINE),
        containers=tuple(containers),
    )


class InterruptibleTransport(httpx2.BaseTransport):
    """An httpx transport whose open responses can be cut from another thread.

    Why: lightkube reads watch streams with no read timeout (an idle watch is normal), so a thread
    blocked in that read could only be stopped by the server. `interrupt()` shuts the sockets of
    responses still open, which wakes the read at once, so `PodMetadata.stop()` is prompt.

    It also adds `allowWatchBookmarks=true` to watch requests: lightkube's `watch()` has no
    parameter for it, and bookmarks are what keep our resourceVersion fresh on a quiet node, so
    a reconnect after a long idle period does not hit 410 Gone and a full re-list.
    """

    def __init__(self, inner: httpx2.BaseTransport) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._interrupted = False

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if self._interrupted:
            raise httpx2.ConnectError(
                "transport interrupted (pod metadata watcher stopping)", request=request
            )
        params = request.url.params
        if params.get("watch") == "true" and "allowWatchBookmarks" not in params:
            request.url = request.url.copy_add_param("allowWatchBookmarks", "true")
        response = self._inner.handle_request(request)
        stream: Any = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with self._lock:
                self._sockets.add(sock)
                interrupted = self._interrupted
            if interrupted:
                _shutdown(sock)
        return response

    def interrupt(self) -> None:
        """Fail every open and future request; safe from any thread."""
        with self._lock:
            self._interrupted = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)

    def close(self) -> None:
        self._inner.close()


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


@dataclass
class KubeConnection:
    """A lightkube client plus the transport that can interrupt its blocking reads."""

    client: Client
    transport: InterruptibleTransport

    def close(self) -> None:
        self.client.close()  # closes the httpx client, its transport and every pooled socket


ClientFactory = Callable[[], KubeConnection]


def kube_client_factory(
    config: KubeConfig | SingleConfig | None = None, *, timeout: float = 10.0
) -> ClientFactory:
    """Build connections from a kubeconfig; None means in-cluster (service account) or $KUBECONFIG.

    The TLS context is built the way lightkube builds it, because a custom transport replaces
    httpx's own, which would otherwise have received lightkube's `verify=`.
    """
    if config is None:
        config = KubeConfig.from_env()
    single = config.get() if isinstance(config, KubeConfig) else config
    if single is None or single.user is None:
        # lightkube's Client would fail the same way, but later, inside the watch thread.
        raise ValueError("kubeconfig has no current context or no user (use User() for no credentials)")
    user = single.user

    def factory() -> KubeConnection:
        assert single is not None
        ssl_context = verify_cluster(single.cluster, user, single.abs_file)
        transport = InterruptibleTransport(httpx2.HTTPTransport(verify=ssl_context))
        client = Client(config=single, timeout=httpx2.Timeout(timeout), transport=transport, trust_env=False)
        return KubeConnection(client, transport)

    return factory


class WatchGone(Exception):
    """The watch's resourceVersion is older than the server's history: re-list."""


def watch_events(events: Iterator[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
    """A lightkube watch's (kind, object) events, a 410 Gone raised as WatchGone. Closing this
    generator closes the watch's, so its frame and response are freed at once."""
    try:
        yield from events
    except ApiError as e:
        if e.status.code == 410:
            raise WatchGone(e.status.message or "410 Gone") from e
        raise
    finally:
        events.close()  # type: ignore[attr-defined]


def close_connection(conn: KubeConnection | None) -> None:
    """Close a finished list/watch's connection; a failure is logged, never raised, because
    it must not end the watch thread."""
    if conn is None:
        return
    try:
        conn.close()
    except Exception as e:  # noqa: BLE001 - closing must never end the watch thread
        log.debug("closing the API connection failed", extra=log_fields(error=str(e)))


def retry_delay(failures: int, initial: float, maximum: float) -> float:
    """Exponential backoff after `failures` (>= 1) in a row, jittered to [0.5, 1] of it so a
    fleet of agents does not retry in lockstep."""
    return min(maximum, initial * 2 ** min(failures - 1, 30)) * random.uniform(0.5, 1.0)


class PodMetadata:
    """This node's pods, kept current by a background list+watch; lookups never block.

    Thread model: the watch thread and a janitor thread (which drops deleted pods on time even
    when no event wakes the watch) write under `_write_lock`; readers do single dict reads of
    immutable values and take no lock (a dict get is atomic under the GIL).
    """

    def __init__(
        self,
        node_name: str,
        client_factory: ClientFactory,
        *,
        label_allow: list[str] | None = None,
        label_deny: list[str] | None = None,
        deleted_ttl: float = 60.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        watch_timeout: int = 300,
    ) -> None:
        self.node_name = node_name
        self._client_factory = client_factory
        self._label_allow = list(label_allow) if label_allow is not None else None
        self._label_deny: tuple[str, ...] = (
            tuple(label_deny) if label_deny is not None else DEFAULT_LABEL_DENY
        )
        self.deleted_ttl = deleted_ttl
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._watch_timeout = watch_timeout  # server-side: a watch is renewed this often
        self._by_uid: dict[str, PodInfo] = {}
        self._by_name: dict[tuple[str, str], str] = {}  # (namespace, name) -> uid of the newest pod
        self._deleted_at: dict[str, float] = {}  # uid -> monotonic expiry of a deleted pod
        self._resource_version: str | None = None
        self._healthy = False
        self._last_error: str | None = None
        self._failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._janitor: threading.Thread | None = None
        self._write_lock = threading.Lock()
        self._conn_lock = threading.Lock()
        self._conn: KubeConnection | None = None

    # ---- public API -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the watch thread; returns at once, metadata arrives in the background."""
        if self._thread is not None:
            raise RuntimeError("PodMetadata already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"pod-metadata-{self.node_name}", daemon=True)
        self._thread.start()
        self._janitor = threading.Thread(
            target=self._janitor_run, name=f"pod-metadata-janitor-{self.node_name}", daemon=True
        )
        self._janitor.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the watch: cut its connection so a blocked read returns, then join the thread."""
        self._stop.set()
        with self._conn_lock:
            conn = self._conn
        if conn is not None:
            conn.transport.interrupt()
        for thread in (self._thread, self._janitor):
            if thread is not None:
                thread.join(timeout)
        self._thread = self._janitor = None

    def lookup(self, namespace: str, pod_name: str, uid: str | None = None) -> PodInfo | None:
        """The pod's metadata if known (a deleted pod's until its TTL runs out), else None.

        With `uid` (from the log path), a recreated pod of the same name is never confused with
        the old one; without it, the newest pod of that name answers.
        """
        if not uid:
            uid = self._by_name.get((namespace, pod_name))
            if uid is None:
                return None
        info = self._by_uid.get(uid)
        if info is None or info.labels.get("namespace") != namespace or info.labels.get("pod") != pod_name:
            return None
        expiry = self._deleted_at.get(uid)
        if expiry is not None and time.monotonic() >= expiry:
            return None
        return info

    @property
    def healthy(self) -> bool:
        """True while the last list/watch succeeded (for the agent's metrics and readiness)."""
        return self._healthy

    @property
    def last_error(self) -> str | None:
        """The last API error as text, kept after recovery for diagnosis; None if there was none."""
        return self._last_error

    @property
    def resource_version(self) -> str | None:
        """The last resourceVersion seen (list, event or bookmark): where a re-watch resumes."""
        return self._resource_version

    @property
    def client_factory(self) -> ClientFactory:
        """How this watcher connects, so metric discovery can use the same API server."""
        return self._client_factory

    def __len__(self) -> int:
        return len(self._by_uid)

    # ---- the watch thread -------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            conn: KubeConnection | None = None
            try:
                conn = self._client_factory()
                with self._conn_lock:
                    self._conn = conn
                if self._stop.is_set():
                    break
                if self._resource_version is None:
                    self._list(conn.client)
                self._watch(conn.client)
            except WatchGone as e:
                log.info(
                    "pod watch history expired, re-listing",
                    extra=log_fields(node=self.node_name, error=str(e)),
                )
                self._resource_version = None
            except Exception as e:  # noqa: BLE001 - any failure: keep serving, back off, retry
                if self._stop.is_set():
                    break
                self._on_failure(e)
            finally:
                with self._conn_lock:
                    self._conn = None
                close_connection(conn)

    def _janitor_run(self) -> None:
        interval = max(0.05, min(self.deleted_ttl / 4, 5.0))
        while not self._stop.wait(interval):
            self._purge_deleted()

    def _list(self, client: Client) -> None:
        listing = client.list(Pod, namespace="*", fields={"spec.nodeName": self.node_name})
        pods = list(listing)  # all pages fetched before anything is applied
        seen = {p.metadata.uid for p in pods if p.metadata is not None and p.metadata.uid}
        with self._write_lock:
            for pod in pods:
                self._apply("ADDED", pod)
            # Pods gone while we were not watching: their DELETED event was missed, age them out now.
            now = time.monotonic()
            for uid in list(self._by_uid):
                if uid not in seen and uid not in self._deleted_at:
                    self._deleted_at[uid] = now + self.deleted_ttl
        self._resource_version = listing.resourceVersion
        self._on_success()
        log.debug(
            "pods listed",
            extra=log_fields(node=self.node_name, pods=len(seen), resource_version=self._resource_version),
        )

    def _watch(self, client: Client) -> None:
        events = client.watch(
            Pod,
            namespace="*",
            fields={"spec.nodeName": self.node_name},
            resource_version=self._resource_version,
            server_timeout=self._watch_timeout,
        )
        for kind, pod in watch_events(events):
            if self._stop.is_set():
                return
            self._on_success()
            rv = pod.metadata.resourceVersion if pod.metadata is not None else None
            if kind != "BOOKMARK":
                with self._write_lock:
                    self._apply(kind, pod)
            if rv:
                self._resource_version = rv

    def _apply(self, kind: str, pod: Pod) -> None:
        """Record one pod change; the caller holds `_write_lock`."""
        meta = pod.metadata
        if meta is None or not meta.uid or not meta.name or not meta.namespace:
            return
        if kind == "DELETED":
            if meta.uid in self._by_uid:
                self._deleted_at[meta.uid] = time.monotonic() + self.deleted_ttl
            return
        info = pod_info(pod, self.node_name, label_allow=self._label_allow, label_deny=self._label_deny)
        self._by_uid[meta.uid] = info
        self._by_name[(meta.namespace, meta.name)] = meta.uid
        self._deleted_at.pop(meta.uid, None)

    def _purge_deleted(self) -> None:
        now = time.monotonic()
        with self._write_lock:
            for uid, expiry in list(self._deleted_at.items()):
                if now < expiry:
                    continue
                info = self._by_uid.pop(uid, None)
                del self._deleted_at[uid]
                if info is not None:
                    key = (info.labels["namespace"], info.labels["pod"])
                    if self._by_name.get(key) == uid:
                        del self._by_name[key]

    def _on_success(self) -> None:
        if not self._healthy and self._failures:
            log.info("pod metadata watch recovered", extra=log_fields(node=self.node_name))
        self._healthy = True
        self._failures = 0

    def _on_failure(self, error: Exception) -> None:
        self._healthy = False
        self._failures += 1
        status = _http_status(error)
        text = f"{type(error).__name__}: {error}"
        changed = text != self._last_error
        self._last_error = text
        delay = retry_delay(self._failures, self._backoff_initial, self._backoff_max)
        # Warn on the first failure and on every new kind of failure; repeats go to debug so a long
        # outage does not flood the agent's own logs (which heron may be collecting).
        level = logging.WARNING if changed or self._failures == 1 else logging.DEBUG
        hint = "check the ClusterRole allows list/watch pods" if status == 403 else None
        log.log(
            level,
            "kubernetes pod metadata unavailable, using log path labels",
            extra=log_fields(
                node=self.node_name,
                error=text,
                status=status,
                hint=hint,
                attempt=self._failures,
                retry_in=round(delay, 3),
                pods_known=len(self._by_uid),
            ),
        )
        self._stop.wait(delay)


def _http_status(error: Exception) -> int | None:
    if isinstance(error, ApiError):
        return error.status.code
    if isinstance(error, httpx2.HTTPStatusError):
        return error.response.status_code
    return None
