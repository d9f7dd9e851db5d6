"""The agent's push client against real HTTP servers on 127.0.0.1: retry rules and auth."""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from heron.model import labels_from
from heron.ship.loki_client import MAX_RETRY_AFTER, Backoff, LokiPushClient, PushOutcome, parse_retry_after
from heron.ship.loki_encode import encode_push_request
from heron.storage import LogBatch
from serverproc import start_server

FAST = Backoff(initial=0.01, maximum=0.05, rng=random.Random(1))


class Scripted(ThreadingHTTPServer):
    """Answers pushes with a scripted list of status codes (or (code, headers) pairs), recording
    what it received and when."""

    def __init__(self, codes: list[int | tuple[int, dict[str, str]]]):
        self.codes = list(codes)
        self.seen: list[tuple[str, dict[str, str], bytes]] = []
        self.times: list[float] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Scripted

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.seen.append((self.path, dict(self.headers), body))
        self.server.times.append(time.monotonic())
        step = self.server.codes.pop(0) if self.server.codes else 204
        code, headers = step if isinstance(step, tuple) else (step, {})
        self.send_response(code)
        msg = b"" if code == 204 else b"scripted answer"
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(msg)))
        self.end_headers()
        self.wfile.write(msg)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def scripted(request: pytest.FixtureRequest) -> Iterator[Scripted]:
    srv = Scripted(request.param)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    t.join()


BODY = encode_push_request([LogBatch(labels_from({"app": "x"}), [1_700_000_000_000_000_000], [b"hello"])])


@pytest.mark.parametrize("scripted", [[500, 503, 429, 204]], indirect=True)
def test_retries_5xx_and_429_until_delivered(scripted: Scripted) -> None:
    with LokiPushClient(scripted.url, backoff=FAST, bearer_token="s3cret") as c:
        res = c.push(BODY)
    assert res.outcome is PushOutcome.DELIVERED and res.attempts == 4
    assert c.retries_total == 3
    assert all(path == "/loki/api/v1/push" and body == BODY for path, _, body in scripted.seen)
    headers = scripted.seen[0][1]
    assert headers["Authorization"] == "Bearer s3cret"
    assert headers["Content-Type"] == "application/x-protobuf"


@pytest.mark.parametrize(
    "scripted", [[(507, {"Retry-After": "1"}), (503, {"Retry-After": "1"}), 204]], indirect=True
)
def test_507_and_503_are_retried_no_sooner_than_retry_after(scripted: Scripted) -> None:
    """A full disk (507) or a failing one (503) on the server: the batch is kept and sent again,
    after the wait the server asked for, however short the backoff would be."""
    with LokiPushClient(scripted.url, backoff=FAST) as c:
        res = c.push(BODY)
    assert res.outcome is PushOutcome.DELIVERED and res.attempts == 3
    assert [body for _, _, body in scripted.seen] == [BODY] * 3
    gaps = [b - a for a, b in zip(scripted.times, scripted.times[1:])]
    assert min(gaps) >= 0.95, gaps


def test_retry_after_accepts_seconds_and_http_dates_and_is_capped() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) == 0.0 and parse_retry_after("soon") == 0.0
    assert parse_retry_after("86400") == MAX_RETRY_AFTER
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25.0 <= parse_retry_after(when) <= 30.0
    assert parse_retry_after(email.utils.formatdate(time.time() - 30, usegmt=True)) == 0.0


@pytest.mark.parametrize("scripted", [[400, 204]], indirect=True)
def test_other_4xx_is_final(scripted: Scripted) -> None:
    with LokiPushClient(scripted.url, backoff=FAST) as c:
        res = c.push(BODY)
    assert res.outcome is PushOutcome.REJECTED and res.status == 400 and res.attempts == 1
    assert "scripted answer" in res.message
    assert len(scripted.seen) == 1 and c.rejected_total == 1


def test_network_errors_retry_until_closed() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    c = LokiPushClient(f"http://127.0.0.1:{port}", backoff=FAST)
    out: list = []
    t = threading.Thread(target=lambda: out.append(c.push(BODY)))
    t.start()
    deadline = time.monotonic() + 10
    while c.retries_total < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    c.close()
    t.join(timeout=10)
    assert out and out[0].outcome is PushOutcome.STOPPED and out[0].attempts >= 3


def test_delivers_to_a_real_heron_server(tmp_path) -> None:
    server = start_server(tmp_path / "data")
    try:
        now = time.time_ns()
        body = encode_push_request([LogBatch(labels_from({"app": "agent"}), [now], [b"shipped"])])
        with LokiPushClient(server.url, backoff=FAST) as c:
            assert c.push(body).outcome is PushOutcome.DELIVERED
            assert c.push(body).outcome is PushOutcome.DELIVERED  # a re-send is stored once
        r = httpx.get(
            server.url + "/loki/api/v1/query_range", params={"query": '{app="agent"}', "since": "5m"}
        )
        assert [v[1] for s in r.json()["data"]["result"] for v in s["values"]] == ["shipped"]
    finally:
        assert server.stop() == 0


class _KeepAlive(BaseHTTPRequestHandler):
    """HTTP/1.1 without `Connection: close`; optionally drops the connection after answering,
    as a server does with an idle keep-alive connection."""

    protocol_version = "HTTP/1.1"
    server: ThreadingHTTPServer

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.peers.append(self.client_address[1])  # type: ignore[attr-defined]
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.close_connection = self.server.drop  # type: ignore[attr-defined]

    def log_message(self, *args: object) -> None:
        return


@pytest.mark.parametrize("drop", [False, True])
def test_keeps_the_connection_alive_and_resends_at_once_when_the_server_dropped_it(drop: bool) -> None:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _KeepAlive)
    srv.peers, srv.drop = [], drop  # type: ignore[attr-defined]
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        with LokiPushClient(f"http://127.0.0.1:{srv.server_address[1]}", backoff=FAST) as c:
            for _ in range(3):
                assert c.push(BODY).outcome is PushOutcome.DELIVERED
            assert c.retries_total == 0  # a dropped idle connection is no failure
        peers = srv.peers  # type: ignore[attr-defined]
        assert len(peers) == 3 and len(set(peers)) == (3 if drop else 1)
    finally:
        srv.shutdown()
        srv.server_close()
        t.join()


def test_rejects_a_url_that_is_not_http() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        LokiPushClient("heron:9500")
