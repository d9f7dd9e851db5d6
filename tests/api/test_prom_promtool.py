"""Debian's real `promtool query instant|range|series|labels` against a real `heron server`
holding remote-written samples: Prometheus' own client reads Heron's answers, errors too."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from heron.ship.remote_write_encode import V1_CONTENT_TYPE, encode_v1, snappy
from serverproc import ServerProc, start_server

NOW_S = int(time.time()) // 60 * 60 - 60
NOW = NOW_S * 1000
UP_A = (("__name__", "up"), ("instance", "a:9100"), ("job", "node"))
UP_B = (("__name__", "up"), ("instance", "b:9100"), ("job", "node"))
REQS = (("__name__", "http_requests_total"), ("code", "500"), ("job", "api"))


@pytest.fixture(scope="module")
def heron(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    server = start_server(Path(tmp_path_factory.mktemp("promtool")) / "data")
    times = [NOW - 15_000 * i for i in range(40)]
    series = {
        UP_A: [(t, 1.0) for t in times],
        UP_B: [(t, 0.0) for t in times],
        REQS: [(t, 600.0 - 15 * i) for i, t in enumerate(times)],  # 1 per second
    }
    r = httpx.post(
        server.url + "/api/v1/write",
        content=snappy(encode_v1(series)),
        headers={"Content-Type": V1_CONTENT_TYPE, "Content-Encoding": "snappy"},
        timeout=30,
    )
    assert r.status_code == 204, r.text
    yield server
    assert server.stop() == 0, server.log()


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary, "promtool (Debian's prometheus package) is not installed"
    return subprocess.run([binary, "query", *args], capture_output=True, text=True, timeout=60)


def test_query_instant(heron: ServerProc) -> None:
    p = promtool("instant", "--time", str(NOW_S), heron.url, "up")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        f'up{{instance="a:9100", job="node"}} => 1 @[{NOW_S}]',
        f'up{{instance="b:9100", job="node"}} => 0 @[{NOW_S}]',
    ]
    p = promtool("instant", "--time", str(NOW_S), heron.url, "sum by (job) (up)")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [f'{{job="node"}} => 1 @[{NOW_S}]']
    p = promtool("instant", "-o", "json", "--time", str(NOW_S), heron.url, 'up{instance="b:9100"}')
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == (
        '[{"metric":{"__name__":"up","instance":"b:9100","job":"node"},"value":[' + str(NOW_S) + ',"0"]}]'
    )


def test_query_range(heron: ServerProc) -> None:
    p = promtool(
        "range",
        "--start",
        str(NOW_S - 60),
        "--end",
        str(NOW_S),
        "--step",
        "30s",
        heron.url,
        'up{instance="a:9100"}',
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        'up{instance="a:9100", job="node"} =>',
        f"1 @[{NOW_S - 60}]",
        f"1 @[{NOW_S - 30}]",
        f"1 @[{NOW_S}]",
    ]


def test_query_series(heron: ServerProc) -> None:
    p = promtool("series", "--match", '{job="node"}', heron.url)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        '{__name__="up", instance="a:9100", job="node"}',
        '{__name__="up", instance="b:9100", job="node"}',
    ]


def test_query_labels(heron: ServerProc) -> None:
    p = promtool("labels", heron.url, "job")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["api", "node"]
    p = promtool("labels", "--match", "http_requests_total", heron.url, "code")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["500"]


def test_errors_reach_promtool_as_prometheus_errors(heron: ServerProc) -> None:
    p = promtool("instant", heron.url, "up{")
    assert p.returncode == 1
    assert p.stderr.startswith('query error: bad_data: invalid parameter "query": 1:4: parse error:'), (
        p.stderr
    )
    p = promtool("instant", heron.url, "up + on() up")
    assert p.returncode == 1 and p.stderr.startswith("query error: execution: found duplicate series"), (
        p.stderr
    )
