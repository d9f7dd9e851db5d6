"""`kubernetes_sd_configs`: target groups from the Kubernetes API, kept current by list + watch.

One `KubernetesSD` per config entry. Like Prometheus' informers, it lists each resource it needs
(per namespace when `namespaces` names some), then watches from the list's resourceVersion,
resumes a broken watch from the last version it saw (bookmarks keep that fresh), re-lists when
the server answers 410 Gone, and reconnects with capped, jittered exponential backoff when the
API server is down or refuses (RBAC). What it knew stays published through an outage.

Roles and what each watches (as Prometheus 2.42 does):

| role | watches | group per |
|---|---|---|
| pod | pods (+ nodes with `attach_metadata.node`) | pod |
| node | nodes | node |
| service | services | service |
| endpointslice | endpointslices, services, pods (+ nodes with `attach_metadata.node`) | slice |

`selectors` go to the API server as `labelSelector`/`fieldSelector` of the resource they name,
so a node-local agent (`spec.nodeName=<node>`) only ever receives its own pods. Labels are built
by `kubesd_labels`. The snapshot is published only once every watched resource has been listed
once (or has failed once), so an endpointslice is not first published without its service's labels.

Cost: each change marks the groups that depend on it and each is rebuilt once per list or event;
pods and nodes are stored as slim copies of the fields labels read (a real pod carries env,
volumes and managed fields; a node lists its images). `bench/kubesd.py` measures it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from lightkube import ApiError, operators
from lightkube.resources.core_v1 import Node, Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from heron.collect.logs.kube import KubeConnection, WatchGone, close_connection, retry_delay, watch_events
from heron.collect.metrics.discovery import Discoverer, TargetGroup
from heron.collect.metrics.kubesd_labels import (
    SERVICE_NAME_LABEL,
    endpointslice_group,
    node_group,
    pod_group,
    pod_labels,
    service_group,
    slim_node,
    slim_pod,
)
from heron.logsetup import log_fields
from heron.promconfig.types import KubernetesSDConfig, ScrapeConfig

__all__ = [
    "ALLOWED_SELECTORS",
    "ROLES",
    "SERVICE_ACCOUNT_NAMESPACE",
    "KubernetesSD",
    "connection_for",
    "parse_field_selector",
    "parse_label_selector",
    "scrape_discoverers",
]

log = logging.getLogger("heron.collect.metrics.kubesd")

SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
ROLES = ("pod", "node", "service", "endpointslice")
# Which `selectors[].role` each discovery role accepts (Prometheus' `allowedSelectors`).
ALLOWED_SELECTORS: dict[str, tuple[str, ...]] = {
    "pod": ("pod",),
    "node": ("node",),
    "service": ("service",),
    "endpointslice": ("pod", "service", "endpointslice"),
}
_RESOURCES: dict[str, Any] = {"pod": Pod, "node": Node, "service": Service, "endpointslice": EndpointSlice}

Selector = list[tuple[str, Any]]  # lightkube's `build_selector` pairs


# ---- selectors --------------------------------------------------------------------------------


def _split_top(text: str) -> list[str]:
    parts: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced ')' in selector {text!r}")
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth:
        raise ValueError(f"unbalanced '(' in selector {text!r}")
    parts.append(text[start:])
    out = [p.strip() for p in parts]
    if any(not p for p in out) and text.strip():
        raise ValueError(f"empty requirement in selector {text!r}")
    return [p for p in out if p]


def _check_key(key: str, text: str) -> str:
    if not key or any(c.isspace() or c in "=!(),<>" for c in key):
        raise ValueError(f"invalid key {key!r} in selector {text!r}")
    return key


def parse_label_selector(text: str) -> Selector:
    """A Kubernetes label selector (`a=b,c!=d,e in (f,g),h notin (i),j,!k,n>1`) as lightkube
    pairs, so lightkube sends it unchanged in meaning; ValueError names what is wrong."""
    out: Selector = []
    for part in _split_top(text):
        words = part.split(None, 1)
        if len(words) == 2 and words[1].split(None, 1)[0] in ("in", "notin"):
            op, _, rest = words[1].partition(" ")
            rest = rest.strip()
            if not (rest.startswith("(") and rest.endswith(")")):
                raise ValueError(f"values of {op!r} must be in parentheses in selector {text!r}")
            values = [v.strip() for v in rest[1:-1].split(",") if v.strip()]
            if not values:
                raise ValueError(f"{op!r} needs at least one value in selector {text!r}")
            key = _check_key(words[0], text)
            out.append((key, operators.in_(values) if op == "in" else operators.not_in(values)))
        elif part.startswith("!") and "=" not in part:
            out.append((_check_key(part[1:].strip(), text), operators.not_exists()))
        else:
            for sym in ("!=", "==", "=", ">", "<"):
                if sym in part:
                    key, _, value = part.partition(sym)
                    key, value = _check_key(key.strip(), text), value.strip()
                    if any(c.isspace() or c in "(),=!" for c in value):
                        raise ValueError(f"invalid value {value!r} in selector {text!r}")
                    if sym in (">", "<"):
                        if not value.lstrip("-").isdigit():
                            raise ValueError(f"{sym!r} needs an integer in selector {text!r}")
                        out.append((key, operators.Operator("gt" if sym == ">" else "lt", sym, value)))
                    else:
                        out.append(
                            (key, operators.not_equal(value) if sym == "!=" else operators.equal(value))
                        )
                    break
            else:
                out.append((_check_key(part, text), operators.exists()))
    return out


def parse_field_selector(text: str) -> Selector:
    """A field selector (`spec.nodeName=n1,status.phase!=Failed`): only `=`, `==` and `!=`."""
    out: Selector = []
    for part in _split_top(text):
        for sym in ("!=", "==", "="):
            if sym in part:
                key, _, value = part.partition(sym)
                key = _check_key(key.strip(), text)
                out.append(
                    (
                        key,
                        operators.not_equal(value.strip()) if sym == "!=" else operators.equal(value.strip()),
                    )
                )
                break
        else:
            raise ValueError(f"field selector requirement {part!r} needs '=', '==' or '!=' (in {text!r})")
    return out


# ---- informers --------------------------------------------------------------------------------


class _Informer:
    """List + watch one resource in one namespace (or all) with selectors, on its own thread.

    Applies every change through `sd._apply(kind, event, obj)` under the discoverer's lock.
    """

    def __init__(
        self,
        sd: KubernetesSD,
        kind: str,
        namespace: str | None,
        labels: Selector,
        fields: Selector,
    ) -> None:
        self.sd = sd
        self.kind = kind
        self.resource = _RESOURCES[kind]
        self.namespace = namespace  # None: cluster-scoped; "*": every namespace
        self.labels = labels
        self.fields = fields
        self.keys: set[tuple[str, str]] = set()  # what this informer put in the shared store
        self.resource_version: str | None = None
        self.synced = False  # listed once, or failed once: the snapshot need not wait for it
        self.healthy = False
        self.error: str | None = None
        self.failures = 0
        self.lists = 0
        self.conn: KubeConnection | None = None
        self.conn_lock = threading.Lock()
        self.thread = threading.Thread(
            target=self._run, name=f"kubesd-{kind}-{namespace or 'cluster'}", daemon=True
        )

    @property
    def where(self) -> str:
        return self.kind if self.namespace in (None, "*") else f"{self.kind} in {self.namespace}"

    def _ns(self) -> dict[str, Any]:
        return {} if self.namespace is None else {"namespace": self.namespace}

    def _run(self) -> None:
        stop = self.sd._stop
        while not stop.is_set():
            conn: KubeConnection | None = None
            try:
                conn = self.sd._connect()
                with self.conn_lock:
                    self.conn = conn
                if stop.is_set():
                    break
                if self.resource_version is None:
                    self._list(conn)
                self._watch(conn)
            except WatchGone as e:
                log.info(
                    "kubernetes watch history expired, re-listing",
                    extra=log_fields(role=self.sd.role, resource=self.where, error=str(e)),
                )
                self.resource_version = None
            except Exception as e:  # noqa: BLE001 - any failure: keep what is known, back off, retry
                if stop.is_set():
                    break
                self._failed(e)
            finally:
                with self.conn_lock:
                    self.conn = None
                close_connection(conn)

    def interrupt(self) -> None:
        with self.conn_lock:
            conn = self.conn
        if conn is not None:
            conn.transport.interrupt()

    def _list(self, conn: KubeConnection) -> None:
        listing = conn.client.list(
            self.resource, labels=self.labels or None, fields=self.fields or None, **self._ns()
        )
        objects = list(listing)  # every page fetched before anything is applied
        self.sd._replace(self, objects)
        self.resource_version = listing.resourceVersion
        self.lists += 1
        self._ok()

    def _watch(self, conn: KubeConnection) -> None:
        events = conn.client.watch(
            self.resource,
            labels=self.labels or None,
            fields=self.fields or None,
            resource_version=self.resource_version,
            server_timeout=self.sd._watch_timeout,
            **self._ns(),
        )
        for kind, obj in watch_events(events):
            if self.sd._stop.is_set():
                return
            self._ok()
            if kind != "BOOKMARK":
                self.sd._event(self, kind, obj)
            rv = obj.metadata.resourceVersion if obj.metadata is not None else None
            if rv:
                self.resource_version = rv

    def _ok(self) -> None:
        if not self.healthy and self.failures:
            log.info(
                "kubernetes discovery recovered", extra=log_fields(role=self.sd.role, resource=self.where)
            )
        self.healthy = True
        self.failures = 0
        self.error = None
        self.sd._synced(self)

    def _failed(self, error: Exception) -> None:
        self.healthy = False
        self.failures += 1
        status = error.status.code if isinstance(error, ApiError) else None
        text = f"{type(error).__name__}: {error}"
        changed = text != self.error
        self.error = text
        self.sd._synced(self)
        delay = retry_delay(self.failures, self.sd._backoff_initial, self.sd._backoff_max)
        level = logging.WARNING if changed or self.failures == 1 else logging.DEBUG
        hint = (
            f"check the ClusterRole allows list/watch {self.resource._api_info.plural}"
            if status == 403
            else None
        )
        log.log(
            level,
            "kubernetes discovery unavailable, keeping the targets known so far",
            extra=log_fields(
                role=self.sd.role,
                resource=self.where,
                error=text,
                status=status,
                hint=hint,
                attempt=self.failures,
                retry_in=round(delay, 3),
            ),
        )
        self.sd._stop.wait(delay)


# ---- the discoverer ---------------------------------------------------------------------------


_SLIM: dict[str, Callable[[Any], Any]] = {"pod": slim_pod, "node": slim_node}


def _slim(kind: str, obj: Any) -> Any:
    """What the store keeps of an object: pods and nodes trimmed to what labels need."""
    fn = _SLIM.get(kind)
    return fn(obj) if fn is not None else obj


def _key(obj: Any) -> tuple[str, str]:
    meta = obj.metadata
    return (meta.namespace or "", meta.name or "")


class KubernetesSD:
    """One `kubernetes_sd_configs` entry as a `Discoverer` (see `heron.collect.metrics.discovery`).

    `connect` makes a new API connection (`heron.collect.logs.kube.kube_client_factory` gives
    one); each watched resource and namespace gets its own, so `stop()` can cut each blocked
    read. `last_error` is the newest error of a watch that is failing now, None when all are fine.
    """

    def __init__(
        self,
        cfg: KubernetesSDConfig,
        connect: Callable[[], KubeConnection],
        *,
        own_namespace_file: str = SERVICE_ACCOUNT_NAMESPACE,
        watch_timeout: int = 300,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
    ) -> None:
        if cfg.role not in ROLES:
            raise ValueError(f"unknown Kubernetes SD role {cfg.role!r}: one of {', '.join(ROLES)}")
        self.cfg = cfg
        self.role = cfg.role
        self._connect = connect
        self._watch_timeout = watch_timeout
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._broken: str | None = None
        selectors: dict[str, tuple[Selector, Selector]] = {}
        for sel in cfg.selectors:
            if sel.role not in ALLOWED_SELECTORS[cfg.role]:
                allowed = ", ".join(ALLOWED_SELECTORS[cfg.role])
                raise ValueError(f"{cfg.role} role supports only {allowed} selectors, not {sel.role!r}")
            if sel.role in selectors:
                raise ValueError(f"duplicated selector role: {sel.role}")
            selectors[sel.role] = (parse_label_selector(sel.label), parse_field_selector(sel.field))
        self._selectors = selectors
        self._namespaces = self._namespaces_for(cfg, own_namespace_file)

        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._informers: list[_Informer] = []
        self._store: dict[str, dict[tuple[str, str], Any]] = {k: {} for k in _RESOURCES}
        self._groups: dict[str, TargetGroup] = {}
        self._slice_pods: dict[tuple[str, str], set[tuple[str, str]]] = {}  # slice -> pods it points at
        self._pod_slices: dict[tuple[str, str], set[tuple[str, str]]] = {}  # pod -> slices pointing at it
        self._version = 0
        self._changed = False
        self._published = False
        self._snapshot: list[TargetGroup] | None = []
        self._dirty: set[tuple[str, str]] = set()  # groups to rebuild before the next publish
        self._pod_meta: dict[tuple[str, str], tuple[str | None, dict[str, str]]] = {}
        self._started = False

    def _namespaces_for(self, cfg: KubernetesSDConfig, own_file: str) -> list[str]:
        names = list(dict.fromkeys(cfg.namespaces_names))
        if cfg.namespaces_own_namespace:
            try:
                with open(own_file, encoding="utf-8") as f:
                    own = f.read().strip()
                if not own:
                    raise ValueError("the file is empty")
            except (OSError, ValueError) as e:
                # As Prometheus: the whole discoverer fails; it reports why instead of guessing.
                self._broken = (
                    f"namespaces.own_namespace: cannot read the pod's namespace from {own_file}: {e}"
                )
                return []
            if own not in names:
                names.append(own)
        return names or ["*"]

    # ---- Discoverer ---------------------------------------------------------------------------

    @property
    def version(self) -> int:
        return self._version

    def groups(self) -> list[TargetGroup]:
        with self._lock:
            if self._snapshot is None:
                self._snapshot = [self._groups[s] for s in sorted(self._groups)]
            return list(self._snapshot)

    @property
    def last_error(self) -> str | None:
        if self._broken is not None:
            return self._broken
        errors = [i.error for i in self._informers if i.error is not None]
        return errors[-1] if errors else None

    @property
    def healthy(self) -> bool:
        """Every watch is connected and current (for readiness and the agent's metrics)."""
        return self._broken is None and bool(self._informers) and all(i.healthy for i in self._informers)

    def start(self) -> None:
        """Start the watch threads; returns at once, targets arrive in the background."""
        if self._started:
            raise RuntimeError("KubernetesSD already started")
        self._started = True
        if self._broken is not None:
            log.error(
                "kubernetes discovery cannot start", extra=log_fields(role=self.role, error=self._broken)
            )
            return
        self._stop.clear()
        self._informers = self._make_informers()
        for inf in self._informers:
            inf.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every watch: cut its connection so a blocked read returns, then join the threads."""
        self._stop.set()
        for inf in self._informers:
            inf.interrupt()
        for inf in self._informers:
            if inf.thread.is_alive():
                inf.thread.join(timeout)

    # ---- wiring -------------------------------------------------------------------------------

    def _make_informers(self) -> list[_Informer]:
        def informers(kind: str) -> list[_Informer]:
            labels, fields = self._selectors.get(kind, ([], []))
            if kind == "node":
                return [_Informer(self, kind, None, labels, fields)]
            return [_Informer(self, kind, ns, labels, fields) for ns in self._namespaces]

        kinds = {"pod": ["pod"], "node": ["node"], "service": ["service"]}.get(
            self.role, ["endpointslice", "service", "pod"]
        )
        if self.cfg.attach_metadata_node and self.role in ("pod", "endpointslice"):
            kinds.append("node")
        out: list[_Informer] = []
        for kind in kinds:
            out.extend(informers(kind))
        return out

    def _synced(self, inf: _Informer) -> None:
        if inf.synced:
            return
        with self._lock:
            inf.synced = True
            self._publish()

    # ---- store and groups (called by informer threads) ----------------------------------------

    def _replace(self, inf: _Informer, objects: list[Any]) -> None:
        """A fresh list: what the informer held but the list lacks was deleted meanwhile."""
        with self._lock:
            store = self._store[inf.kind]
            fresh = {_key(o): _slim(inf.kind, o) for o in objects}
            for key in inf.keys - fresh.keys():
                old = store.pop(key, None)
                if old is not None:
                    self._changed_object(inf.kind, key, old)
            for key, obj in fresh.items():
                store[key] = obj
                self._changed_object(inf.kind, key, obj)
            inf.keys = set(fresh)
            inf.synced = True
            self._publish()

    def _event(self, inf: _Informer, kind: str, obj: Any) -> None:
        key = _key(obj)
        with self._lock:
            store = self._store[inf.kind]
            if kind == "DELETED":
                store.pop(key, None)
                inf.keys.discard(key)
            else:
                obj = _slim(inf.kind, obj)
                store[key] = obj
                inf.keys.add(key)
            self._changed_object(inf.kind, key, obj)
            self._publish()

    def _changed_object(self, kind: str, key: tuple[str, str], obj: Any) -> None:
        """Mark the groups that depend on one object for a rebuild; the caller holds `_lock`.

        Marked, not rebuilt at once: a list of every pod would otherwise rebuild a slice once
        per pod it points at (quadratic in the slice's size); `_flush` rebuilds each once.
        """
        role = self.role
        dirty = self._dirty
        if kind == role:
            dirty.add(key)
        elif kind == "service" and role == "endpointslice":
            for skey, eps in self._store["endpointslice"].items():
                if skey[0] == key[0] and (eps.metadata.labels or {}).get(SERVICE_NAME_LABEL) == key[1]:
                    dirty.add(skey)
        elif kind == "pod" and role == "endpointslice":
            self._pod_meta.pop(key, None)
            dirty.update(self._pod_slices.get(key, ()))
        elif kind == "node":
            name = key[1]
            if role == "pod":
                for pkey, pod in self._store["pod"].items():
                    if pod.spec is not None and pod.spec.nodeName == name:
                        dirty.add(pkey)
            elif role == "endpointslice":
                for skey, eps in self._store["endpointslice"].items():
                    if any(ep.nodeName == name for ep in eps.endpoints or ()):
                        dirty.add(skey)

    def _flush(self) -> None:
        """Rebuild every marked group once; the caller holds `_lock`."""
        dirty, self._dirty = self._dirty, set()
        for key in dirty:
            self._rebuild(key)

    def _pod_labels(self, pod: Any) -> dict[str, str]:
        """A pod's labels, built once per pod version however many slice targets carry them."""
        key = _key(pod)
        rv = pod.metadata.resourceVersion
        cached = self._pod_meta.get(key)
        if cached is None or cached[0] != rv:
            cached = (rv, pod_labels(pod))
            self._pod_meta[key] = cached
        return cached[1]

    def _node(self, name: str) -> Any:
        return self._store["node"].get(("", name))

    def _rebuild(self, key: tuple[str, str]) -> None:
        obj = self._store[self.role].get(key)
        nodes = self._node if self.cfg.attach_metadata_node else None
        group: TargetGroup | None
        if obj is None:
            group = None
        elif self.role == "pod":
            group = pod_group(obj, nodes)
        elif self.role == "node":
            group = node_group(obj)
        elif self.role == "service":
            group = service_group(obj)
        else:
            services, pods = self._store["service"], self._store["pod"]
            group = endpointslice_group(
                obj,
                lambda ns, n: services.get((ns, n)),
                lambda ns, n: pods.get((ns, n)),
                nodes,
                pod_meta=self._pod_labels,
            )
        if self.role == "endpointslice":
            self._index_pod_refs(key, _pod_refs(obj) if obj is not None else set())
        source = _source(self.role, key)
        if group is None:
            if self._groups.pop(source, None) is not None:
                self._changed = True
        elif self._groups.get(source) != group:
            self._groups[source] = group
            self._changed = True

    def _index_pod_refs(self, slice_key: tuple[str, str], refs: set[tuple[str, str]]) -> None:
        """Remember which pods a slice points at (known or not yet), to rebuild it when they change."""
        for pod in self._slice_pods.pop(slice_key, set()) - refs:
            slices = self._pod_slices.get(pod)
            if slices is not None:
                slices.discard(slice_key)
                if not slices:
                    del self._pod_slices[pod]
        if refs:
            self._slice_pods[slice_key] = refs
            for pod in refs:
                self._pod_slices.setdefault(pod, set()).add(slice_key)

    def _publish(self) -> None:
        """Make the changes visible as one new snapshot (built when first asked for, so a burst
        of events costs no sorting); the caller holds `_lock`."""
        self._flush()
        if not all(i.synced for i in self._informers):
            return
        if self._changed or not self._published:
            self._snapshot = None
            self._changed = False
            self._published = True
            self._version += 1


_SOURCE_PREFIX = {"pod": "pod", "node": "node", "service": "svc", "endpointslice": "endpointslice"}


def _source(role: str, key: tuple[str, str]) -> str:
    ns, name = key
    return f"{_SOURCE_PREFIX[role]}/{name}" if role == "node" else f"{_SOURCE_PREFIX[role]}/{ns}/{name}"


def _pod_refs(eps: Any) -> set[tuple[str, str]]:
    """The `(namespace, name)` of every pod an endpointslice's endpoints point at."""
    refs: set[tuple[str, str]] = set()
    for ep in eps.endpoints or ():
        ref = ep.targetRef
        if ref is not None and ref.kind == "Pod":
            refs.add((ref.namespace or "", ref.name or ""))
    return refs


# ---- connections and the scraper's discoverer factory -----------------------------------------


def _read_secret(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def _explicit_config(cfg: KubernetesSDConfig) -> Any:
    """A lightkube config for `api_server` with the entry's own auth and TLS, built at each
    connection so rotated credential files are picked up, as Prometheus re-reads them."""
    import base64

    from lightkube.config.kubeconfig import KubeConfig
    from lightkube.config.models import Cluster, User

    tls = cfg.tls_config
    cluster = Cluster(
        server=cfg.api_server,
        certificate_auth=tls.ca_file or None,
        certificate_auth_data=base64.b64encode(tls.ca.encode()).decode() if tls.ca else None,
        insecure=tls.insecure_skip_verify,
    )
    user = User(client_cert=tls.cert_file or None, client_key=tls.key_file or None)
    if cfg.authorization is not None:
        az = cfg.authorization
        if az.type.lower() != "bearer":
            raise ValueError(
                f"kubernetes_sd_configs authorization type {az.type!r}: only Bearer is supported"
            )
        user.token = _read_secret(az.credentials_file) if az.credentials_file else az.credentials
    if cfg.basic_auth is not None:
        ba = cfg.basic_auth
        user.username = ba.username
        user.password = _read_secret(ba.password_file) if ba.password_file else ba.password
    return KubeConfig.from_one(cluster=cluster, user=user)


def connection_for(
    cfg: KubernetesSDConfig, default: Callable[[], KubeConnection] | None
) -> Callable[[], KubeConnection]:
    """How one `kubernetes_sd_configs` entry connects: its `kubeconfig_file`, its `api_server`
    (with its own auth and TLS), or else the process's own connection (`default`: in-cluster,
    `--kube`, or the demo's fake API).

    Problems (an unreadable file, no connection at all) surface at each attempt as the
    discoverer's `last_error`, with backoff, rather than failing the whole scrape manager.
    """
    from heron.collect.logs.kube import kube_client_factory

    if cfg.kubeconfig_file:
        path = cfg.kubeconfig_file

        def from_file() -> KubeConnection:
            from lightkube.config.kubeconfig import KubeConfig

            return kube_client_factory(KubeConfig.from_file(path))()

        return from_file
    if cfg.api_server:

        def explicit() -> KubeConnection:
            return kube_client_factory(_explicit_config(cfg))()

        return explicit
    if default is not None:
        return default

    def unavailable() -> KubeConnection:
        raise ConnectionError(
            "no Kubernetes API connection: not in a cluster and no --kube kubeconfig; "
            "set kubernetes_sd_configs[].api_server or kubeconfig_file"
        )

    return unavailable


class _SharedSD:
    """One `KubernetesSD` shared by every scrape pool with an identical entry, as Prometheus'
    discovery manager shares providers: the agent's three kubelet pools need one node watch."""

    def __init__(self, sd: KubernetesSD, release: Callable[[], None]) -> None:
        self._sd = sd
        self._release = release
        self._users = 0
        self._lock = threading.Lock()

    @property
    def version(self) -> int:
        return self._sd.version

    def groups(self) -> list[TargetGroup]:
        return self._sd.groups()

    @property
    def last_error(self) -> str | None:
        return self._sd.last_error

    def start(self) -> None:
        with self._lock:
            self._users += 1
            if self._users == 1:
                self._sd.start()

    def stop(self) -> None:
        with self._lock:
            if self._users == 0:
                return  # a pool that never started it
            self._users -= 1
            last = self._users == 0
        if last:
            self._sd.stop()
            self._release()


def scrape_discoverers(
    connect: Callable[[], KubeConnection] | None, base_dir: str = "."
) -> Callable[[ScrapeConfig], list[Discoverer]]:
    """The `discoverers` argument of `ScrapeManager`: static and file discovery as by default,
    plus one `KubernetesSD` per `kubernetes_sd_configs` entry (identical entries share one)."""
    from heron.collect.metrics.scrape import default_discoverers

    shared: dict[KubernetesSDConfig, _SharedSD] = {}
    lock = threading.Lock()

    def make(cfg: ScrapeConfig) -> list[Discoverer]:
        out = list(default_discoverers(cfg, base_dir))
        for entry in cfg.kubernetes_sd_configs:
            with lock:
                sd = shared.get(entry)
                if sd is None:
                    sd = _SharedSD(
                        KubernetesSD(entry, connection_for(entry, connect)),
                        lambda entry=entry: _forget(entry),
                    )
                    shared[entry] = sd
            out.append(sd)
        return out

    def _forget(entry: KubernetesSDConfig) -> None:
        with lock:
            shared.pop(entry, None)

    return make
