"""`POST /api/v1/write` on a real `heron server`: the answers a sender acts on (204, 400 with
the rest stored, 413, 415, the 2.0 written-headers), metadata, the push counter, and Heron's
own sender into Heron's receiver (1.0 and 2.0), read back through storage after it stops."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import cramjam
import httpx
import numpy as np
import pytest

from heron.collect.metrics.metadata import MetricMetadata
from heron.model import Matcher, MatchOp
from heron.promconfig.types import QueueConfig, RemoteWriteConfig
from heron.protowire import encode_varint
from heron.selfmetrics import Registry
from heron.ship.remote_write import RemoteWriteSender
from heron.ship.remote_write_encode import V1_CONTENT_TYPE, V2_CONTENT_TYPE, encode_v1, encode_v2, snappy
from heron.storage import Database, SampleColumns, StorageOptions
from serverproc import ServerProc, peak_rss, start_server

NOW = int(time.time() * 1000)
UP = (("__name__", "up"), ("job", "api"))


def _stored(data_dir: Path, matcher: Matcher) -> dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]:
    db = Database.open(str(data_dir), StorageOptions(), background=False)
    try:
        rows = db.query_samples([matcher], NOW - 3_600_000, NOW + 3_600_000)
    finally:
        db.close()
    return {lab: list(zip(ts.tolist(), vals.tolist())) for lab, ts, vals in rows}


def _post(
    client: httpx.Client, body: bytes, ctype: str = V1_CONTENT_TYPE, enc: str = "snappy"
) -> httpx.Response:
    return client.post(
        "/api/v1/write", content=body, headers={"Content-Type": ctype, "Content-Encoding": enc}
    )


def test_answers_a_sender_acts_on(server: ServerProc, client: httpx.Client) -> None:
    ok = snappy(encode_v1({UP: [(NOW - 2000, 1.0), (NOW - 1000, 1.0)]}))
    r = _post(client, ok)
    assert r.status_code == 204 and r.content == b""
    assert _post(client, ok).status_code == 204  # a retried request is acknowledged again

    # One sample conflicts with a stored one: 400 naming it, and the other sample is stored.
    r = _post(client, snappy(encode_v1({UP: [(NOW - 1000, 0.0), (NOW, 1.0)]})))
    assert r.status_code == 400
    assert "already has a different value" in r.text and "total refused: 1 out of 2 samples" in r.text

    assert _post(client, b"\x00garbage").status_code == 400
    assert _post(client, snappy(b"\x0a\x03\x0a\x01\xff")).status_code == 400
    r = _post(client, ok, ctype="application/json")
    assert r.status_code == 415 and "Content-Type" in r.text
    assert _post(client, ok, enc="gzip").status_code == 415
    assert _post(client, ok, ctype="application/x-protobuf;proto=nope").status_code == 415

    r = _post(client, snappy(encode_v2({UP: [(NOW + 1000, 1.0)]})), ctype=V2_CONTENT_TYPE)
    assert r.status_code == 204
    assert r.headers["X-Prometheus-Remote-Write-Samples-Written"] == "1"
    assert r.headers["X-Prometheus-Remote-Write-Histograms-Written"] == "0"
    assert r.headers["X-Prometheus-Remote-Write-Exemplars-Written"] == "0"

    metrics = client.get("/metrics").text
    assert 'heron_push_requests_total{api="remote_write",code="204"} 3' in metrics
    assert 'heron_push_requests_total{api="remote_write",code="400"} 3' in metrics
    assert 'heron_push_requests_total{api="remote_write",code="415"} 3' in metrics
    assert server.stop() == 0
    assert _stored(server.data_dir, Matcher("job", MatchOp.EQ, "api")) == {
        UP: [(NOW - 2000, 1.0), (NOW - 1000, 1.0), (NOW, 1.0), (NOW + 1000, 1.0)]
    }


def test_body_limits_before_and_after_snappy(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", "--max-push-size", "4096")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert _post(client, b"\x01" * 5000).status_code == 413
            big = snappy(encode_v1({((("__name__", "x"), ("pad", "a" * 6000))): [(NOW, 1.0)]}))
            assert len(big) < 4096
            r = _post(client, big)
            assert r.status_code == 413 and "max_push_size" in r.text
    finally:
        assert server.stop() == 0, server.log()


def test_metadata_reaches_the_store(tmp_path: Path) -> None:
    from heron.api.app import create_app
    from heron.api.state import AppState

    db = Database.open(str(tmp_path / "db"), StorageOptions(), background=False)
    state = AppState(db=db, ready=True)
    v1 = snappy(
        encode_v1({UP: [(NOW, 1.0)]}, {"up": MetricMetadata("gauge", "Whether the target is up.", "")})
    )
    v2 = snappy(
        encode_v2({(("__name__", "rps"),): [(NOW, 2.0)]}, {"rps": MetricMetadata("counter", "", "1")})
    )

    async def push() -> list[int]:
        transport = httpx.ASGITransport(app=create_app(state))
        async with httpx.AsyncClient(transport=transport, base_url="http://heron") as client:
            codes = []
            for body, ctype in ((v1, V1_CONTENT_TYPE), (v2, V2_CONTENT_TYPE)):
                r = await client.post(
                    "/api/v1/write",
                    content=body,
                    headers={"Content-Type": ctype, "Content-Encoding": "snappy"},
                )
                codes.append(r.status_code)
            return codes

    try:
        assert asyncio.run(push()) == [204, 204]
    finally:
        db.close()
    assert state.metadata.query("up") == {"up": [MetricMetadata("gauge", "Whether the target is up.", "")]}
    assert state.metadata.query("rps") == {"rps": [MetricMetadata("counter", "", "1")]}


@pytest.mark.parametrize("message", ["prometheus.WriteRequest", "io.prometheus.write.v2.Request"])
def test_heron_sender_into_heron_receiver(tmp_path: Path, message: str) -> None:
    server = start_server(tmp_path / "data")
    registry = Registry()
    try:
        cfg = RemoteWriteConfig(
            url=server.url + "/api/v1/write",
            protobuf_message=message,
            queue_config=QueueConfig(max_samples_per_send=500, batch_send_deadline=0.1),
        )
        sender = RemoteWriteSender(
            cfg, str(tmp_path / "queue"), registry=registry, external_labels={"cluster": "c"}
        )
        sender.start()
        labels = [(("__name__", "rt"), ("i", str(i))) for i in range(300)]
        for k in range(5):  # five scrapes of 300 series
            ts = np.full(300, NOW - (5 - k) * 15_000, dtype=np.int64)
            sender.submit(SampleColumns(labels, ts, np.arange(300, dtype=np.float64) * (k + 1)))
        sender.stop(grace=30)
        assert f'heron_remote_write_samples_total{{url="{cfg.url}"}} 1500' in registry.render()
    finally:
        assert server.stop() == 0, server.log()
    got = _stored(tmp_path / "data", Matcher("__name__", MatchOp.EQ, "rt"))
    assert len(got) == 300
    for i in range(300):
        want = [(NOW - (5 - k) * 15_000, float(i * (k + 1))) for k in range(5)]
        assert got[(("__name__", "rt"), ("cluster", "c"), ("i", str(i)))] == want


def test_a_snappy_bomb_and_a_body_at_the_limit_stay_bounded(tmp_path: Path) -> None:
    """A body declaring 200 MiB is refused before it is decoded; one at the limit (8 MiB of one
    series' samples, a sender catching up) is stored as one batch, not sample by sample."""
    server = start_server(tmp_path / "data", "--max-push-size", str(8 << 20))
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            assert _post(client, snappy(encode_v1({UP: [(NOW, 1.0)]}))).status_code == 204  # warm
            base = peak_rss(server.proc.pid)
            block = bytes(cramjam.snappy.compress_raw(os.urandom(6 << 20)))
            bomb = encode_varint(200 << 20) + block[len(encode_varint(6 << 20)) :]
            r = _post(client, bomb)
            assert r.status_code == 413 and "209715200" in r.text
            assert peak_rss(server.proc.pid) - base <= 64 << 20
            n = 450_000
            raw = encode_v1({(("__name__", "many"),): [(NOW - 3_600_000 + i, float(i)) for i in range(n)]})
            assert len(raw) <= 8 << 20
            r = _post(client, snappy(raw))
            assert r.status_code == 204, r.text
            growth = peak_rss(server.proc.pid) - base
            assert growth <= 256 << 20, growth / (1 << 20)  # 534 MiB when stored sample by sample
    finally:
        assert server.stop() == 0, server.log()
    got = _stored(tmp_path / "data", Matcher("__name__", MatchOp.EQ, "many"))
    [(_, samples)] = got.items()
    assert len(samples) == 450_000 and samples[-1] == (NOW - 3_600_000 + 449_999, 449_999.0)
