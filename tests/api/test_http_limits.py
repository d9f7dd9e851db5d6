"""HTTP-level limits against a real server (issue 18): header size, parameter count, form size,
and read deadlines, with real sockets. Every answer is a status with a message, not a reset."""

from __future__ import annotations

import re
import socket
import time
from typing import Iterator

import httpx
import pytest

from serverproc import ServerProc, peak_rss, start_server

MiB = 1 << 20
TIMEOUT = 1.0  # --request-read-timeout of the `slow` server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    s = start_server(tmp_path_factory.mktemp("limits") / "data")
    yield s
    assert s.stop() == 0, s.log()


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    s = start_server(tmp_path_factory.mktemp("slow") / "data", "--request-read-timeout", f"{TIMEOUT:g}s")
    yield s
    assert s.stop() == 0, s.log()


@pytest.fixture
def client(server: ServerProc) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


def address(s: ServerProc) -> tuple[str, int]:
    host, port = s.url.removeprefix("http://").split(":")
    return host, int(port)


def read_answer(sock: socket.socket, limit_seconds: float) -> tuple[bytes, bool]:
    """Everything the server sends until it closes (True) or `limit_seconds` pass (False)."""
    got = b""
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            return got, True
        got += chunk
    return got, False


def test_a_200_kb_header_is_431_not_a_reset(client: httpx.Client) -> None:
    r = client.get("/loki/api/v1/labels", headers={"X-Big": "a" * 200_000})
    assert r.status_code == 431
    assert r.text == "request headers are larger than the limit of 65536 bytes\n"
    assert client.get("/loki/api/v1/labels", headers={"X-Fine": "a" * 60_000}).status_code == 200


def test_a_100000_parameter_url_is_414_not_a_reset(server: ServerProc) -> None:
    """httpx refuses such a URL itself, so this is a raw socket, as a hostile client would use."""
    query = b"&".join(b"p%d=1" % i for i in range(100_000))
    with socket.create_connection(address(server), timeout=10) as sock:
        sock.sendall(b"GET /loki/api/v1/labels?" + query + b" HTTP/1.1\r\nHost: heron\r\n\r\n")
        answer, closed = read_answer(sock, 10)
    assert answer.startswith(b"HTTP/1.1 414 "), answer[:200]
    assert answer.endswith(b"\r\n\r\nrequest line (URL) is longer than the limit of 65536 bytes\n")
    assert closed


def test_more_than_10000_parameters_are_400_with_a_message(client: httpx.Client) -> None:
    many = "&".join(["a"] * 10_001)  # 20 KB: within the header limit, over the count
    r = client.get("/loki/api/v1/labels?" + many)
    assert r.status_code == 400 and r.text == "too many parameters in the query string: the limit is 10000\n"
    r = client.post(
        "/loki/api/v1/query",
        content=f'query={{app="x"}}&{many}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 400 and r.text == "too many parameters in the form body: the limit is 10000\n"
    assert client.get("/loki/api/v1/labels?" + "&".join(["a"] * 10_000)).status_code == 200


def test_a_300_mib_form_body_is_413_after_10_mib_and_memory_stays_flat(
    server: ServerProc, client: httpx.Client
) -> None:
    """Issue 18: a 300 MiB form on /loki/api/v1/query was read whole (1.25 GiB VmHWM)."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    r = client.post("/loki/api/v1/query", data={"query": 'count_over_time({app="x"}[1m])'}, headers=form)
    assert r.status_code == 200, r.text  # a normal form query still works
    base = peak_rss(server.proc.pid)

    def body() -> Iterator[bytes]:  # chunked: no Content-Length to refuse it by
        yield b'query={app="x"}&pad='
        for _ in range(300):
            yield b"a" * MiB

    r = client.post("/loki/api/v1/query", content=body(), headers=form)
    assert r.status_code == 413, r.text[:300]
    assert r.text == "form body too large: the limit is 10485760 bytes\n"
    assert peak_rss(server.proc.pid) - base <= 64 * MiB
    t0 = time.monotonic()
    with socket.create_connection(address(server), timeout=10) as sock:  # httpx would send it all
        sock.sendall(
            b"POST /loki/api/v1/query HTTP/1.1\r\nHost: heron\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\nquery="
            % (300 * MiB)
        )
        answer = b""
        while not re.search(rb"\r\n\r\n.*\n", answer, re.S):  # one short plain-text answer
            chunk, closed = read_answer(sock, 0.05)
            answer += chunk
            assert not closed and time.monotonic() - t0 < 10
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]  # refused by its declared length, unread


def trickle(s: ServerProc, first: bytes, then: bytes) -> tuple[bytes, bool, float]:
    """Send `first`, then a byte of `then` (repeated forever) every 50 ms, reading what comes
    back, until the server closes or 3 read timeouts and 2 s pass. Returns (answer, closed,
    seconds taken)."""
    t0 = time.monotonic()
    answer, closed = b"", False
    with socket.create_connection(address(s), timeout=10) as sock:
        sock.sendall(first)
        while not closed and time.monotonic() - t0 < 3 * TIMEOUT + 2:
            if not answer:  # a client that got its answer stops sending
                try:
                    sock.send(then)
                except OSError:
                    break
            chunk, closed = read_answer(sock, 0.05)
            answer += chunk
    return answer, closed, time.monotonic() - t0


def test_headers_sent_byte_by_byte_are_cut_off_with_408(slow: ServerProc) -> None:
    """Issue 18: slow clients were never timed out; a byte now and then held a connection forever."""
    answer, closed, took = trickle(slow, b"G", b"a")
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert answer.endswith(b"request headers not received within 1s (request_read_timeout)\n")
    assert closed and TIMEOUT * 0.9 <= took < 3 * TIMEOUT + 2
    answer, closed, _ = trickle(slow, b"GET /loki/api/v1/labels HTTP/1.1\r\nHost: heron\r\nX-Slow: ", b"a")
    assert answer.startswith(b"HTTP/1.1 408 ") and closed


def test_a_connection_that_sends_nothing_is_closed(slow: ServerProc) -> None:
    t0 = time.monotonic()
    with socket.create_connection(address(slow), timeout=10) as sock:
        answer, closed = read_answer(sock, 3 * TIMEOUT + 2)
    assert closed and answer == b""  # there was no request to answer
    assert TIMEOUT * 0.9 <= time.monotonic() - t0 < 3 * TIMEOUT + 2


def test_a_body_sent_byte_by_byte_is_cut_off_with_408(slow: ServerProc) -> None:
    head = (
        b"POST /loki/api/v1/push HTTP/1.1\r\nHost: heron\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n"
    )
    answer, closed, took = trickle(slow, head, b"{")
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert answer.endswith(b"request body not received within 1s (request_read_timeout)\n")
    assert b"connection: close" in answer.lower()
    assert closed and TIMEOUT * 0.9 <= took < 3 * TIMEOUT + 2
    # the deadline is per request: a keep-alive connection may live longer than it
    with httpx.Client(base_url=slow.url, timeout=10) as c:
        for _ in range(3):
            r = c.post("/loki/api/v1/push", json={"streams": [{"stream": {"k": "a"}, "values": []}]})
            assert r.status_code == 204, r.text
            time.sleep(TIMEOUT * 0.6)  # idle in between is keep-alive's business, not the deadline's


def test_a_body_trickling_in_after_the_answer_is_cut_off(slow: ServerProc) -> None:
    """The app answered without reading the body; uvicorn would wait for the rest forever."""
    t0 = time.monotonic()
    with socket.create_connection(address(slow), timeout=10) as sock:
        sock.sendall(b"POST /-/healthy HTTP/1.1\r\nHost: heron\r\nContent-Length: 100000\r\n\r\n")
        answer, closed = b"", False
        while not closed and time.monotonic() - t0 < 3 * TIMEOUT + 2:
            try:
                sock.send(b"x")  # keeps sending after the answer: the body is still owed
            except OSError:
                closed = True
                break
            chunk, closed = read_answer(sock, 0.05)
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 405 ")  # answered at once, then cut off
    assert closed and time.monotonic() - t0 < 3 * TIMEOUT + 2
