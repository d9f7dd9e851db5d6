"""Issue 18 over real HTTP: a query never takes the server down, and bad input is a 4xx.

Each reproduction from the issue is a test here: the template bomb, the step bomb, the
memory budget (422), the timeout inside per-line and per-step loops (504), and the inputs that
used to answer 500. The bombs are measured by the server's peak RSS (VmHWM); the server also
runs under an RLIMIT_DATA cap, so on code without the bounds they fail with a MemoryError
(a 500) rather than exhaust the machine.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from pathlib import Path
from typing import Iterator

import httpx
import psutil
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from serverproc import ServerProc, peak_rss, start_server

S = 10**9
NOW = (time.time_ns() // S - 600) * S
MIB = 1024 * 1024
N_LINES = 2000


def cap_memory(server: ServerProc, extra: int = 1024 * MIB) -> None:
    """Limit the server's heap to what it has now plus `extra`, so a runaway allocation is a
    MemoryError in that process, not the kernel's OOM killer picking a victim."""
    proc = psutil.Process(server.proc.pid)
    with open(f"/proc/{server.proc.pid}/status") as f:
        data = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmData:"))
    proc.rlimit(psutil.RLIMIT_DATA, (data + extra, data + extra))


def push(url: str, streams: list[dict[str, object]]) -> None:
    r = httpx.post(url + "/loki/api/v1/push", json={"streams": streams}, timeout=60)
    assert r.status_code == 204, r.text


def issue_data(n: int = N_LINES) -> list[dict[str, object]]:
    """The issue's streams: logfmt lines (job q), plain lines (job x), one packed line (job p)."""
    return [
        {
            "stream": {"job": "q"},
            "values": [[str(NOW + i * 10**8), f"level=info n={i} msg=hello"] for i in range(n)],
        },
        {"stream": {"job": "x"}, "values": [[str(NOW + i * 10**8), f"line {i}"] for i in range(n)]},
        {"stream": {"job": "p"}, "values": [[str(NOW), json.dumps({"_entry": "a=1 b=2", "k": "v"})]]},
    ]


def started(tmp: Path, *flags: str, n: int = N_LINES) -> ServerProc:
    s = start_server(tmp / "data", "--query-workers", "0", *flags)
    cap_memory(s)
    push(s.url, issue_data(n))
    return s


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    s = started(Path(tmp_path_factory.mktemp("limits")))
    yield s
    assert s.stop() == 0, s.log()


@pytest.fixture(scope="module")
def http(srv: ServerProc) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=srv.url, timeout=60) as c:
        yield c


def query_range(client: httpx.Client, query: str, **params: str) -> httpx.Response:
    params.setdefault("since", "1h")
    return client.get("/loki/api/v1/query_range", params={"query": query, **params})


def growth(server: ServerProc, client: httpx.Client, query: str, **params: str) -> tuple[httpx.Response, int]:
    """The answer to a query and how much the server's peak RSS grew while answering it."""
    query_range(client, '{job="x"} | line_format "{{ .job }}"', limit="10")  # warm up the code path
    before = peak_rss(server.proc.pid)
    r = query_range(client, query, **params)
    return r, peak_rss(server.proc.pid) - before


# --- 1. template output is bounded by the max line size ---------------------------------------


def test_repeat_bomb_is_each_lines_template_error(srv: ServerProc, http: httpx.Client) -> None:
    query = '{job="x"} | line_format "{{ repeat 100000000 \\"x\\" }}"'
    r, grew = growth(srv, http, query, limit=str(N_LINES))
    assert r.status_code == 200, r.text
    [stream] = r.json()["data"]["result"]
    assert stream["stream"]["__error__"] == "TemplateFormatErr"
    details = stream["stream"]["__error_details__"]
    assert "error calling repeat" in details and "maximum line size of 262144 bytes" in details
    assert len(stream["values"]) == N_LINES
    assert all(v[1].startswith("line ") for v in stream["values"])  # Loki keeps the line unchanged
    assert grew < 64 * MIB, f"peak RSS grew by {grew / MIB:.0f} MiB"


def test_label_format_output_is_bounded_too(http: httpx.Client) -> None:
    r = query_range(http, '{job="x"} | label_format big=`{{ repeat 100000000 "x" }}`', limit="5")
    assert r.status_code == 200, r.text
    [stream] = r.json()["data"]["result"]
    assert "big" not in stream["stream"]
    assert stream["stream"]["__error__"] == "TemplateFormatErr"
    assert stream["stream"]["__error_details__"].startswith('template: label:1:3: executing "label"')


@pytest.mark.parametrize("workers", ["0", "1"])
def test_template_limit_is_the_servers_max_line_size(tmp_path: Path, workers: str) -> None:
    """The in-process engine and a query worker's engine both take max_line_size."""
    s = start_server(tmp_path / "data", "--max-line-size", "1KiB", "--query-workers", workers)
    try:
        cap_memory(s)
        push(s.url, issue_data(10))
        with httpx.Client(base_url=s.url, timeout=60) as c:
            fits = query_range(c, '{job="x"} | line_format `{{ repeat 1024 "x" }}`', limit="1")
            assert fits.status_code == 200, fits.text
            assert fits.json()["data"]["result"][0]["values"][0][1] == "x" * 1024
            r = query_range(c, '{job="x"} | line_format `{{ repeat 1025 "x" }}`', limit="1")
            assert r.status_code == 200, r.text
            labels = r.json()["data"]["result"][0]["stream"]
            assert labels["__error__"] == "TemplateFormatErr"
            assert (
                "output of 1025 bytes exceeds the maximum line size of 1024 bytes"
                in labels["__error_details__"]
            )
    finally:
        assert s.stop() == 0, s.log()


# --- 2. steps per range query ------------------------------------------------------------------


def test_step_bomb_is_refused_before_anything_is_allocated(srv: ServerProc, http: httpx.Client) -> None:
    r, grew = growth(srv, http, 'count_over_time({job="q"}[1m])', start="0", step="1s")
    assert r.status_code == 400
    assert r.text.strip() == (
        "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query "
        "resolution (?step=XX)"
    )
    assert grew < 64 * MIB, f"peak RSS grew by {grew / MIB:.0f} MiB"
    end = NOW // S + 300
    q = 'count_over_time({job="q"}[1m])'
    r = query_range(http, q, start=str(end - 11_001), end=str(end), step="1s")
    assert r.status_code == 400, r.text
    r = query_range(http, q, start=str(end - 11_000), end=str(end), step="1s")  # the most allowed
    assert r.status_code == 200, r.text
    assert len(r.json()["data"]["result"][0]["values"]) > 0


# --- 5. input that answered 500 ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "params", "message"),
    [
        ('rate({job="q"}[0s])', {}, "invalid range [0s] in rate: a range must be greater than zero"),
        ('{job="q"} | logfmt \ufffd| a="1"', {}, "invalid extracted label name '\ufffd'"),
        ('{job="q"} | logfmt a="b c"', {}, "cannot parse expression [b c]"),
        (
            '{job="q"}',
            {"start": "-99999999999999999999"},
            'invalid parameter "start": the time is out of range',
        ),
        ('{job="q"}', {"end": "9" * 400}, 'invalid parameter "end": cannot parse'),
        ('{job="q"}', {"since": "9" * 400 + "h"}, 'invalid parameter "since": cannot parse'),
        (
            '{job="q"}',
            {"end": "-9000000000000000000", "since": "1000000000"},
            '"start": the time is out of range',
        ),
        ('count_over_time({job="q"}[1m])', {"step": "1e300"}, 'invalid parameter "step": cannot parse'),
    ],
)
def test_bad_input_is_a_400_that_says_why(
    http: httpx.Client, query: str, params: dict[str, str], message: str
) -> None:
    r = query_range(http, query, **params)
    assert r.status_code == 400, r.text
    assert message in r.text


def test_instant_query_time_out_of_range_is_a_400(http: httpx.Client) -> None:
    r = http.get("/loki/api/v1/query", params={"query": "vector(1)", "time": "9" * 25})
    assert r.status_code == 400
    assert 'invalid parameter "time": the time is out of range' in r.text


def test_lone_surrogates_are_rendered_as_replacement_characters(http: httpx.Client) -> None:
    # `slice` cuts bytes: the first byte of "é" alone is kept as a lone surrogate in the label
    r = query_range(http, '{job="x"} | label_format s=`{{ slice "é" 0 1 }}`', limit="1")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["result"][0]["stream"]["s"] == "\ufffd"
    r = query_range(
        http, 'sum by (s) (count_over_time({job="x"} | label_format s=`{{ slice "é" 0 1 }}` [1h]))'
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["result"][0]["metric"] == {"s": "\ufffd"}
    r = query_range(http, '{job="x"} | line_format `{{ slice "é" 0 1 }}` |~ "." | json', limit="1")
    assert r.status_code == 200, r.text
    # Go's %c of a surrogate rune is U+FFFD
    r = query_range(http, '{job="x"} | line_format `{{ printf "%c" 55296 }}`', limit="1")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["result"][0]["values"][0][1] == "\ufffd"


def test_tail_sends_lone_surrogates_as_replacement_characters(srv: ServerProc) -> None:
    query = urllib.parse.quote('{job="x"} | label_format s=`{{ slice "é" 0 1 }}`')
    url = srv.url.replace("http://", "ws://") + f"/loki/api/v1/tail?limit=2&query={query}"
    with connect(url, open_timeout=10) as ws:
        frame = json.loads(ws.recv(timeout=15))
    assert frame["streams"][0]["stream"]["s"] == "\ufffd"
    # a refusal whose reason is long non-ASCII text still closes with 1008 (at most 123 bytes)
    query = urllib.parse.quote('{job="x"} | logfmt ' + "é" * 100)
    url = srv.url.replace("http://", "ws://") + f"/loki/api/v1/tail?query={query}"
    with connect(url, open_timeout=10) as ws:
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=15)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1008
    assert info.value.rcvd.reason.startswith("invalid extracted label name 'ééé")


def test_unpacked_line_goes_on_through_the_pipeline(http: httpx.Client) -> None:
    r = query_range(http, '{job="p"} | unpack | logfmt | a="1"')
    assert r.status_code == 200, r.text
    [stream] = r.json()["data"]["result"]
    # service_name (from job) and detected_level are added at ingest, as Loki 3 does
    assert stream["stream"] == {
        "job": "p",
        "service_name": "p",
        "detected_level": "unknown",
        "k": "v",
        "a": "1",
        "b": "2",
    }
    assert stream["values"][0][1] == "a=1 b=2"


# --- 3. the memory budget ----------------------------------------------------------------------


def test_memory_budget_answers_422_naming_the_limit(tmp_path: Path) -> None:
    s = started(tmp_path, "--query-memory-budget", "4MiB")
    try:
        with httpx.Client(base_url=s.url, timeout=60) as c:
            ok = query_range(c, '{job="q"} | logfmt', limit="100")
            assert ok.status_code == 200, ok.text
            # 2000 kept lines of 5000 bytes: 10 MB of lines
            r = query_range(c, '{job="x"} | line_format `{{ repeat 5000 "x" }}`', limit=str(N_LINES))
            assert r.status_code == 422, r.text[:300]
            assert r.text.startswith(
                "query exceeded its memory budget of 4194304 bytes (query_memory_budget)"
            )
            # 2000 series of 11,000 steps: 176 MB of step matrix, refused as it is built
            end = NOW // S + 300
            r = query_range(
                c,
                'sum by (n) (count_over_time({job="q"} | logfmt [1m]))',
                start=str(end - 11_000),
                end=str(end),
                step="1s",
            )
            assert r.status_code == 422, r.text[:300]
            assert "query_memory_budget" in r.text
    finally:
        assert s.stop() == 0, s.log()


# --- 4. the timeout inside evaluation loops ----------------------------------------------------


def test_timeout_stops_per_line_and_per_step_loops(tmp_path: Path) -> None:
    s = started(tmp_path, "--query-timeout", "1s")
    try:
        with httpx.Client(base_url=s.url, timeout=30) as c:
            # ~30 ms of template work a line, 2000 lines in one head chunk: a minute without checks
            heavy = '{job="x"} | line_format `{{ len (regexReplaceAll "a" (repeat 20000 "a") "b") }}`'
            t0 = time.monotonic()
            r = query_range(c, heavy, limit="10")
            took = time.monotonic() - t0
            assert r.status_code == 504, r.text[:300]
            assert r.text.startswith("query timed out")
            assert took < 6, f"answered after {took:.1f}s"
            # quantile at 10,800 steps whose windows each hold all 50,000 entries: seconds of sorting
            many = [[str(NOW + i * 10**6), f"n={i}"] for i in range(50_000)]
            push(s.url, [{"stream": {"job": "many"}, "values": many}])
            start = NOW // S + 100
            t0 = time.monotonic()
            r = query_range(
                c,
                'quantile_over_time(0.5, {job="many"} | logfmt | unwrap n [3h])',
                start=str(start),
                end=str(start + 10_800),
                step="1s",
            )
            took = time.monotonic() - t0
            assert r.status_code == 504, r.text[:300]
            assert took < 6, f"answered after {took:.1f}s"
    finally:
        assert s.stop() == 0, s.log()
