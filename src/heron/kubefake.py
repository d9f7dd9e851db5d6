"""A small, faithful fake of the Kubernetes API server's read endpoints, over real HTTP on 127.0.0.1.

Why a fake server rather than mocking the client: the node agent's pod watcher and the metric
discovery must survive the API server's real behaviours — resourceVersions, 410 Gone on expired
history, bookmarks, 403 from missing RBAC, connections refused while the control plane restarts —
and the only way to know the real client (lightkube over httpx) copes is to let it speak real HTTP
to something that behaves like the API server. Tests use it, and `heron demo` can run the agent
against it without a cluster. The manifests it is fed come from `heron.kubefake_manifests`
(`make_pod`, `make_node`, `make_service`, `make_endpointslice`, `make_namespace`), re-exported here.

Implemented (GET only, JSON only), for these resources, all kept in one store:

| resource | path(s) |
|---|---|
| core/v1 pods | `/api/v1/pods`, `/api/v1/namespaces/{ns}/pods[/{name}]` |
| core/v1 services | `/api/v1/services`, `/api/v1/namespaces/{ns}/services[/{name}]` |
| core/v1 nodes (cluster scope) | `/api/v1/nodes[/{name}]` |
| core/v1 namespaces (cluster scope) | `/api/v1/namespaces[/{name}]` |
| discovery.k8s.io/v1 endpointslices | `/apis/discovery.k8s.io/v1[/namespaces/{ns}]/endpointslices[/{name}]` |

* A list (`PodList`, `NodeList`, ...) carries the store's current version as
  `metadata.resourceVersion`. `fieldSelector` supports `=`, `==` and `!=` on `metadata.name`,
  `metadata.namespace` and each resource's own fields (pods: `spec.nodeName`, `status.phase`,
  `status.podIP`, ...; nodes: `spec.unschedulable`; services: `spec.clusterIP`, `spec.type`);
  an unknown field is a 400, as on the real server. `labelSelector` supports the whole grammar:
  `=`, `==`, `!=`, `in (...)`, `notin (...)`, `key` and `!key`. `limit` is ignored (the API
  allows a server to return everything at once).
* `...?watch=true`: newline-delimited JSON watch events over a chunked response. Without a
  `resourceVersion` (or with "0") the watch first sends a synthetic ADDED per matching object, as
  the real server does. With one, it replays retained history after it; a version older than the
  retained history gets one `ERROR` event carrying a `Status` with `code: 410` (reason `Expired`)
  and the stream ends, exactly like the API server's "too old resource version". Selector
  transitions follow the API server: a MODIFIED that makes an object stop (start) matching is
  sent as DELETED (ADDED). `timeoutSeconds` ends the stream cleanly; `allowWatchBookmarks=true`
  makes `emit_bookmark()` reach that stream as a `BOOKMARK` event holding only the current
  version (plus the fields Go serialises without `omitempty`, as the real server's are).
* The resourceVersion is one counter for every resource, like etcd's revision behind the real
  server: a pod's change moves the version a service watch resumes from, too.
* `GET /version` answers Kubernetes v1.26, which client-go (e.g. a real Prometheus's discovery)
  asks before it picks the endpointslice API version.
* Switches: `set_forbidden(True)` answers every request (or those for some resources) with a 403
  `Status` (RBAC missing); `set_down(True)` closes the listening socket and cuts every open
  connection (connection refused until `set_down(False)` binds the same port again).
* Every request is recorded (`requests`, `list_requests()`, `watch_requests()`) so tests can see
  the parameters the client really sent, e.g. the `resourceVersion` a re-watch resumed from.
"""

from __future__ import annotations

import copy
import itertools
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from heron.kubefake_manifests import (
    make_endpointslice,
    make_namespace,
    make_node,
    make_pod,
    make_service,
)

__all__ = [
    "RESOURCES",
    "FakeKubeAPI",
    "RecordedRequest",
    "make_endpointslice",
    "make_namespace",
    "make_node",
    "make_pod",
    "make_service",
]

Obj = dict[str, Any]
Pod = Obj

# What `GET /version` answers: a Kubernetes that serves discovery.k8s.io/v1 endpointslices.
SERVER_VERSION = {
    "major": "1",
    "minor": "26",
    "gitVersion": "v1.26.0",
    "gitCommit": "",
    "gitTreeState": "clean",
    "buildDate": "2022-12-08T00:00:00Z",
    "goVersion": "go1.19.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}

# How often a streaming watch wakes to notice a stop, a cut or its timeout when nothing happens.
_POLL_SECONDS = 0.05


# ---- resources ------------------------------------------------------------------------------


def _path(obj: Obj, dotted: str) -> Any:
    cur: Any = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _text(value: Any, default: str = "") -> str:
    if value is None:
        return default
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class _Resource:
    """One kind the fake serves: where it lives and which field selectors the real server takes."""

    plural: str
    kind: str
    api_version: str  # "v1" or "group/version"
    namespaced: bool
    fields: tuple[str, ...]  # beyond metadata.name and metadata.namespace
    bookmark_extra: tuple[tuple[str, Any], ...] = ()  # non-omitempty Go fields a bookmark carries
    field_defaults: tuple[tuple[str, str], ...] = ()

    @property
    def prefix(self) -> tuple[str, ...]:
        return ("api", "v1") if self.api_version == "v1" else ("apis", *self.api_version.split("/"))

    def field_value(self, obj: Obj, key: str) -> str:
        if key == "metadata.namespace" and not self.namespaced:
            return ""
        return _text(_path(obj, key), dict(self.field_defaults).get(key, ""))

    def all_fields(self) -> tuple[str, ...]:
        return ("metadata.name", "metadata.namespace", *self.fields)


RESOURCES: dict[str, _Resource] = {
    r.plural: r
    for r in (
        _Resource(
            "pods",
            "Pod",
            "v1",
            True,
            (
                "spec.nodeName",
                "status.phase",
                "status.podIP",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "spec.hostNetwork",
                "status.nominatedNodeName",
            ),
            field_defaults=(("spec.hostNetwork", "false"),),
        ),
        _Resource("services", "Service", "v1", True, ("spec.clusterIP", "spec.type")),
        _Resource(
            "nodes",
            "Node",
            "v1",
            False,
            ("spec.unschedulable",),
            field_defaults=(("spec.unschedulable", "false"),),
        ),
        _Resource("namespaces", "Namespace", "v1", False, ("status.phase",)),
        _Resource(
            "endpointslices",
            "EndpointSlice",
            "discovery.k8s.io/v1",
            True,
            (),
            bookmark_extra=(("addressType", ""), ("endpoints", None)),
        ),
    )
}
_BY_KIND = {r.kind: r for r in RESOURCES.values()}


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake server received it, with its query parameters decoded."""

    method: str
    path: str
    params: dict[str, str]
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased

    @property
    def is_watch(self) -> bool:
        return self.params.get("watch") in ("true", "1")

    @property
    def resource(self) -> str | None:
        """The plural resource the path names ("pods", "endpointslices", ...), if any."""
        for part in reversed([p for p in self.path.split("/") if p]):
            if part in RESOURCES:
                return part
        return None


@dataclass
class _Event:
    rv: int
    resource: str
    type: str  # ADDED | MODIFIED | DELETED
    obj: Obj
    old: Obj | None  # the object before a MODIFIED, to compute selector transitions


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


Matcher = Callable[[Obj], bool]


class _BadRequest(Exception):
    """A request the real API server would answer with 400 Bad Request."""


def _split_top(selector: str) -> list[str]:
    """Split on commas outside parentheses (`a in (x,y),b` is two requirements)."""
    parts: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(selector):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(selector[start:i])
            start = i + 1
    parts.append(selector[start:])
    return [p.strip() for p in parts if p.strip()]


def _split_requirement(req: str) -> tuple[str, str, str]:
    for op in ("!=", "==", "="):
        if op in req:
            key, _, value = req.partition(op)
            return key.strip(), op, value.strip()
    return req.strip(), "exists", ""


def _field_matcher(selector: str, resource: _Resource) -> Matcher:
    """Compile a fieldSelector; unknown fields are a 400, as on the real server."""
    reqs: list[tuple[str, str, str]] = []
    for part in _split_top(selector):
        key, op, value = _split_requirement(part)
        if op == "exists" or key not in resource.all_fields():
            raise _BadRequest(
                f'"{part}" is not a known field selector for {resource.plural}: only '
                f'"{", ".join(resource.all_fields())}"'
            )
        reqs.append((key, op, value))

    def match(obj: Obj) -> bool:
        for key, op, value in reqs:
            equal = resource.field_value(obj, key) == value
            if equal != (op != "!="):
                return False
        return True

    return match


def _label_requirement(part: str) -> Callable[[dict[str, str]], bool]:
    words = part.split(None, 1)
    if len(words) == 2 and words[1].split(None, 1)[0] in ("in", "notin"):
        key = words[0]
        op, _, rest = words[1].partition(" ")
        rest = rest.strip()
        if not (rest.startswith("(") and rest.endswith(")")):
            raise _BadRequest(f"unable to parse requirement: {part!r}: values must be in parentheses")
        values = frozenset(v.strip() for v in rest[1:-1].split(",") if v.strip())
        if op == "in":
            return lambda labels: key in labels and labels[key] in values
        return lambda labels: key not in labels or labels[key] not in values
    if part.startswith("!"):
        key = part[1:].strip()
        if not key or any(c in key for c in "=!() "):
            raise _BadRequest(f"unable to parse requirement: {part!r}")
        return lambda labels: key not in labels
    key, op, value = _split_requirement(part)
    if not key or any(c in key for c in "() ") or any(c in value for c in "() ,"):
        raise _BadRequest(f"unable to parse requirement: {part!r}")
    if op == "exists":
        return lambda labels: key in labels
    if op == "!=":
        return lambda labels: labels.get(key) != value
    return lambda labels: labels.get(key) == value


def _label_matcher(selector: str) -> Matcher:
    """Compile a labelSelector: equality, set-based (`in`, `notin`) and existence requirements."""
    reqs = [_label_requirement(p) for p in _split_top(selector)]

    def match(obj: Obj) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(r(labels) for r in reqs)

    return match


class _Server(ThreadingHTTPServer):
    """Tracks open connections so `set_down`/`stop` can cut them like a dying API server."""

    daemon_threads = False  # server_close() joins every handler thread: nothing leaks past stop()
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fake: FakeKubeAPI) -> None:
        self.fake = fake
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, _Handler)

    def cut_connections(self) -> None:
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked watch streams, like the real server
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.sockets_lock:
            self.server.open_sockets.add(self.connection)

    def finish(self) -> None:
        with self.server.sockets_lock:
            self.server.open_sockets.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence the stdlib's per-request stderr lines; requests are recorded instead."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self.server.fake._handle_get(self)

    def _not_allowed(self) -> None:
        self.server.fake._reply_status(self, 405, "MethodNotAllowed", "the fake API server serves GET only")

    do_POST = do_PUT = do_PATCH = do_DELETE = _not_allowed  # noqa: N815


@dataclass(frozen=True)
class _Route:
    resource: _Resource
    namespace: str | None  # None: every namespace (or a cluster-scoped resource)
    name: str | None  # a single-object GET


def _route(parts: list[str]) -> _Route | None:
    """Map a URL path to (resource, namespace, name), or None for a 404."""
    for res in RESOURCES.values():
        prefix = list(res.prefix)
        if parts[: len(prefix)] != prefix:
            continue
        rest = parts[len(prefix) :]
        if res.namespaced:
            if rest == [res.plural]:
                return _Route(res, None, None)
            if len(rest) in (3, 4) and rest[0] == "namespaces" and rest[2] == res.plural:
                return _Route(res, rest[1], rest[3] if len(rest) == 4 else None)
        elif rest[:1] == [res.plural] and len(rest) in (1, 2):
            return _Route(res, None, rest[1] if len(rest) == 2 else None)
    return None


class FakeKubeAPI:
    """The fake API server. Start with `start()` (or as a context manager), mutate objects from tests.

    All mutators are thread-safe and bump the single, monotonically increasing resourceVersion,
    like etcd's revision behind the real server.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._lock = threading.Condition()
        self._objects: dict[tuple[str, str, str], Obj] = {}  # (plural, namespace or "", name)
        self._rv = 100  # start away from 0: "0" means "any version" in the watch API
        self._history: list[_Event] = []
        self._compacted_rv = self._rv  # watches from an older version get 410 Gone
        self._bookmark_seq = 0
        self._cut_seq = 0  # bumped by close_watches(): streams end cleanly
        self._forbidden: frozenset[str] | None = None  # None: allowed; else the forbidden plurals
        self._down = False
        self._stopping = False
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._requests: list[RecordedRequest] = []
        self._uids = (str(uuid.UUID(int=n)) for n in itertools.count(1))

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self, *, down: bool = False) -> FakeKubeAPI:
        """Bind (the port is fixed from now on) and serve; with `down=True`, bind then go down."""
        self._stopping = False
        self._bind()
        if down:
            self.set_down(True)
        return self

    def stop(self) -> None:
        """Stop serving, cut every connection and join every server thread."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        self._unbind()

    def __enter__(self) -> FakeKubeAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    def kubeconfig(self) -> Any:
        """A lightkube `KubeConfig` pointing at this server (no TLS, no credentials).

        Not `KubeConfig.from_server()`: that leaves the user unset, which lightkube's client then
        refuses ("Missing user"); an empty `User()` means "no credentials".
        """
        from lightkube.config.kubeconfig import KubeConfig
        from lightkube.config.models import Cluster, User

        return KubeConfig.from_one(cluster=Cluster(server=self.url), user=User())

    def _bind(self) -> None:
        server = _Server((self._host, self._port), self)
        self._port = server.server_address[1]
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="kubefake", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()

    def _unbind(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        server.shutdown()
        thread.join()
        server.cut_connections()
        server.server_close()  # joins the handler threads, which now see EOF or a cut socket

    # ---- switches ---------------------------------------------------------------------------

    def set_forbidden(self, forbidden: bool, resources: Iterable[str] | None = None) -> None:
        """Answer new requests with 403 Forbidden, as when the ServiceAccount lacks RBAC: every
        request, or only those for `resources` (plural names, e.g. `{"pods"}`)."""
        with self._lock:
            if not forbidden:
                self._forbidden = None
            else:
                self._forbidden = frozenset(resources) if resources is not None else frozenset(RESOURCES)

    def set_down(self, down: bool) -> None:
        """Go down (refuse connections, cut open ones) or come back up on the same port."""
        with self._lock:
            if down == self._down:
                return
            self._down = down
            self._lock.notify_all()
        if down:
            self._unbind()
        else:
            self._bind()

    def close_watches(self) -> None:
        """End every open watch stream cleanly, as the API server does at `timeoutSeconds`."""
        with self._lock:
            self._cut_seq += 1
            self._lock.notify_all()

    def expire_history(self, keep: int = 0) -> None:
        """Forget all but the last `keep` events: older resourceVersions now get 410 Gone."""
        with self._lock:
            dropped = self._history[: len(self._history) - keep] if keep else self._history
            if dropped:
                self._compacted_rv = dropped[-1].rv
            else:
                self._compacted_rv = self._rv
            self._history = self._history[len(dropped) :]
            self._lock.notify_all()

    def emit_bookmark(self) -> None:
        """Send a BOOKMARK with the current resourceVersion to watches that allowed bookmarks."""
        with self._lock:
            self._bookmark_seq += 1
            self._lock.notify_all()

    # ---- the store --------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        with self._lock:
            return self._rv

    def objects(self, resource: str) -> list[Obj]:
        """Copies of every stored object of one resource ("pods", "nodes", ...)."""
        self._resource(resource)
        with self._lock:
            return [copy.deepcopy(o) for (r, _, _), o in self._objects.items() if r == resource]

    def add(self, obj: Obj) -> Obj:
        """Create an object of any served kind (from its `kind`); fills uid, creationTimestamp and
        resourceVersion, and returns the stored copy."""
        obj = copy.deepcopy(obj)
        res = _BY_KIND.get(obj.get("kind", ""))
        if res is None:
            raise ValueError(f"the fake API server does not serve kind {obj.get('kind')!r}")
        meta = obj.setdefault("metadata", {})
        if res.namespaced:
            meta["namespace"] = meta.get("namespace") or "default"
        else:
            meta.pop("namespace", None)
        key = (res.plural, meta.get("namespace", ""), meta["name"])
        with self._lock:
            if key in self._objects:
                raise ValueError(f"{res.plural} {'/'.join(k for k in key[1:] if k)} already exists")
            meta.setdefault("uid", next(self._uids))
            meta["creationTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self._commit(res.plural, "ADDED", key, obj, None)
            return copy.deepcopy(obj)

    def modify(self, resource: str, namespace: str | None, name: str, mutate: Callable[[Obj], None]) -> Obj:
        """Apply `mutate` to a copy of the object and store it as a MODIFIED event (`namespace`
        is None or "" for cluster-scoped resources)."""
        self._resource(resource)
        key = (resource, namespace or "", name)
        with self._lock:
            old = self._objects[key]
            new = copy.deepcopy(old)
            mutate(new)
            new["metadata"]["uid"] = old["metadata"]["uid"]  # identity is immutable
            new["metadata"]["name"] = name
            self._commit(resource, "MODIFIED", key, new, old)
            return copy.deepcopy(new)

    def delete(self, resource: str, namespace: str | None, name: str) -> None:
        """Delete an object: the DELETED event carries its last state at a new resourceVersion."""
        self._resource(resource)
        key = (resource, namespace or "", name)
        with self._lock:
            old = self._objects[key]
            self._commit(resource, "DELETED", key, copy.deepcopy(old), None)

    def pods(self) -> list[Pod]:
        return self.objects("pods")

    def add_pod(self, pod: Pod) -> Pod:
        """Create a pod (fills uid, creationTimestamp, resourceVersion); returns the stored copy."""
        pod = dict(pod)
        pod.setdefault("kind", "Pod")
        return self.add(pod)

    def modify_pod(self, namespace: str, name: str, mutate: Callable[[Pod], None]) -> Pod:
        """Apply `mutate` to a copy of the pod and store it as a MODIFIED event."""
        return self.modify("pods", namespace, name, mutate)

    def delete_pod(self, namespace: str, name: str) -> None:
        """Delete a pod: the DELETED event carries its last state at a new resourceVersion."""
        self.delete("pods", namespace, name)

    @staticmethod
    def _resource(resource: str) -> _Resource:
        try:
            return RESOURCES[resource]
        except KeyError:
            raise ValueError(f"unknown resource {resource!r}: one of {', '.join(RESOURCES)}") from None

    def _commit(self, resource: str, kind: str, key: tuple[str, str, str], obj: Obj, old: Obj | None) -> None:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        if kind == "DELETED":
            self._objects.pop(key, None)
        else:
            self._objects[key] = obj
        self._history.append(_Event(self._rv, resource, kind, obj, old))
        self._lock.notify_all()

    # ---- recording --------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def list_requests(self, resource: str | None = None) -> list[RecordedRequest]:
        """Recorded list (non-watch) GETs, of one resource when given."""
        return [
            r
            for r in self.requests
            if r.method == "GET" and not r.is_watch and (resource is None or r.resource == resource)
        ]

    def watch_requests(self, resource: str | None = None) -> list[RecordedRequest]:
        """Recorded watch GETs, of one resource when given."""
        return [
            r
            for r in self.requests
            if r.method == "GET" and r.is_watch and (resource is None or r.resource == resource)
        ]

    def _record(self, handler: _Handler, params: dict[str, str], status: int) -> None:
        path = urlsplit(handler.path).path
        with self._lock:
            headers = {k.lower(): v for k, v in handler.headers.items()}
            self._requests.append(RecordedRequest(handler.command, path, params, status, headers))

    # ---- HTTP -------------------------------------------------------------------------------

    def _reply_json(self, handler: _Handler, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        handler.send_response(code)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _reply_status(self, handler: _Handler, code: int, reason: str, message: str) -> None:
        self._record(handler, {}, code)
        self._reply_json(handler, code, _status(code, reason, message))

    def _handle_get(self, handler: _Handler) -> None:
        url = urlsplit(handler.path)
        params = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        if url.path.rstrip("/") == "/version":  # client-go asks it before choosing API versions
            self._record(handler, params, 200)
            self._reply_json(handler, 200, SERVER_VERSION)
            return
        route = _route([p for p in url.path.split("/") if p])
        if route is None:
            self._record(handler, params, 404)
            self._reply_json(
                handler, 404, _status(404, "NotFound", "the server could not find the requested resource")
            )
            return
        res, namespace = route.resource, route.namespace
        watching = params.get("watch") in ("true", "1")
        with self._lock:
            forbidden = self._forbidden is not None and res.plural in self._forbidden
        if forbidden:
            self._record(handler, params, 403)
            scope = "the cluster scope" if namespace is None else f'the namespace "{namespace}"'
            group = res.api_version.rpartition("/")[0] if "/" in res.api_version else ""
            verb = "watch" if watching else ("get" if route.name else "list")
            message = (
                f'{res.plural} is forbidden: User "system:serviceaccount:heron:heron" cannot '
                f'{verb} resource "{res.plural}" in API group "{group}" at {scope}'
            )
            self._reply_json(handler, 403, _status(403, "Forbidden", message))
            return
        if route.name is not None:
            self._get_one(handler, params, route)
            return
        try:
            fields = _field_matcher(params.get("fieldSelector", ""), res)
            labels = _label_matcher(params.get("labelSelector", ""))
        except _BadRequest as e:
            self._record(handler, params, 400)
            self._reply_json(handler, 400, _status(400, "BadRequest", str(e)))
            return

        def matches(obj: Obj) -> bool:
            ns_ok = namespace is None or obj["metadata"].get("namespace") == namespace
            return ns_ok and fields(obj) and labels(obj)

        self._record(handler, params, 200)
        if watching:
            self._watch(handler, params, res, matches)
        else:
            with self._lock:
                items = [
                    copy.deepcopy(o)
                    for (r, _, _), o in self._objects.items()
                    if r == res.plural and matches(o)
                ]
                rv = self._rv
            body = {
                "kind": f"{res.kind}List",
                "apiVersion": res.api_version,
                "metadata": {"resourceVersion": str(rv)},
                "items": items,
            }
            self._reply_json(handler, 200, body)

    def _get_one(self, handler: _Handler, params: dict[str, str], route: _Route) -> None:
        res = route.resource
        assert route.name is not None
        with self._lock:
            obj = self._objects.get((res.plural, route.namespace or "", route.name))
            obj = copy.deepcopy(obj) if obj is not None else None
        if obj is None:
            self._record(handler, params, 404)
            message = f'{res.plural} "{route.name}" not found'
            self._reply_json(handler, 404, _status(404, "NotFound", message))
            return
        self._record(handler, params, 200)
        self._reply_json(handler, 200, obj)

    def _watch(self, handler: _Handler, params: dict[str, str], res: _Resource, matches: Matcher) -> None:
        events = self._watch_events(params, res, matches)
        # Run the stream up to its starting point before answering: a client that changes the
        # store (or asks for a bookmark) once it has the response headers must see that change.
        first = next(events, None)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        try:
            for event in itertools.chain([first] if first is not None else [], events):
                line = json.dumps(event).encode() + b"\n"
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                handler.wfile.flush()
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except OSError:
            handler.close_connection = True  # client went away, or we were cut: nothing to finish
        except _Cut:
            handler.close_connection = True  # leave the chunked body unterminated, like a crash

    def _watch_events(
        self, params: dict[str, str], res: _Resource, matches: Matcher
    ) -> Iterator[dict[str, Any] | None]:
        """Yield watch events until timeout, close_watches(), stop, or a cut (raises `_Cut`);
        first a None once the stream's starting point (version, bookmark count) is fixed."""
        bookmarks = params.get("allowWatchBookmarks") in ("true", "1")
        timeout = params.get("timeoutSeconds")
        deadline = time.monotonic() + float(timeout) if timeout else None
        requested = params.get("resourceVersion", "")
        if requested not in ("", "0") and not requested.isdigit():
            yield {
                "type": "ERROR",
                "object": _status(400, "BadRequest", f"invalid resourceVersion {requested!r}"),
            }
            return
        with self._lock:
            cut_seq, bookmark_seq = self._cut_seq, self._bookmark_seq
            if requested in ("", "0"):
                cursor = self._rv
                initial = [
                    copy.deepcopy(o)
                    for (r, _, _), o in self._objects.items()
                    if r == res.plural and matches(o)
                ]
            else:
                cursor = int(requested)
                initial = []
        yield None  # the starting point is fixed: `_watch` may answer now
        for obj in initial:
            yield {"type": "ADDED", "object": obj}
        while True:
            with self._lock:
                if self._stopping or self._down:
                    raise _Cut
                if self._cut_seq != cut_seq:
                    return
                if cursor < self._compacted_rv:
                    message = f"too old resource version: {cursor} ({self._compacted_rv})"
                    yield {"type": "ERROR", "object": _status(410, "Expired", message)}
                    return
                pending = [e for e in self._history if e.rv > cursor]
                bookmark = bookmarks and self._bookmark_seq != bookmark_seq
                bookmark_seq = self._bookmark_seq
                if not pending and not bookmark:
                    if deadline is not None and time.monotonic() >= deadline:
                        return
                    self._lock.wait(_POLL_SECONDS)
                    continue
                rv_now = self._rv
            for event in pending:
                cursor = event.rv
                if event.resource != res.plural:
                    continue
                out = _transition(event, matches)
                if out is not None:
                    yield out
            if bookmark:
                obj: dict[str, Any] = {
                    "kind": res.kind,
                    "apiVersion": res.api_version,
                    "metadata": {"resourceVersion": str(rv_now)},
                }
                obj.update(res.bookmark_extra)
                yield {"type": "BOOKMARK", "object": obj}
                cursor = max(cursor, rv_now)


class _Cut(Exception):
    """The server is going down: abandon the stream without a clean end."""


def _transition(event: _Event, matches: Matcher) -> dict[str, Any] | None:
    """The event a selector-filtered watcher sees, following the API server's rules."""
    now = matches(event.obj)
    if event.type == "MODIFIED" and event.old is not None:
        before = matches(event.old)
        if before and not now:
            return {"type": "DELETED", "object": copy.deepcopy(event.obj)}
        if now and not before:
            return {"type": "ADDED", "object": copy.deepcopy(event.obj)}
    if not now:
        return None
    return {"type": event.type, "object": copy.deepcopy(event.obj)}
