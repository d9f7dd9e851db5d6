"""The remote write sender against a real HTTP endpoint on 127.0.0.1 that fails, throttles and
recovers: nothing is lost, each series' samples arrive in order, a final 4xx drops its batch
and counts it, a full queue drops and counts, and labels, headers and auth are as configured."""

from __future__ import annotations

import base64
import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest
import trustme
from rw_peer import Peer, iter_lines

from heron.promconfig import parse_prom_config
from heron.promconfig.types import Authorization, BasicAuth, QueueConfig, RemoteWriteConfig, TLSConfig
from heron.selfmetrics import Registry
from heron.ship.queue import DurableQueue
from heron.ship.remote_write import RemoteWriteFanout, RemoteWriteSender, decode_record, queue_dir_name
from heron.storage import SampleColumns

FAST = QueueConfig(max_samples_per_send=10, batch_send_deadline=0.05, min_backoff=0.01, max_backoff=0.05)


def _cols(series: int, start: int, n: int) -> SampleColumns:
    """`n` scrapes of `series` series, one column set per call as a scraper would submit."""
    labels = [(("__name__", "m"), ("s", str(i))) for i in range(series)] * n
    ts = np.repeat(np.arange(start, start + n, dtype=np.int64) * 1000, series)
    return SampleColumns(labels=labels, timestamps=ts, values=ts.astype(np.float64) / 7)


def _wait(cond: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _metric(registry: Registry, name: str, want: str = "") -> float:
    return sum(v for labels, v in iter_lines(registry.render(), name) if want in labels)


def _submit_scrapes(sender: RemoteWriteSender, series: int, scrapes: int) -> int:
    for k in range(scrapes):
        sender.submit(_cols(series, k, 1))
    return series * scrapes


def test_failures_throttling_and_recovery_lose_nothing_and_keep_order(tmp_path: Path) -> None:
    script: list[int | str] = [503, "drop", 500, 429, 502, 429, "drop", 503]
    queue = QueueConfig(**{**FAST.__dict__, "retry_on_http_429": True})
    registry = Registry()
    with Peer(script) as peer:
        cfg = RemoteWriteConfig(url=peer.url, queue_config=queue)
        sender = RemoteWriteSender(cfg, str(tmp_path / "q"), registry=registry)
        sender.start()
        total = _submit_scrapes(sender, 7, 30)
        _wait(lambda: len(peer.samples) >= total)
        sender.stop(grace=5)
    got = peer.by_series()
    assert len(got) == 7
    for i in range(7):
        samples = got[(("__name__", "m"), ("s", str(i)))]
        assert [t for t, _ in samples] == [k * 1000 for k in range(30)]  # all there, once, in order
        assert [v for _, v in samples] == [k * 1000 / 7 for k in range(30)]
    url = f'url="{peer.url}"'
    assert _metric(registry, "heron_remote_write_samples_total", url) == total
    assert _metric(registry, "heron_remote_write_retried_samples_total", url) > 0
    assert _metric(registry, "heron_remote_write_failed_samples_total", url) == 0
    assert _metric(registry, "heron_remote_write_queue_bytes", url) == 0
    assert not peer.script  # every failure was met and retried past
    assert all(h["content-encoding"] == "snappy" for h in peer.headers)
    assert all(h["x-prometheus-remote-write-version"] == "0.1.0" for h in peer.headers)


def test_final_4xx_drops_the_batch_and_counts_it(tmp_path: Path) -> None:
    registry = Registry()
    with Peer([400, 429]) as peer:  # 429 is final too without retry_on_http_429
        sender = RemoteWriteSender(
            RemoteWriteConfig(url=peer.url, queue_config=FAST), str(tmp_path / "q"), registry=registry
        )
        sender.start()
        sender.submit(_cols(10, 0, 1))  # one batch of 10: refused with 400
        _wait(lambda: peer.requests >= 1)
        sender.submit(_cols(10, 1, 1))  # refused with 429
        _wait(lambda: peer.requests >= 2)
        sender.submit(_cols(10, 2, 1))  # accepted
        _wait(lambda: len(peer.samples) >= 10)
        sender.stop(grace=5)
    assert sorted({t for _, t, _ in peer.samples}) == [2000]
    assert peer.requests == 3  # refused batches are not sent again
    assert _metric(registry, "heron_remote_write_failed_samples_total") == 20
    assert _metric(registry, "heron_remote_write_samples_total") == 10


def test_queue_full_drops_and_counts_without_blocking(tmp_path: Path) -> None:
    registry = Registry()
    with Peer(default=503) as peer:
        cfg = RemoteWriteConfig(url=peer.url, queue_config=FAST)
        sender = RemoteWriteSender(cfg, str(tmp_path / "q"), registry=registry, max_queue_bytes=2000)
        sender.start()
        for k in range(200):  # returns although the endpoint never answers 2xx
            sender.submit(_cols(10, k, 1))
        dropped = _metric(registry, "heron_remote_write_dropped_samples_total", 'reason="queue_full"')
        queued = _metric(registry, "heron_remote_write_queue_bytes")
        sender.stop(grace=0.2)
    assert dropped > 0 and dropped % 10 == 0
    assert 0 < queued < 2000 + 1000  # the bound is soft by at most one record
    with DurableQueue(str(tmp_path / "q"), 1 << 20) as q:  # the rest waits on disk
        rec = q.peek()
        assert rec is not None and decode_record(rec[1])[1] == 10


def test_external_labels_headers_and_basic_auth(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    with Peer() as peer:
        cfg = RemoteWriteConfig(
            url=peer.url,
            headers={"X-Scope-OrgID": "team-a"},
            basic_auth=BasicAuth(username="heron", password_file=str(secret)),
            queue_config=FAST,
        )
        sender = RemoteWriteSender(
            cfg, str(tmp_path / "q"), external_labels={"cluster": "c1", "s": "ignored"}
        )
        sender.start()
        sender.submit(_cols(2, 0, 1))
        _wait(lambda: len(peer.samples) >= 2)
        sender.stop(grace=5)
    labels = {lab for lab, _, _ in peer.samples}
    # An external label is added where the series lacks it; the series' own value wins.
    assert labels == {
        (("__name__", "m"), ("cluster", "c1"), ("s", "0")),
        (("__name__", "m"), ("cluster", "c1"), ("s", "1")),
    }
    h = peer.headers[0]
    assert h["x-scope-orgid"] == "team-a"
    assert h["authorization"] == "Basic " + base64.b64encode(b"heron:s3cret").decode()
    assert h["user-agent"] == "heron"


def test_stop_keeps_unsent_samples_for_the_next_sender(tmp_path: Path) -> None:
    with Peer(default=503) as down:
        cfg = RemoteWriteConfig(
            url=down.url, queue_config=QueueConfig(max_samples_per_send=1000, batch_send_deadline=60)
        )
        sender = RemoteWriteSender(cfg, str(tmp_path / "q"))
        sender.start()
        sender.submit(_cols(3, 0, 4))  # staged (under a batch, before the deadline): stop queues it
        sender.stop(grace=0.3)
    with Peer() as up:
        cfg = RemoteWriteConfig(url=up.url, queue_config=FAST)
        sender = RemoteWriteSender(cfg, str(tmp_path / "q"))
        sender.start()
        _wait(lambda: len(up.samples) >= 12)
        sender.stop(grace=5)
    assert sorted((dict(lab)["s"], t) for lab, t, _ in up.samples) == sorted(
        (str(i), k * 1000) for i in range(3) for k in range(4)
    )


def test_authorization_over_tls_with_a_server_name(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("remote.example")
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with Peer() as peer:
        import ssl

        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        peer.httpd.socket = ctx.wrap_socket(peer.httpd.socket, server_side=True)
        url = peer.url.replace("http://", "https://")
        cfg = RemoteWriteConfig(
            url=url,
            authorization=Authorization(credentials="tok"),
            tls_config=TLSConfig(ca_file=str(ca_file), server_name="remote.example"),
            queue_config=FAST,
        )
        sender = RemoteWriteSender(cfg, str(tmp_path / "q"))
        sender.start()
        sender.submit(_cols(1, 0, 1))
        _wait(lambda: len(peer.samples) >= 1)
        sender.stop(grace=5)
    assert peer.headers[0]["authorization"] == "Bearer tok"


def test_v2_requests_when_configured(tmp_path: Path) -> None:
    with Peer() as peer:
        cfg = RemoteWriteConfig(
            url=peer.url, protobuf_message="io.prometheus.write.v2.Request", queue_config=FAST
        )
        sender = RemoteWriteSender(cfg, str(tmp_path / "q"))
        sender.start()
        sender.submit(_cols(5, 0, 2))
        _wait(lambda: len(peer.samples) >= 10)
        sender.stop(grace=5)
    assert peer.headers[0]["content-type"] == "application/x-protobuf;proto=io.prometheus.write.v2.Request"
    assert peer.headers[0]["x-prometheus-remote-write-version"] == "2.0.0"


def test_a_bad_url_is_refused() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        RemoteWriteSender(RemoteWriteConfig(url="ftp://x"), "/nonexistent-heron-test-dir")


def test_write_relabel_configs_after_external_labels(tmp_path: Path) -> None:
    with Peer() as peer:
        prom = parse_prom_config(
            {
                "remote_write": [
                    {
                        "url": peer.url,
                        "write_relabel_configs": [
                            {"source_labels": ["s"], "regex": "[01]", "action": "drop"},
                            {
                                "source_labels": ["cluster"],
                                "target_label": "origin",
                                "replacement": "from-$1",
                            },
                            {"regex": "cluster", "action": "labeldrop"},
                        ],
                    }
                ]
            },
            "test",
        )
        cfg = dataclasses.replace(prom.remote_write[0], queue_config=FAST)
        registry = Registry()
        sender = RemoteWriteSender(
            cfg, str(tmp_path / "q"), registry=registry, external_labels={"cluster": "c1"}
        )
        sender.start()
        sender.submit(_cols(4, 0, 2))  # series s=0..3, two scrapes: s=0 and s=1 are dropped
        _wait(lambda: len(peer.samples) >= 4)
        sender.stop(grace=5)
    assert sorted(peer.by_series()) == [
        (("__name__", "m"), ("origin", "from-c1"), ("s", "2")),
        (("__name__", "m"), ("origin", "from-c1"), ("s", "3")),
    ]
    assert _metric(registry, "heron_remote_write_dropped_samples_total", 'reason="relabel"') == 4


def test_a_record_of_an_unknown_kind_is_skipped(tmp_path: Path) -> None:
    with DurableQueue(str(tmp_path / "q"), 1 << 20) as q:
        q.put(b"\x07junk")
        q.put(b"")
    with Peer() as peer:
        sender = RemoteWriteSender(RemoteWriteConfig(url=peer.url, queue_config=FAST), str(tmp_path / "q"))
        sender.start()
        sender.submit(_cols(3, 0, 1))
        _wait(lambda: len(peer.samples) >= 3)
        sender.stop(grace=5)
    assert peer.requests == 1


def test_fanout_sends_to_every_entry_from_its_own_queue(tmp_path: Path) -> None:
    with Peer() as a, Peer(default=503) as b:
        configs = [
            RemoteWriteConfig(url=a.url, name="mimir/prod", queue_config=FAST),
            RemoteWriteConfig(url=b.url, queue_config=FAST),
        ]
        fan = RemoteWriteFanout(configs, str(tmp_path / "rw"))
        fan.start()
        fan.submit(_cols(5, 0, 2))
        _wait(lambda: len(a.samples) >= 10)
        fan.stop(grace=0.2)
    assert sorted(p.name for p in (tmp_path / "rw").iterdir()) == sorted(
        ["mimir_prod", queue_dir_name(configs[1])]
    )
    with DurableQueue(str(tmp_path / "rw" / queue_dir_name(configs[1])), 1 << 20) as q:
        assert q.unacked_bytes > 0  # the endpoint that was down keeps its samples
    with pytest.raises(ValueError, match="share a queue"):
        RemoteWriteFanout([configs[0], configs[0]], str(tmp_path / "again"))
