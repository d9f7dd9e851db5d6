"""A real Prometheus 2.42 and a real `heron server --config` get the same file (its
`scrape_configs` use `file_sd` targets and every relabel action; targets_case.yaml), and their
`/api/v1/targets?state=any` must list the same targets: `labels`, `scrapePool` and `scrapeUrl`
of every active target, `discoveredLabels` of active and dropped targets in the pools where
Prometheus 2.42 reports them correctly, and the number of dropped targets in the others
(targets_case.yaml explains 2.42's in-place overwrite of discoveredLabels).

The functions heron's scraper builds targets from (`FileSD`, `populate_labels`, `target_url`)
are compared too, so a difference points at the layer that has it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from heron.collect.metrics.discovery import TargetGroup
from heron.collect.metrics.filesd import FileSD
from heron.promconfig import parse_prom_config, populate_labels, target_url
from peers import start_prometheus
from serverproc import start_server

CASE = yaml.safe_load((Path(__file__).parent / "targets_case.yaml").read_text())


def _write_case(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in CASE["files"].items():
        (directory / name).write_text(text)
    config = directory / "prometheus.yml"
    config.write_text(CASE["config"])
    return config


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    config = _write_case(tmp_path / "case")
    peer = start_prometheus(tmp_path, config, timeout=60)
    try:
        yield peer.url, config
    finally:
        peer.stop()


def _key(obj: dict[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)


def _public(labels: dict[str, str]) -> dict[str, str]:
    """What the targets API shows as `labels`: no `__`-prefixed names."""
    return {k: v for k, v in labels.items() if not k.startswith("__")}


def _active(pool: str, labels: dict[str, str], discovered: dict[str, str] | None, url: str) -> str:
    entry: dict[str, Any] = {"labels": _public(labels), "scrapePool": pool, "scrapeUrl": url}
    if discovered is not None:
        entry["discoveredLabels"] = discovered
    return _key(entry)


def heron_targets(config: Path, exact: set[str] | None = None) -> tuple[list[str], list[str], int]:
    """(active, dropped in exact pools, dropped elsewhere) as the targets API lists them,
    each target a canonical JSON string; discoveredLabels only for the exact pools (by
    default those of targets_case.yaml)."""
    exact = set(CASE["exact_discovered"]) if exact is None else exact
    parsed = parse_prom_config(yaml.safe_load(config.read_text()), str(config))
    active: list[str] = []  # static_configs and file_sd_configs targets alike
    dropped: list[str] = []
    other_dropped = 0
    for cfg in parsed.scrape_configs:
        groups = [
            TargetGroup(str(i), tuple({"__address__": t} for t in static.targets), static.labels)
            for i, static in enumerate(cfg.static_configs)
        ]
        for sd_cfg in cfg.file_sd_configs:
            sd = FileSD(sd_cfg, str(config.parent))
            sd.refresh(force=True)
            assert sd.last_error is None, sd.last_error
            groups.extend(sd.groups())
        for group in groups:
            for target in group.targets:
                labels, discovered, error = populate_labels(group.labels, target, cfg)
                if labels is not None:
                    shown = discovered if cfg.job_name in exact else None
                    active.append(_active(cfg.job_name, labels, shown, target_url(labels, cfg.params)))
                elif error is None and cfg.job_name in exact:
                    dropped.append(_key(discovered))
                elif error is None:
                    other_dropped += 1
    return sorted(active), sorted(dropped), other_dropped


def api_targets(url: str, exact: set[str] | None = None) -> tuple[list[str], list[str], int]:
    """The same projection of a Prometheus-shaped `/api/v1/targets?state=any` answer."""
    exact = set(CASE["exact_discovered"]) if exact is None else exact
    r = httpx.get(url + "/api/v1/targets", params={"state": "any"}, timeout=10)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    active = [
        _active(
            t["scrapePool"],
            t["labels"],
            t["discoveredLabels"] if t["scrapePool"] in exact else None,
            t["scrapeUrl"],
        )
        for t in data["activeTargets"]
    ]
    dropped = [t["discoveredLabels"] for t in data["droppedTargets"]]
    exact_dropped = [_key(d) for d in dropped if d.get("job") in exact]
    return sorted(active), sorted(exact_dropped), len(dropped) - len(exact_dropped)


def wait_for_targets(url: str, want: tuple[list[str], list[str], int]) -> tuple[list[str], list[str], int]:
    """Discovery reaches the scrape pools after a moment (Prometheus passes updates on every
    5 s); wait (bounded) until the API lists as many targets as expected, then return them."""
    deadline = time.monotonic() + 60
    while True:
        got = api_targets(url)
        counts = (len(got[0]), len(got[1]), got[2])
        if counts == (len(want[0]), len(want[1]), want[2]) or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def test_file_sd_and_relabeling_match_prometheus(prometheus: tuple[str, Path], tmp_path: Path) -> None:
    url, config = prometheus
    want = heron_targets(config)
    # The case is built to exercise all of this; guard against it silently shrinking.
    assert len(want[0]) >= 20 and len(want[1]) >= 5 and want[2] >= 5
    active, dropped, other_dropped = wait_for_targets(url, want)
    assert active == want[0]
    assert dropped == want[1]
    assert other_dropped == want[2]

    heron = start_server(tmp_path / "heron-data", "--config", str(config))
    try:
        got = wait_for_targets(heron.url, want)
        # Every pool's discoveredLabels, as Prometheus 2.43 and later report them.
        pools = {c["job_name"] for c in yaml.safe_load(CASE["config"])["scrape_configs"]}
        assert api_targets(heron.url, pools) == heron_targets(config, pools)
    finally:
        assert heron.stop() == 0, heron.log()
    assert got[0] == active, "heron server's activeTargets differ from Prometheus'"
    assert got[1] == dropped, "heron server's droppedTargets differ from Prometheus'"
    assert got[2] == other_dropped
