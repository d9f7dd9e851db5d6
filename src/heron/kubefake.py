"""A small, faithful fake of the Kubernetes API server's pod endpoints, over real HTTP on 127.0.0.1.

Why a fake server rather than mocking the client: the node agent's pod watcher must survive the
API server's real behaviours — resourceVersions, 410 Gone on expired history, bookmarks, 403 from
missing RBAC, connections refused while the control plane restarts — and the only way to know the
real client (lightkube over httpx) copes is to let it speak real HTTP to something that behaves
like the API server. Tests use it, and `heron demo` can run the agent against it without a cluster.

Implemented (core/v1 pods only, GET only, JSON only):

* `GET /api/v1/pods` and `GET /api/v1/namespaces/{ns}/pods`: a `PodList` whose
  `metadata.resourceVersion` is the store's current version. `fieldSelector` supports `=`, `==`
  and `!=` on `spec.nodeName`, `metadata.name`, `metadata.namespace` and `status.phase`;
  `labelSelector` supports `=`, `==`, `!=` and bare-key existence. `limit` is ignored (the API
  allows a server to return everything at once).
* `...?watch=true`: newline-delimited JSON watch events over a chunked response. Without a
  `resourceVersion` (or with "0") the watch first sends a synthetic ADDED per matching pod, as the
  real server does. With one, it replays retained history after it; a version older than the
  retained history gets one `ERROR` event carrying a `Status` with `code: 410` (reason `Expired`)
  and the stream ends, exactly like the API server's "too old resource version". Selector
  transitions follow the API server: a MODIFIED that makes a pod stop (start) matching is sent as
  DELETED (ADDED). `timeoutSeconds` ends the stream cleanly; `allowWatchBookmarks=true` makes
  `emit_bookmark()` reach that stream as a `BOOKMARK` event holding only the current version.
* Switches: `set_forbidden(True)` answers every request with a 403 `Status` (RBAC missing);
  `set_down(True)` closes the listening socket and cuts every open connection (connection
  refused until `set_down(False)` binds the same port again).
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["FakeKubeAPI", "RecordedRequest", "make_pod"]

Pod = dict[str, Any]

# How often a streaming watch wakes to notice a stop, a cut or its timeout when nothing happens.
_POLL_SECONDS = 0.05


def make_pod(
    namespace: str,
    name: str,
    node: str,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    containers: tuple[str, ...] = ("main",),
    init_containers: tuple[str, ...] = (),
    uid: str | None = None,
) -> Pod:
    """A minimal but well-formed v1 Pod manifest, scheduled on `node`."""
    spec: dict[str, Any] = {
        "nodeName": node,
        "containers": [{"name": c, "image": f"example/{c}:1"} for c in containers],
    }
    if init_containers:
        spec["initContainers"] = [{"name": c, "image": f"example/{c}:1"} for c in init_containers]
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(labels or {})}
    if annotations:
        metadata["annotations"] = dict(annotations)
    if uid is not None:
        metadata["uid"] = uid
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": spec,
        "status": {"phase": "Running"},
    }


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake server received it, with its query parameters decoded."""

    method: str
    path: str
    params: dict[str, str]
    status: int

    @property
    def is_watch(self) -> bool:
        return self.params.get("watch") in ("true", "1")


@dataclass
class _Event:
    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    obj: Pod
    old: Pod | None  # the object before a MODIFIED, to compute selector transitions


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


def _field_value(pod: Pod, key: str) -> str | None:
    meta = pod.get("metadata", {})
    if key == "metadata.name":
        return meta.get("name")
    if key == "metadata.namespace":
        return meta.get("namespace")
    if key == "spec.nodeName":
        return pod.get("spec", {}).get("nodeName") or ""
    if key == "status.phase":
        return pod.get("status", {}).get("phase") or ""
    return None


_FIELDS = ("metadata.name", "metadata.namespace", "spec.nodeName", "status.phase")
Matcher = Callable[[Pod], bool]


class _BadRequest(Exception):
    """A request the real API server would answer with 400 Bad Request."""


def _split_requirement(req: str) -> tuple[str, str, str]:
    for op in ("!=", "==", "="):
        if op in req:
            key, _, value = req.partition(op)
            return key.strip(), op, value.strip()
    return req.strip(), "exists", ""


def _field_matcher(selector: str) -> Matcher:
    """Compile a fieldSelector; unknown fields are a 400, as on the real server."""
    reqs: list[tuple[str, str, str]] = []
    for part in filter(None, (p.strip() for p in selector.split(","))):
        key, op, value = _split_requirement(part)
        if op == "exists" or key not in _FIELDS:
            raise _BadRequest(f'"{part}" is not a known field selector: only "{", ".join(_FIELDS)}"')
        reqs.append((key, op, value))

    def match(pod: Pod) -> bool:
        for key, op, value in reqs:
            equal = _field_value(pod, key) == value
            if equal != (op != "!="):
                return False
        return True

    return match


def _label_matcher(selector: str) -> Matcher:
    """Compile the equality subset of a labelSelector (no set-based `in`/`notin`)."""
    reqs = [_split_requirement(p) for p in filter(None, (p.strip() for p in selector.split(",")))]
    for key, op, _ in reqs:
        if not key or key.startswith("!") or "(" in key:
            raise _BadRequest(f"unsupported label selector requirement for {key!r} ({op})")

    def match(pod: Pod) -> bool:
        labels = pod.get("metadata", {}).get("labels") or {}
        for key, op, value in reqs:
            if op == "exists":
                if key not in labels:
                    return False
            elif (labels.get(key) == value) != (op != "!="):
                return False
        return True

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


class FakeKubeAPI:
    """The fake API server. Start with `start()` (or as a context manager), mutate pods from tests.

    All mutators are thread-safe and bump the single, monotonically increasing resourceVersion,
    like etcd's revision behind the real server.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._lock = threading.Condition()
        self._pods: dict[tuple[str, str], Pod] = {}
        self._rv = 100  # start away from 0: "0" means "any version" in the watch API
        self._history: list[_Event] = []
        self._compacted_rv = self._rv  # watches from an older version get 410 Gone
        self._bookmark_seq = 0
        self._cut_seq = 0  # bumped by close_watches(): streams end cleanly
        self._forbidden = False
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

    def set_forbidden(self, forbidden: bool) -> None:
        """Answer every new request with 403 Forbidden, as when the ServiceAccount lacks RBAC."""
        with self._lock:
            self._forbidden = forbidden

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

    def pods(self) -> list[Pod]:
        with self._lock:
            return [copy.deepcopy(p) for p in self._pods.values()]

    def add_pod(self, pod: Pod) -> Pod:
        """Create a pod (fills uid, creationTimestamp, resourceVersion); returns the stored copy."""
        pod = copy.deepcopy(pod)
        meta = pod.setdefault("metadata", {})
        key = (meta.get("namespace") or "default", meta["name"])
        meta["namespace"] = key[0]
        with self._lock:
            if key in self._pods:
                raise ValueError(f"pod {key[0]}/{key[1]} already exists")
            meta.setdefault("uid", next(self._uids))
            meta["creationTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self._commit("ADDED", key, pod, None)
            return copy.deepcopy(pod)

    def modify_pod(self, namespace: str, name: str, mutate: Callable[[Pod], None]) -> Pod:
        """Apply `mutate` to a copy of the pod and store it as a MODIFIED event."""
        with self._lock:
            old = self._pods[(namespace, name)]
            new = copy.deepcopy(old)
            mutate(new)
            new["metadata"]["uid"] = old["metadata"]["uid"]  # identity is immutable
            self._commit("MODIFIED", (namespace, name), new, old)
            return copy.deepcopy(new)

    def delete_pod(self, namespace: str, name: str) -> None:
        """Delete a pod: the DELETED event carries its last state at a new resourceVersion."""
        with self._lock:
            old = self._pods[(namespace, name)]
            self._commit("DELETED", (namespace, name), copy.deepcopy(old), None)

    def _commit(self, kind: str, key: tuple[str, str], obj: Pod, old: Pod | None) -> None:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        if kind == "DELETED":
            self._pods.pop(key, None)
        else:
            self._pods[key] = obj
        self._history.append(_Event(self._rv, kind, obj, old))
        self._lock.notify_all()

    # ---- recording --------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def list_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "GET" and not r.is_watch]

    def watch_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "GET" and r.is_watch]

    def _record(self, handler: _Handler, params: dict[str, str], status: int) -> None:
        path = urlsplit(handler.path).path
        with self._lock:
            self._requests.append(RecordedRequest(handler.command, path, params, status))

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
        parts = [p for p in url.path.split("/") if p]
        namespace: str | None
        if parts == ["api", "v1", "pods"]:
            namespace = None
        elif len(parts) == 5 and parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "pods":
            namespace = parts[3]
        else:
            self._record(handler, params, 404)
            self._reply_json(
                handler, 404, _status(404, "NotFound", "the server could not find the requested resource")
            )
            return
        with self._lock:
            forbidden = self._forbidden
        if forbidden:
            self._record(handler, params, 403)
            scope = "the cluster scope" if namespace is None else f'the namespace "{namespace}"'
            message = (
                'pods is forbidden: User "system:serviceaccount:heron:heron" cannot '
                f'{"watch" if params.get("watch") in ("true", "1") else "list"} resource "pods" '
                f'in API group "" at {scope}'
            )
            self._reply_json(handler, 403, _status(403, "Forbidden", message))
            return
        try:
            fields = _field_matcher(params.get("fieldSelector", ""))
            labels = _label_matcher(params.get("labelSelector", ""))
        except _BadRequest as e:
            self._record(handler, params, 400)
            self._reply_json(handler, 400, _status(400, "BadRequest", str(e)))
            return

        def matches(pod: Pod) -> bool:
            ns_ok = namespace is None or pod["metadata"]["namespace"] == namespace
            return ns_ok and fields(pod) and labels(pod)

        self._record(handler, params, 200)
        if params.get("watch") in ("true", "1"):
            self._watch(handler, params, matches)
        else:
            with self._lock:
                items = [copy.deepcopy(p) for p in self._pods.values() if matches(p)]
                rv = self._rv
            body = {
                "kind": "PodList",
                "apiVersion": "v1",
                "metadata": {"resourceVersion": str(rv)},
                "items": items,
            }
            self._reply_json(handler, 200, body)

    def _watch(self, handler: _Handler, params: dict[str, str], matches: Matcher) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        try:
            for event in self._watch_events(params, matches):
                line = json.dumps(event).encode() + b"\n"
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                handler.wfile.flush()
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except OSError:
            handler.close_connection = True  # client went away, or we were cut: nothing to finish
        except _Cut:
            handler.close_connection = True  # leave the chunked body unterminated, like a crash

    def _watch_events(self, params: dict[str, str], matches: Matcher) -> Iterator[dict[str, Any]]:
        """Yield watch events until timeout, close_watches(), stop, or a cut (raises `_Cut`)."""
        bookmarks = params.get("allowWatchBookmarks") in ("true", "1")
        timeout = params.get("timeoutSeconds")
        deadline = time.monotonic() + float(timeout) if timeout else None
        requested = params.get("resourceVersion", "")
        with self._lock:
            cut_seq, bookmark_seq = self._cut_seq, self._bookmark_seq
            if requested in ("", "0"):
                cursor = self._rv
                initial = [copy.deepcopy(p) for p in self._pods.values() if matches(p)]
            else:
                try:
                    cursor = int(requested)
                except ValueError:
                    yield {
                        "type": "ERROR",
                        "object": _status(400, "BadRequest", f"invalid resourceVersion {requested!r}"),
                    }
                    return
                initial = []
        for pod in initial:
            yield {"type": "ADDED", "object": pod}
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
                out = _transition(event, matches)
                if out is not None:
                    yield out
            if bookmark:
                yield {
                    "type": "BOOKMARK",
                    "object": {
                        "kind": "Pod",
                        "apiVersion": "v1",
                        "metadata": {"resourceVersion": str(rv_now)},
                    },
                }
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
