"""`heron server --config heron.yaml` with Prometheus-shaped sections: a bad one stops start-up
with exit status 2 and one line naming the key path; a file with only `scrape_configs` runs."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from serverproc import free_port, start_server

BAD = {
    "scrape_configs:\n  - job_name: a\n    relabel_configs: [{source_labels: [a], action: kep}]\n": (
        "scrape_configs[0].relabel_configs[0].action"
    ),
    "global: {scrape_interval: 5s}\nscrape_configs:\n  - {job_name: a, scrape_timeout: 6s}\n": (
        "scrape_configs[0].scrape_timeout"
    ),
    "scrape_configs:\n  - job_name: a\n  - job_name: a\n": "scrape_configs[1].job_name",
    "remote_write:\n  - {url: 'http://r/api/v1/write', headers: {Authorization: x}}\n": (
        "remote_write[0].headers.Authorization"
    ),
    "scrape_configs:\n  - job_name: k\n    kubernetes_sd_configs: [{role: ingress}]\n": (
        "scrape_configs[0].kubernetes_sd_configs[0].role"
    ),
}


@pytest.mark.parametrize("text", list(BAD), ids=list(BAD.values()))
def test_bad_section_exits_2_with_one_line(tmp_path: Path, text: str) -> None:
    config = tmp_path / "heron.yaml"
    config.write_text(text)
    port = free_port()
    data_dir = tmp_path / "data"
    result = subprocess.run(
        [sys.executable, "-m", "heron", "server", "--config", str(config), "--data-dir", str(data_dir)]
        + ["--listen", f"127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"config error: {BAD[text]}: " in lines[0]
    assert str(config) in lines[0]
    assert not data_dir.exists(), "nothing may start from a refused config"
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # the port was never taken


def test_only_scrape_configs_is_enough(tmp_path: Path) -> None:
    config = tmp_path / "heron.yaml"
    config.write_text(
        "scrape_configs:\n  - job_name: self\n    static_configs: [{targets: ['127.0.0.1:1']}]\n"
    )
    server = start_server(tmp_path / "data", "--config", str(config))
    try:
        assert server.proc.poll() is None
    finally:
        assert server.stop() == 0, server.log()
