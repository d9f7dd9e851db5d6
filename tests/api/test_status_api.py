"""Heron's status APIs (/api/v1/status/...) against a real server, and the pieces behind them."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from heron.api.state import AgentTracker, IngestHistory
from heron.api.status import setting_text
from heron.config import SETTINGS, load_settings
from heron.storage import Counters, LogBatch
from serverproc import start_server


def push(client: httpx.Client, node: str, n: int, agent: str = "test-agent/1.0", app: str = "status") -> None:
    now = time.time_ns()
    body = {
        "streams": [
            {
                "stream": {"app": app, "node": node},
                "values": [[str(now - i * 1000), f"line {i} from {node}"] for i in range(n)],
            }
        ]
    }
    r = client.post("/loki/api/v1/push", json=body, headers={"User-Agent": agent})
    assert r.status_code == 204, r.text


def data(client: httpx.Client, path: str, **params: str) -> dict:
    r = client.get(f"/api/v1/status/{path}", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "success"
    return body["data"]


def test_build_and_runtime_info(client: httpx.Client) -> None:
    from heron import __version__
    from heron.api.status import PROMETHEUS_VERSION

    build = data(client, "buildinfo")
    assert build["heronVersion"] == __version__
    assert build["version"] == PROMETHEUS_VERSION  # what Grafana's feature detection reads
    assert build["pythonVersion"].count(".") == 2
    runtime = data(client, "runtimeinfo")
    assert runtime["startTime"].endswith("Z") and runtime["uptimeSeconds"] >= 0
    assert runtime["storageRetention"] == "15d"
    assert runtime["ready"] is True


def test_an_agent_pushing_is_listed_with_its_rates_and_storage_moves(client: httpx.Client) -> None:
    before = data(client, "storage")
    push(client, "node-status-1", 120)
    push(client, "node-status-1", 30)
    after = data(client, "storage")
    assert after["logStreams"] == before["logStreams"] + 1
    assert after["series"] == after["logStreams"] + after["metricSeries"]
    assert after["logEntriesTotal"] == before["logEntriesTotal"] + 150
    assert after["headBytes"] > before["headBytes"] and after["walBytes"] > before["walBytes"]
    assert after["diskBytes"] == after["blocksBytes"] + after["walBytes"]
    assert after["retentionSeconds"] == 15 * 86400 and after["retentionBytes"] == 0

    agents = data(client, "agents")
    assert agents["windowSeconds"] == 60
    (row,) = [a for a in agents["agents"] if a["node"] == "node-status-1"]
    assert row["userAgent"] == "test-agent/1.0" and row["remoteAddr"] == "127.0.0.1"
    assert row["pushes"] == 2
    assert row["linesPerSecond"] == pytest.approx(150 / 60)
    line_bytes = sum(len(f"line {i} from node-status-1") for i in range(120)) + sum(
        len(f"line {i} from node-status-1") for i in range(30)
    )
    assert row["bytesPerSecond"] == pytest.approx(line_bytes / 60)
    assert abs(row["lastContact"] - time.time()) < 30

    ingestion = data(client, "ingestion")
    assert ingestion["intervalSeconds"] == 10 and ingestion["rangeSeconds"] == 900
    assert ingestion["totals"]["entries"] == after["logEntriesTotal"]
    newest = ingestion["rates"][-1]
    assert newest["entriesPerSecond"] > 0 and newest["bytesPerSecond"] > 0
    assert newest["end"] >= newest["start"]


def test_two_nodes_in_one_push_are_two_agents_and_limit_cuts_the_list(client: httpx.Client) -> None:
    now = time.time_ns()
    body = {
        "streams": [
            {"stream": {"app": "s", "node": "node-x"}, "values": [[str(now), "x"]]},
            {"stream": {"app": "s", "node": "node-y"}, "values": [[str(now), "y"], [str(now + 1), "yy"]]},
        ]
    }
    assert client.post("/loki/api/v1/push", json=body).status_code == 204
    rows = {a["node"]: a for a in data(client, "agents")["agents"]}
    assert rows["node-x"]["linesPerSecond"] == pytest.approx(1 / 60)
    assert rows["node-y"]["linesPerSecond"] == pytest.approx(2 / 60)
    limited = data(client, "agents", limit="1")
    assert len(limited["agents"]) == 1 and limited["total"] >= 2


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("ingestion", {"range": "1h"}, "at most 15m"),
        ("ingestion", {"range": "0"}, "more than 0"),
        ("ingestion", {"range": "soon"}, 'cannot parse "soon" as a duration'),
        ("agents", {"limit": "0"}, "from 1 to 1000"),
        ("agents", {"limit": "1001"}, "from 1 to 1000"),
        ("agents", {"limit": "many"}, 'cannot parse "many" as an integer'),
    ],
)
def test_bad_parameters_are_400_with_a_message(
    client: httpx.Client, path: str, params: dict, message: str
) -> None:
    r = client.get(f"/api/v1/status/{path}", params=params)
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == "error" and body["errorType"] == "bad_data"
    assert message in body["error"]


def test_settings_show_values_and_omit_secrets(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cr3t-token-contents\n")
    server = start_server(
        tmp_path / "data",
        "--bearer-token-file",
        str(token),
        "--server",
        "https://heron:hunter2@logs.example:3100",
        "--retention",
        "7d",
        "--retention-size",
        "10GiB",
    )
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            flags = data(client, "flags")
            assert set(flags) == {s.name for s in SETTINGS}
            assert flags["retention"] == "7d" and flags["max_line_size"] == "256KiB"
            assert flags["bearer_token_file"] == str(token)
            assert flags["server"] == "https://heron:<secret>@logs.example:3100"
            rows = {row["name"]: row for row in data(client, "settings")}
            assert rows["retention"]["default"] == "15d" and rows["retention"]["flag"] == "--retention"
            assert rows["retention_size"]["value"] == "10GiB"
            for path in ("flags", "settings", "runtimeinfo"):
                text = client.get(f"/api/v1/status/{path}").text
                assert "s3cr3t" not in text and "hunter2" not in text
            assert data(client, "runtimeinfo")["storageRetention"] == "7d or 10GiB"
    finally:
        assert server.stop() == 0, server.log()


def test_every_setting_text_parses_back_to_its_value(tmp_path: Path) -> None:
    values = {
        "retention": "1h30m",
        "fsync": "always",
        "ooo_window": "0",
        "head_max_size": "1000",
        "query_timeout": "1500ms",
        "demo_rate": "2.5",
        "discover_service_name": "app,job",
        "ui_dir": "",
    }
    for flags in ({}, values):
        settings = load_settings(None, {}, flags)
        for s in SETTINGS:
            value = getattr(settings, s.name)
            assert s.parse(setting_text(s, value)) == value, s.name
    assert setting_text(next(s for s in SETTINGS if s.name == "fsync"), 0.25) == "250ms"


class Clock:
    def __init__(self, t: float = 1_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def batch(node: str | None, *lines: bytes) -> LogBatch:
    labels = (("app", "a"),) + ((("node", node),) if node is not None else ())
    return LogBatch(labels, list(range(len(lines))), list(lines))


def test_agents_window_expiry_and_bound() -> None:
    clock = Clock()
    agents = AgentTracker(max_agents=3, keep_seconds=900, window_seconds=60, clock=clock)
    agents.record([batch("n1", b"abcd", b"ef")], "ua", "10.0.0.1")
    clock.t += 30
    agents.record([batch("n1", b"g")], "ua", "10.0.0.1")
    (row,) = agents.snapshot()
    assert (row["node"], row["pushes"]) == ("n1", 2)
    assert row["linesPerSecond"] == pytest.approx(3 / 60) and row["bytesPerSecond"] == pytest.approx(7 / 60)
    clock.t += 45  # the first push has left the window
    (row,) = agents.snapshot()
    assert row["linesPerSecond"] == pytest.approx(1 / 60)
    clock.t += 60
    assert agents.snapshot()[0]["linesPerSecond"] == 0
    agents.record([batch(None, b"x")], "other", "10.0.0.2")  # no node label: known by its source
    assert [r["node"] for r in agents.snapshot()] == ["", "n1"]  # most recent first
    clock.t += 901 - 60  # n1's last push was 901 s ago: dropped; the other stays
    assert [r["userAgent"] for r in agents.snapshot()] == ["other"]
    for i in range(5):
        agents.record([batch(f"m{i}", b"x")], "ua", "10.0.0.3")
    assert [r["node"] for r in agents.snapshot()] == ["m4", "m3", "m2"]  # bounded, oldest evicted


def test_ingest_history_rates_per_interval_in_a_bounded_ring() -> None:
    clock = Clock()
    hist = IngestHistory(interval=10, span=60, clock=clock)
    c = Counters()
    for _ in range(20):
        hist.sample(c)
        c.log_entries += 100
        c.log_bytes += 5000
        clock.t += 10
    clock.t -= 5  # the live point: 5 s after the last sample, 100 entries and 5000 bytes on
    rates = hist.rates(c, 60)
    assert len(hist._samples) == 7  # span / interval + 1
    assert [r["entriesPerSecond"] for r in rates] == [10] * 6 + [20]
    assert [r["bytesPerSecond"] for r in rates] == [500] * 6 + [1000]
    assert rates[-1]["end"] - rates[-1]["start"] == 5
    assert len(hist.rates(c, 20)) == 3  # the intervals ending in the last 20 s
