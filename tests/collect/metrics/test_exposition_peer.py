"""Every case of `exposition_cases.yaml`, scraped by a real Prometheus (Debian's 2.42).

One Prometheus scrapes one target per case from a local HTTP server that serves the case's body
under its Content-Type. For each case, the scrape's outcome must match the parser's: a case the
parser refuses must leave Prometheus' target down with nothing stored, and for a case it accepts,
the series Prometheus stores (without `job`/`instance`) and their values must be the parser's.
Besides the table's cases, seeded random edits of its bodies (bytes inserted, replaced or cut)
go through the same comparison, so odd inputs are judged by Prometheus itself, not by hand.
Timestamps are not honoured here (`honor_timestamps: false`), since Prometheus drops samples
too far in the past; the table itself pins the timestamps.
"""

from __future__ import annotations

import dataclasses
import http.server
import math
import random
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest
from exposition_table import Case, load_cases

from heron.collect.metrics.exposition import ExpositionError, parse_exposition, series_labels
from peers import start_prometheus, wait_for

EDITS = [b" ", b"\t", b"\n", b'"', b"\\", b"{", b"}", b",", b"=", b"#", b"\0", b"\xff", b"e", b"1", b"."]
EDITS += [b"-"]
EDITS += [b"+", b"_", b"a", b"\r", b"# EOF\n", b"# HELP ", b"# TYPE x counter\n", b"Inf", b"__name__", b"nan"]


def _mutants(cases: list[Case], per_case: int, seed: int) -> list[Case]:
    """Seeded random edits of the accepted cases' bodies (1 to 3 edits each)."""
    rng = random.Random(seed)
    out = []
    for case in cases:
        if case.samples is None:
            continue
        for k in range(per_case):
            body = case.body
            for _ in range(rng.randint(1, 3)):
                pos = rng.randint(0, len(body))
                op = rng.choice(["insert", "replace", "delete"])
                if op == "insert":
                    body = body[:pos] + rng.choice(EDITS) + body[pos:]
                elif op == "replace":
                    body = body[:pos] + rng.choice(EDITS) + body[pos + 1 :]
                else:
                    body = body[:pos] + body[pos + rng.randint(1, 4) :]
            out.append(dataclasses.replace(case, name=f"edit {k} of {case.name}", body=body, samples=None))
    return out


TRANSPORT_ERRORS = ("dial tcp", "i/o timeout", "context deadline exceeded", "connection reset")
_TARGETS: dict[str, dict] = {}  # job -> Prometheus' target entry, fetched once and on retries


def _refresh_targets(url: str) -> dict[str, dict]:
    targets = httpx.get(url + "/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
    _TARGETS.update({t["labels"]["job"]: t for t in targets})
    return _TARGETS


def _transport_error(target: dict) -> bool:
    return any(w in target["lastError"] for w in TRANSPORT_ERRORS)


TABLE = load_cases()
CASES = TABLE + _mutants(TABLE, per_case=6, seed=10)


def _wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    # not up yet, or not ready (503, not JSON)
    wait_for(check, timeout, what, retry_on=(httpx.HTTPError, ValueError))


@pytest.fixture(scope="module")
def case_server() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            case = CASES[int(self.path.rsplit("/", 1)[1])]
            self.send_response(200)
            self.send_header("Content-Type", case.content_type)
            self.send_header("Content-Length", str(len(case.body)))
            self.end_headers()
            self.wfile.write(case.body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, case_server: str) -> Iterator[str]:
    jobs = "".join(
        f"  - job_name: case{i}\n"
        "    honor_timestamps: false\n"
        f"    metrics_path: /case/{i}\n"
        f"    static_configs: [{{targets: ['{case_server}']}}]\n"
        for i in range(len(CASES))
    )
    config = "global: {scrape_interval: 2s, scrape_timeout: 2s}\nscrape_configs:\n" + jobs
    peer = start_prometheus(tmp_path_factory.mktemp("prom"), config, timeout=90)
    try:

        def all_scraped() -> bool:
            targets = httpx.get(peer.url + "/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
            return len(targets) == len(CASES) and all(t["health"] != "unknown" for t in targets)

        _wait_for(all_scraped, 90, "Prometheus to scrape every case once")
        yield peer.url
    finally:
        peer.stop()


def _value(text: str | float) -> str:
    v = float(text)
    return "NaN" if math.isnan(v) else repr(v)


def _ours(case: Case) -> dict[tuple[tuple[str, str], ...], str] | None:
    """Series -> value as Prometheus stores one scrape of the case (a repeated series keeps its
    first value: the later ones are duplicates at the same timestamp), or None if refused."""
    try:
        exp = parse_exposition(case.body, case.content_type)
    except ExpositionError:
        return None
    out: dict[tuple[tuple[str, str], ...], str] = {}
    for s, v in zip(exp.series, exp.values.tolist(), strict=True):
        out.setdefault(series_labels(s), _value(v))
    return out


def _stored(url: str, index: int) -> dict[tuple[tuple[str, str], ...], str]:
    """What Prometheus holds for case `index`: series (without job/instance) -> latest value."""
    query = f'{{job="case{index}",__name__!~"up|scrape_.+"}}'
    answer = httpx.get(url + "/api/v1/query", params={"query": query}, timeout=5).json()
    stored = {}
    for r in answer["data"]["result"]:
        labels = tuple(sorted((k, v) for k, v in r["metric"].items() if k not in ("job", "instance")))
        stored[labels] = _value(r["value"][1])
    return stored


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c.name for c in CASES])
def test_case_matches_prometheus(prometheus: str, index: int) -> None:
    case = CASES[index]

    job = f"case{index}"
    if job not in _TARGETS or _transport_error(_TARGETS[job]):
        # On a loaded machine a scrape can time out before reaching the body: wait for one that did.
        _wait_for(lambda: not _transport_error(_refresh_targets(prometheus)[job]), 30, "a scrape that ran")
    scraped = _TARGETS[job]
    ours = _ours(case)
    stored = _stored(prometheus, index)
    if ours and not stored:
        # Prometheus reports a scrape's health before it commits the samples: a first scrape
        # can look done a moment before its data is there.
        _wait_for(lambda: bool(_stored(prometheus, index)), 10, f"case {index}'s samples")
        stored = _stored(prometheus, index)
    if ours is None:
        assert scraped["health"] == "down", (case.name, scraped["lastError"])
        assert stored == {}
    else:
        assert scraped["health"] == "up", (case.name, scraped["lastError"])
        assert stored == ours
