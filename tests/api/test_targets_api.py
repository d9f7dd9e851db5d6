"""`/api/v1/targets`, `/api/v1/targets/metadata` and `/api/v1/metadata` through a real
`heron server --config heron.yaml` whose only section is `scrape_configs`, scraping real HTTP
targets on 127.0.0.1; then the stored samples, read back from its data dir."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from heron.model import Matcher, MatchOp, is_stale_nan
from heron.storage import Database, StorageOptions
from scrapetarget import Response, Target
from serverproc import ServerProc, start_server
from waiting import wait_for

BODY = b"""# HELP app_requests_total Requests.
# TYPE app_requests_total counter
app_requests_total{code="200"} 10
# HELP app_temperature Degrees.
# TYPE app_temperature gauge
# UNIT app_temperature celsius
app_temperature 21
"""
RFC3339_NANO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z")
WAIT = 30.0  # the server scrapes every 1 s; a loaded machine may need many periods


@pytest.fixture
def targets() -> Iterator[tuple[Target, Target]]:
    good = Target(Response(BODY))
    bad = Target(Response(b"boom", status=500))
    yield good, bad
    good.close()
    bad.close()


@pytest.fixture
def scraping(tmp_path: Path, targets: tuple[Target, Target]) -> Iterator[ServerProc]:
    good, bad = targets
    config = tmp_path / "heron.yaml"
    config.write_text(
        f"""scrape_configs:
  - job_name: app
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs:
      - targets: ['{good.address}', '{bad.address}']
        labels:
          team: core
  - job_name: dropped
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs:
      - targets: ['127.0.0.1:1']
    relabel_configs:
      - action: drop
        source_labels: [__address__]
        regex: '127\\.0\\.0\\.1:1'
"""
    )
    s = start_server(tmp_path / "data", "--config", str(config))
    yield s
    if s.proc.poll() is None:
        assert s.stop() == 0, s.log()


def _get(server: ServerProc, path: str, **params: str) -> httpx.Response:
    return httpx.get(server.url + path, params=params, timeout=30)


def test_targets_api_in_prometheus_format(scraping: ServerProc, targets: tuple[Target, Target]) -> None:
    good, bad = targets

    def scraped() -> list[dict[str, Any]] | None:
        active = _get(scraping, "/api/v1/targets").json()["data"]["activeTargets"]
        return active if all(t["health"] != "unknown" for t in active) and len(active) == 2 else None

    active = wait_for(scraped, timeout=WAIT)
    by_instance = {t["labels"]["instance"]: t for t in active}
    ok, down = by_instance[good.address], by_instance[bad.address]
    assert set(ok) == {
        "discoveredLabels",
        "labels",
        "scrapePool",
        "scrapeUrl",
        "globalUrl",
        "lastError",
        "lastScrape",
        "lastScrapeDuration",
        "health",
        "scrapeInterval",
        "scrapeTimeout",
    }
    assert ok["labels"] == {"instance": good.address, "job": "app", "team": "core"}
    assert ok["discoveredLabels"] == {
        "__address__": good.address,
        "__metrics_path__": "/metrics",
        "__scheme__": "http",
        "__scrape_interval__": "1s",
        "__scrape_timeout__": "1s",
        "job": "app",
        "team": "core",
    }
    assert ok["scrapePool"] == "app" and ok["scrapeUrl"] == f"http://{good.address}/metrics"
    assert ok["globalUrl"].endswith(f":{good.address.rsplit(':', 1)[1]}/metrics")
    assert ok["health"] == "up" and ok["lastError"] == ""
    assert RFC3339_NANO.fullmatch(ok["lastScrape"]), ok["lastScrape"]
    assert isinstance(ok["lastScrapeDuration"], float) and ok["lastScrapeDuration"] > 0
    assert ok["scrapeInterval"] == "1s" and ok["scrapeTimeout"] == "1s"
    assert down["health"] == "down"
    assert down["lastError"] == "server returned HTTP status 500 Internal Server Error"

    dropped = _get(scraping, "/api/v1/targets", state="dropped").json()["data"]
    assert dropped["activeTargets"] == []
    assert [d["discoveredLabels"]["__address__"] for d in dropped["droppedTargets"]] == ["127.0.0.1:1"]
    only_active = _get(scraping, "/api/v1/targets", state="active").json()["data"]
    assert only_active["droppedTargets"] == [] and len(only_active["activeTargets"]) == 2
    pool = _get(scraping, "/api/v1/targets", scrapePool="dropped").json()["data"]
    assert pool["activeTargets"] == [] and len(pool["droppedTargets"]) == 1

    r = _get(scraping, "/api/v1/targets", state="sleeping")
    assert r.status_code == 400
    assert r.json()["errorType"] == "bad_data" and "state" in r.json()["error"]

    text = _get(scraping, "/metrics").text
    assert 'heron_scrape_targets{pool="app",health="up"} 1' in text
    assert 'heron_scrape_targets{pool="app",health="down"} 1' in text
    assert 'heron_scrape_errors_total{pool="app",reason="http"}' in text


def test_metadata_apis(scraping: ServerProc, targets: tuple[Target, Target]) -> None:
    good, _ = targets
    rows = wait_for(lambda: _get(scraping, "/api/v1/targets/metadata").json()["data"], timeout=WAIT)
    target = {"instance": good.address, "job": "app", "team": "core"}
    assert {r["metric"]: (r["type"], r["help"], r["unit"]) for r in rows} == {
        "app_requests_total": ("counter", "Requests.", ""),
        "app_temperature": ("gauge", "Degrees.", ""),
    }
    assert all(r["target"] == target for r in rows)
    one = _get(scraping, "/api/v1/targets/metadata", metric="app_temperature", match_target='{job="app"}')
    assert one.json()["data"] == [{"target": target, "type": "gauge", "help": "Degrees.", "unit": ""}]
    none = _get(scraping, "/api/v1/targets/metadata", match_target='{job="other"}').json()
    assert none == {"status": "success", "data": []}
    bad = _get(scraping, "/api/v1/targets/metadata", match_target="{job=")
    assert bad.status_code == 400 and bad.json()["error"].startswith('invalid parameter "match_target"')
    assert _get(scraping, "/api/v1/targets/metadata", limit="x").status_code == 400

    meta = _get(scraping, "/api/v1/metadata").json()["data"]
    assert meta["app_requests_total"] == [{"type": "counter", "help": "Requests.", "unit": ""}]
    assert list(_get(scraping, "/api/v1/metadata", metric="app_temperature").json()["data"]) == [
        "app_temperature"
    ]
    assert _get(scraping, "/api/v1/metadata", limit="0").json()["data"] == {}
    assert len(_get(scraping, "/api/v1/metadata", limit="1").json()["data"]) == 1
    r = _get(scraping, "/api/v1/metadata", limit="many")
    assert r.status_code == 400 and r.json()["error"] == "limit must be a number"


def test_scraped_samples_are_stored_and_end_stale(
    scraping: ServerProc, targets: tuple[Target, Target]
) -> None:
    good, bad = targets

    def both_scraped() -> bool:
        active = _get(scraping, "/api/v1/targets", state="active").json()["data"]["activeTargets"]
        return sorted(t["health"] for t in active) == ["down", "up"]

    wait_for(both_scraped, timeout=WAIT)
    assert scraping.stop() == 0, scraping.log()
    db = Database.open(str(scraping.data_dir), StorageOptions(), background=False)
    try:
        found = db.query_samples([Matcher("__name__", MatchOp.RE, ".+")], 0, 2**62)
    finally:
        db.close()
    by_series = {tuple(sorted(dict(lab).items())): (ts, vs) for lab, ts, vs in found}
    names = {dict(k)["__name__"] for k in by_series}
    assert {"app_requests_total", "app_temperature", "up", "scrape_series_added"} <= names
    ups = {dict(k)["instance"]: vs for k, (_, vs) in by_series.items() if dict(k)["__name__"] == "up"}
    assert ups[good.address][0] == 1.0 and ups[bad.address][0] == 0.0
    # heron stopped: every series ends with a staleness marker.
    assert all(is_stale_nan(float(vs[-1])) for _, vs in by_series.values())
    temp = next(v for k, v in by_series.items() if dict(k)["__name__"] == "app_temperature")
    assert dict(next(k for k in by_series if dict(k)["__name__"] == "app_temperature")) == {
        "__name__": "app_temperature",
        "instance": good.address,
        "job": "app",
        "team": "core",
    }
    assert float(temp[1][0]) == 21.0


def test_a_bad_scrape_config_exits_2_and_starts_nothing(tmp_path: Path) -> None:
    import subprocess
    import sys

    config = tmp_path / "heron.yaml"
    config.write_text("scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: explode\n")
    proc = subprocess.run(
        [sys.executable, "-m", "heron", "server", "--config", str(config), "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert err.count("\n") == 1 and "scrape_configs[0].relabel_configs[0].action" in err
    assert not (tmp_path / "d").exists()


def test_reload_applies_new_scrape_configs_and_refuses_a_bad_file(
    tmp_path: Path, targets: tuple[Target, Target]
) -> None:
    good, bad = targets
    config = tmp_path / "heron.yaml"
    job = "  - job_name: {name}\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    static_configs:\n"
    job += "      - targets: ['{address}']\n"
    config.write_text("scrape_configs:\n" + job.format(name="first", address=good.address))
    server = start_server(tmp_path / "data", "--config", str(config))
    try:

        def pools() -> list[str]:
            active = _get(server, "/api/v1/targets").json()["data"]["activeTargets"]
            return sorted(t["scrapePool"] for t in active)

        assert pools() == ["first"]
        config.write_text("scrape_configs:\n" + job.format(name="second", address=bad.address))
        r = httpx.post(server.url + "/-/reload", timeout=30)
        assert r.status_code == 200, r.text
        assert pools() == ["second"]
        # A file Prometheus would refuse changes nothing.
        config.write_text("scrape_configs:\n  - job_name: x\n    scrape_interval: soon\n")
        r = httpx.post(server.url + "/-/reload", timeout=30)
        assert r.status_code == 400
        assert r.text.startswith("failed to reload config:") and "scrape_interval" in r.text
        assert pools() == ["second"]
        # SIGHUP reloads too.
        config.write_text("scrape_configs:\n" + job.format(name="third", address=good.address))
        server.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: pools() == ["third"], timeout=WAIT)
    finally:
        assert server.stop() == 0, server.log()
