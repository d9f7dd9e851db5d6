"""Side by side with a real Prometheus: the same samples, the same PromQL, the same answers.

A real Debian `prometheus` (2.42) scrapes a real `prometheus-node-exporter` and an
application-shaped target (`apptarget.py`: counters, gauges, an info metric, a classic
histogram) every second, and remote-writes every sample into a real `heron server`. Once about
75 s of scrapes are in both, every query of `queries.yaml` runs against both HTTP APIs, as an
instant query (`/api/v1/query`) and as a range query (`/api/v1/query_range`), and the answers
are compared as Prometheus' `promql/tools` compliance tester does: the same result type, the
same series (label sets; in order only for the sort functions), the same timestamps, and
values equal within 1e-9 relative (NaN equal to NaN).

Window edges: Prometheus 2.42's range selectors and lookback are left-closed `[t - r, t]`,
Prometheus 3's (and heron's) left-open `(t - r, t]`. The two agree unless a sample sits exactly
on `t - r`. Every range and offset in the queries is a whole number of seconds, so the test
reads the samples' millisecond-of-second phases from Prometheus and evaluates at a time whose
millisecond is as far as possible from all of them: no window edge then lands on a sample.
(Subquery steps are whole seconds too, so their inner evaluations sit at .000: the test checks
that no sample does.)
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from apptarget import AppTarget

from peers import Peer, start_node_exporter, start_prometheus, wait_for
from serverproc import ServerProc, start_server

QUERIES = Path(__file__).with_name("queries.yaml")
# Scrapes in both before comparing. The earliest window any query reads starts 60 s before
# the evaluation time (20 s of range steps, then a 30 s subquery over 10 s rates); with 75 s of
# data no window holds a series' first sample, where Prometheus 2.42's rate extrapolation
# (zero-point cut before the half-interval cap) differs from Prometheus 3's (after it).
SCRAPE_SECONDS = 75
RANGE_SPAN_MS = 20_000  # range queries: from T - 20 s to T
RANGE_STEP_MS = 5_000
REL_TOL = 1e-9
NODE_COLLECTORS = ("cpu", "meminfo", "loadavg", "netdev", "stat", "vmstat")


def load_queries() -> list[dict[str, Any]]:
    entries = yaml.safe_load(QUERIES.read_text())
    assert isinstance(entries, list) and all("query" in e for e in entries)
    return entries


@pytest.fixture
def app_target() -> Iterator[AppTarget]:
    target = AppTarget()
    yield target
    target.close()


def _config(node: str, app: str, write_url: str) -> str:
    return (
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n"
        f"  - job_name: node\n    static_configs:\n      - targets: ['{node}']\n"
        f"  - job_name: app\n    static_configs:\n      - targets: ['{app}']\n"
        "remote_write:\n"
        f"  - url: {write_url}\n"
        "    queue_config: {batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 1s}\n"
    )


def _highest_sent(prom: Peer) -> float:
    for line in httpx.get(prom.url + "/metrics", timeout=10).text.splitlines():
        if line.startswith("prometheus_remote_storage_queue_highest_sent_timestamp_seconds"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _pick_eval_ms(prom: Peer, now_ms: int) -> int:
    """A time just before `now_ms` whose millisecond-of-second is farthest from every
    sample's, so that no whole-second window edge lands on a sample."""
    r = httpx.get(prom.url + "/api/v1/query", params={"query": "{job=~'node|app'}[1m]"}, timeout=30)
    assert r.status_code == 200, r.text
    phases = sorted(
        {round(float(t) * 1000) % 1000 for s in r.json()["data"]["result"] for t, _ in s["values"]}
    )
    assert phases, "prometheus holds no samples"
    assert 0 not in phases, f"a sample sits on a whole second, where subquery steps evaluate: {phases}"
    best, gap = 0, -1
    for m in range(1, 1000):
        d = min(min(abs(m - p), 1000 - abs(m - p)) for p in phases)
        if d > gap:
            best, gap = m, d
    assert gap >= 5, f"no millisecond phase clear of the samples' phases {phases}"
    return (now_ms // 1000 - 1) * 1000 + best


def _get(url: str, path: str, params: dict[str, str]) -> dict[str, Any]:
    r = httpx.get(url + path, params=params, timeout=60)
    assert r.status_code == 200, f"{url}{path} {params}: {r.status_code} {r.text[:500]}"
    body = r.json()
    assert body["status"] == "success", body
    return body["data"]


def _points(values: list[list[Any]]) -> list[tuple[int, float]]:
    return [(round(float(t) * 1000), float(v)) for t, v in values]


def _normal(
    data: dict[str, Any],
) -> tuple[str, list[tuple[tuple[tuple[str, str], ...], list[tuple[int, float]]]]]:
    """(result type, [(labels, [(ms, value)])]) of an API answer, series in answer order."""
    kind = data["resultType"]
    res = data["result"]
    if kind in ("scalar", "string"):
        return kind, [((), [(round(float(res[0]) * 1000), float(res[1]) if kind == "scalar" else res[1])])]
    if kind == "vector":
        return kind, [(tuple(sorted(s["metric"].items())), _points([s["value"]])) for s in res]
    return kind, [(tuple(sorted(s["metric"].items())), _points(s["values"])) for s in res]


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or math.isclose(a, b, rel_tol=REL_TOL, abs_tol=0.0)


def diff(want: dict[str, Any], got: dict[str, Any], ordered: bool) -> str | None:
    """How heron's answer differs from Prometheus', or None when they agree."""
    wk, ws = _normal(want)
    gk, gs = _normal(got)
    if wk != gk:
        return f"result type: prometheus {wk}, heron {gk}"
    wl, gl = [s[0] for s in ws], [s[0] for s in gs]
    if sorted(wl) != sorted(gl):
        missing = sorted(set(wl) - set(gl))
        extra = sorted(set(gl) - set(wl))
        return f"series differ: missing in heron {missing[:5]}, extra in heron {extra[:5]}"
    if len(set(wl)) != len(wl):
        return f"prometheus answered duplicate series {wl}"
    if ordered and wl != gl:
        return f"series order: prometheus {wl}, heron {gl}"
    got_by = dict(gs)
    for labels, points in ws:
        have = got_by[labels]
        want_ts, got_ts = [t for t, _ in points], [t for t, _ in have]
        if want_ts != got_ts:
            return f"{dict(labels)}: timestamps prometheus {want_ts}, heron {got_ts}"
        for (t, a), (_, b) in zip(points, have):
            if not _close(a, b):
                return f"{dict(labels)} at {t}: prometheus {a!r}, heron {b!r}"
    return None


def _wait_for_data(prom: Peer, heron: ServerProc, app: AppTarget) -> int:
    """Scrape for SCRAPE_SECONDS, then wait (bounded) until Prometheus has remote-written
    everything up to the chosen evaluation time; returns that time in ms."""
    wait_for(lambda: app.scrapes >= SCRAPE_SECONDS, SCRAPE_SECONDS + 60, "prometheus to scrape", prom)
    eval_ms = _pick_eval_ms(prom, int((time.time() - 3) * 1000))
    wait_for(lambda: _highest_sent(prom) >= eval_ms / 1000 + 1, 60, "remote write to catch up", prom)
    time.sleep(0.5)  # heron answers the write before Prometheus counts it sent; let reads see it
    return eval_ms


def test_promql_answers_match_prometheus(tmp_path: Path, app_target: AppTarget) -> None:
    queries = load_queries()
    assert len(queries) >= 60
    heron = start_server(tmp_path / "data")
    node = start_node_exporter(tmp_path, NODE_COLLECTORS)
    prom = None
    try:
        prom = start_prometheus(
            tmp_path, _config(node.address, app_target.address, heron.url + "/api/v1/write"), timeout=60
        )
        eval_ms = _wait_for_data(prom, heron, app_target)
        at = f"{(eval_ms - 7_500) / 1000:.3f}"
        instant = {"time": f"{eval_ms / 1000:.3f}"}
        ranged = {
            "start": f"{(eval_ms - RANGE_SPAN_MS) / 1000:.3f}",
            "end": f"{eval_ms / 1000:.3f}",
            "step": f"{RANGE_STEP_MS / 1000:g}",
        }
        problems: list[str] = []
        nonempty = 0
        for entry in queries:
            q = entry["query"].replace("{at}", at)
            for path, params in (("/api/v1/query", instant), ("/api/v1/query_range", ranged)):
                want = _get(prom.url, path, {"query": q, **params})
                try:
                    got = _get(heron.url, path, {"query": q, **params})
                except AssertionError as exc:
                    problems.append(f"{path} {q}: heron failed: {exc}")
                    continue
                nonempty += bool(want["result"])
                why = diff(want, got, bool(entry.get("ordered")))
                if why is not None:
                    problems.append(f"{path} {q}: {why}")
        # The comparison means something only if Prometheus answered with data.
        assert nonempty >= len(queries), f"only {nonempty} non-empty answers from prometheus"
        assert not problems, f"{len(problems)} of {2 * len(queries)} answers differ:\n" + "\n".join(problems)
    finally:
        if prom is not None:
            prom.stop()
        node.stop()
        assert heron.stop() == 0, heron.log()
