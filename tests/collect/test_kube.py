"""Pod metadata watcher against the fake API server, through the real lightkube client over HTTP."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import pytest
from lightkube.resources.core_v1 import Pod

from heron.collect.logs.kube import (
    PodMetadata,
    kube_client_factory,
    pod_info,
    sanitize_label_name,
)
from heron.kubefake import FakeKubeAPI, make_pod
from waiting import wait_for

NODE = "node-1"


Factory = Callable[..., PodMetadata]


@pytest.fixture
def watcher(fake: FakeKubeAPI) -> Iterator[Factory]:
    started: list[PodMetadata] = []

    def make(*, start_fake: bool = True, **kwargs: object) -> PodMetadata:
        if start_fake:
            fake.start()
        options: dict[str, object] = {"deleted_ttl": 60.0, "backoff_initial": 0.02, "backoff_max": 0.1}
        options.update(kwargs)
        pm = PodMetadata(NODE, kube_client_factory(fake.kubeconfig()), **options)  # type: ignore[arg-type]
        pm.start()
        started.append(pm)
        return pm

    yield make
    for pm in started:
        pm.stop()


def test_initial_list_gives_metadata_for_this_node_only(fake: FakeKubeAPI, watcher: Factory) -> None:
    fake.add_pod(
        make_pod("shop", "web-1", NODE, labels={"app": "web", "tier": "front"}, containers=("web", "proxy"))
    )
    fake.add_pod(make_pod("shop", "web-2", "node-2", labels={"app": "web"}))
    pm = watcher()
    wait_for(lambda: pm.lookup("shop", "web-1") is not None)
    info = pm.lookup("shop", "web-1")
    assert info is not None
    assert dict(info.labels) == {
        "namespace": "shop",
        "pod": "web-1",
        "node": NODE,
        "app": "web",
        "tier": "front",
    }
    assert info.containers == ("web", "proxy")
    assert not info.excluded and info.multiline is None
    assert pm.lookup("shop", "web-2") is None
    assert pm.healthy and pm.last_error is None
    lists = fake.list_requests()
    assert lists[0].params["fieldSelector"] == f"spec.nodeName={NODE}"
    wait_for(lambda: fake.watch_requests())
    watch = fake.watch_requests()[0]
    assert watch.params["resourceVersion"] == str(fake.resource_version)  # resumes from the list's version
    assert watch.params["fieldSelector"] == f"spec.nodeName={NODE}"
    assert watch.params["allowWatchBookmarks"] == "true"


def test_watch_events_added_modified_deleted_then_ttl(fake: FakeKubeAPI, watcher: Factory) -> None:
    pm = watcher(deleted_ttl=0.3)
    wait_for(lambda: fake.watch_requests())
    stored = fake.add_pod(make_pod("ns", "a", NODE, labels={"app": "one"}))
    uid = stored["metadata"]["uid"]
    wait_for(lambda: pm.lookup("ns", "a", uid) is not None)

    def relabel(pod: dict) -> None:
        pod["metadata"]["labels"]["app"] = "two"
        pod["metadata"]["annotations"] = {"heron.io/multiline": "^\\d{4}-"}

    fake.modify_pod("ns", "a", relabel)
    wait_for(lambda: (i := pm.lookup("ns", "a", uid)) is not None and i.labels["app"] == "two")
    info = pm.lookup("ns", "a", uid)
    assert info is not None and info.multiline == "^\\d{4}-"

    fake.delete_pod("ns", "a")
    wait_for(lambda: pm.resource_version == str(fake.resource_version))
    deleted_at = time.monotonic()
    assert pm.lookup("ns", "a", uid) is not None  # kept: its last lines may still be read
    wait_for(lambda: pm.lookup("ns", "a", uid) is None)
    assert time.monotonic() - deleted_at >= 0.2
    wait_for(lambda: len(pm) == 0)  # dropped from memory too, not just hidden
    assert pm.lookup("ns", "a", "wrong-uid") is None


def test_pod_moving_off_the_node_is_a_deletion(fake: FakeKubeAPI, watcher: Factory) -> None:
    pm = watcher(deleted_ttl=0.1)
    fake.add_pod(make_pod("ns", "a", NODE))
    wait_for(lambda: pm.lookup("ns", "a") is not None)
    fake.modify_pod("ns", "a", lambda pod: pod["spec"].update(nodeName="node-9"))
    wait_for(lambda: pm.lookup("ns", "a") is None)


def test_recreated_pod_with_same_name_is_told_apart_by_uid(fake: FakeKubeAPI, watcher: Factory) -> None:
    pm = watcher()
    old = fake.add_pod(make_pod("db", "pg-0", NODE, labels={"version": "1"}))
    fake.delete_pod("db", "pg-0")
    new = fake.add_pod(make_pod("db", "pg-0", NODE, labels={"version": "2"}))
    wait_for(lambda: pm.lookup("db", "pg-0", new["metadata"]["uid"]) is not None)
    info = pm.lookup("db", "pg-0")
    assert info is not None and info.labels["version"] == "2"
    old_info = pm.lookup("db", "pg-0", old["metadata"]["uid"])
    assert old_info is None or old_info.labels["version"] == "1"


def test_bookmark_advances_resource_version(fake: FakeKubeAPI, watcher: Factory) -> None:
    pm = watcher()
    wait_for(lambda: fake.watch_requests())
    first_watch = fake.watch_requests()[0]
    for i in range(3):  # events the node's watch never sees: only a bookmark tells it about them
        fake.add_pod(make_pod("other", f"p{i}", "node-2"))
    target = str(fake.resource_version)
    assert first_watch.params["resourceVersion"] != target
    fake.emit_bookmark()
    wait_for(lambda: pm.resource_version == target)
    fake.close_watches()  # as at the server's timeoutSeconds: the client must resume from the bookmark
    wait_for(lambda: len(fake.watch_requests()) >= 2)
    assert fake.watch_requests()[1].params["resourceVersion"] == target
    assert len(fake.list_requests()) == 1  # resumed, no re-list


def test_expired_history_gives_410_and_client_relists(
    fake: FakeKubeAPI, watcher: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="heron.collect.kube")
    pm = watcher(deleted_ttl=0.2)
    fake.add_pod(make_pod("ns", "a", NODE))
    wait_for(lambda: pm.lookup("ns", "a") is not None)
    fake.set_down(True)
    fake.delete_pod("ns", "a")
    fake.add_pod(make_pod("ns", "b", NODE))
    fake.expire_history()
    fake.set_down(False)
    wait_for(lambda: pm.lookup("ns", "b") is not None)
    assert len(fake.list_requests()) >= 2
    gone = [r for r in caplog.records if r.getMessage() == "pod watch history expired, re-listing"]
    assert gone and "too old resource version" in gone[0].fields["error"]  # type: ignore[attr-defined]
    wait_for(lambda: pm.lookup("ns", "a") is None)  # its DELETED was lost in the gap: the re-list ages it out
    # The watch after the re-list resumes from the new list's version, not from scratch.
    wait_for(lambda: fake.watch_requests()[-1].params.get("resourceVersion") == str(fake.resource_version))


def test_api_down_at_start_then_up(
    fake: FakeKubeAPI, watcher: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="heron.collect.kube")
    fake.start(down=True)
    fake.add_pod(make_pod("ns", "a", NODE, labels={"app.kubernetes.io/name": "api"}))
    pm = watcher(start_fake=False)
    wait_for(lambda: any(r.levelno == logging.WARNING for r in caplog.records))
    for _ in range(20):
        t0 = time.perf_counter()
        assert pm.lookup("ns", "a") is None
        assert time.perf_counter() - t0 < 0.05
    assert not pm.healthy and pm.last_error is not None
    warning = next(r for r in caplog.records if r.levelno == logging.WARNING)
    assert warning.fields["node"] == NODE  # type: ignore[attr-defined]
    assert warning.fields["retry_in"] <= 0.1  # type: ignore[attr-defined]
    fake.set_down(False)
    wait_for(lambda: pm.lookup("ns", "a") is not None)
    info = pm.lookup("ns", "a")
    assert info is not None and info.labels["app"] == "api"
    assert pm.healthy


def test_api_down_mid_watch_keeps_known_metadata(fake: FakeKubeAPI, watcher: Factory) -> None:
    pm = watcher()
    fake.add_pod(make_pod("ns", "a", NODE))
    wait_for(lambda: pm.lookup("ns", "a") is not None)
    fake.set_down(True)
    wait_for(lambda: not pm.healthy)
    assert pm.lookup("ns", "a") is not None  # what was known is still served
    fake.add_pod(make_pod("ns", "b", NODE))
    fake.set_down(False)
    wait_for(lambda: pm.lookup("ns", "b") is not None)
    assert len(fake.list_requests()) == 1  # history was kept, so the watch simply resumed


def test_forbidden_logs_warning_and_serves_nothing(
    fake: FakeKubeAPI, watcher: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="heron.collect.kube")
    fake.set_forbidden(True)
    fake.add_pod(make_pod("ns", "a", NODE))
    pm = watcher()
    wait_for(lambda: any(getattr(r, "fields", {}).get("status") == 403 for r in caplog.records))
    record = next(r for r in caplog.records if getattr(r, "fields", {}).get("status") == 403)
    assert record.levelno == logging.WARNING
    assert "forbidden" in record.fields["error"]  # type: ignore[attr-defined]
    assert record.fields["hint"]  # type: ignore[attr-defined]
    assert pm.lookup("ns", "a") is None and not pm.healthy
    wait_for(lambda: len(fake.list_requests()) >= 3)  # still retrying, never giving up
    fake.set_forbidden(False)  # RBAC fixed: metadata arrives without a restart
    wait_for(lambda: pm.lookup("ns", "a") is not None)


def test_exclude_annotation(fake: FakeKubeAPI, watcher: Factory) -> None:
    fake.add_pod(make_pod("ns", "noisy", NODE, annotations={"heron.io/exclude": "true"}))
    fake.add_pod(make_pod("ns", "quiet", NODE, annotations={"heron.io/exclude": "false"}))
    pm = watcher()
    wait_for(lambda: len(pm) == 2)
    noisy, quiet = pm.lookup("ns", "noisy"), pm.lookup("ns", "quiet")
    assert noisy is not None and noisy.excluded
    assert quiet is not None and not quiet.excluded


def test_stop_is_prompt_while_watch_is_idle(fake: FakeKubeAPI, watcher: Factory) -> None:
    pm = watcher()
    wait_for(lambda: fake.watch_requests())
    t0 = time.monotonic()
    pm.stop()
    assert time.monotonic() - t0 < 1.0


def _info(labels: dict[str, str], **kwargs: object):  # noqa: ANN202 - test helper
    pod = Pod.from_dict(make_pod("ns", "p", NODE, labels=labels, init_containers=("init",)))
    options: dict[str, object] = {"label_allow": None, "label_deny": ()}
    options.update(kwargs)
    return pod_info(pod, NODE, **options)  # type: ignore[arg-type]


def test_app_label_precedence() -> None:
    assert _info({"app.kubernetes.io/name": "new", "app": "old"}).labels["app"] == "new"
    assert _info({"app": "old"}).labels["app"] == "old"
    assert "app" not in _info({"other": "x"}).labels
    assert _info({}).containers == ("init", "main")


def test_allow_deny_and_sanitising() -> None:
    labels = {
        "app.kubernetes.io/name": "shop",
        "team": "payments",
        "pod-template-hash": "abc123",
        "9lives": "cat",
        "namespace": "spoof",
    }
    all_labels = _info(labels).labels
    assert all_labels["app_kubernetes_io_name"] == "shop"
    assert all_labels["_9lives"] == "cat"
    assert all_labels["namespace"] == "ns"  # a pod label can never overwrite heron's own labels
    assert all_labels["pod_template_hash"] == "abc123"

    allowed = _info(labels, label_allow=["team", "app.kubernetes.io/*"]).labels
    assert set(allowed) == {"namespace", "pod", "node", "app", "team", "app_kubernetes_io_name"}

    denied = _info(labels, label_allow=["*"], label_deny=["app.kubernetes.io/*", "team"]).labels
    assert "team" not in denied and "app_kubernetes_io_name" not in denied
    assert denied["app"] == "shop"  # app comes from the pod labels regardless of the lists

    assert sanitize_label_name("a.b/c-d") == "a_b_c_d"
    assert sanitize_label_name("") == "_"


def test_default_deny_drops_rollout_hashes(fake: FakeKubeAPI, watcher: Factory) -> None:
    fake.add_pod(make_pod("ns", "a", NODE, labels={"pod-template-hash": "5d8f", "team": "x"}))
    pm = watcher()
    wait_for(lambda: pm.lookup("ns", "a") is not None)
    info = pm.lookup("ns", "a")
    assert info is not None and "pod_template_hash" not in info.labels and info.labels["team"] == "x"
