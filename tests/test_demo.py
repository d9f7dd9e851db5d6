"""`heron demo` as a real process: pods write, rotate and restart; everything is queryable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from heron.demo.run import ui_url
from serverproc import free_port


def test_demo_serves_logs_from_every_namespace_with_metadata() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "heron", "demo", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first == f"Heron UI: {url}/\n"  # the UI's address first, ready to click
        assert "heron demo" in proc.stdout.readline()
        namespaces: set[str] = set()
        apps: set[str] = set()
        deadline = started + 30  # what a first look promises: live lines within 30 s
        while (len(namespaces) < 3 or "orders" not in apps) and time.monotonic() < deadline:
            time.sleep(0.5)
            params = {"match[]": '{node="demo-node"}', "since": "10m"}
            r = httpx.get(url + "/loki/api/v1/series", params=params)
            if r.status_code == 200:
                for s in r.json()["data"]:
                    namespaces.add(s["namespace"])
                    if "app" in s:
                        apps.add(s["app"])
        assert namespaces == {"web", "api", "worker"}
        assert "orders" in apps  # labels from the fake API's pod metadata, through lightkube
        r = httpx.get(
            url + "/loki/api/v1/query",
            params={"query": 'sum by (namespace) (count_over_time({node="demo-node"}[5m]))'},
        )
        assert r.status_code == 200 and len(r.json()["data"]["result"]) == 3
        # live lines, as the UI's logs view asks for them: written in the last 30 s
        now = time.time_ns()
        r = httpx.get(
            url + "/loki/api/v1/query_range",
            params={
                "query": '{node="demo-node"}',
                "start": str(now - 30 * 10**9),
                "end": str(now),
                "limit": "10",
            },
        )
        assert r.status_code == 200 and r.json()["data"]["result"], r.text
        # the in-process agent is on the status page's agents list
        agents = httpx.get(url + "/api/v1/status/agents").json()["data"]["agents"]
        (demo,) = [a for a in agents if a["node"] == "demo-node"]
        assert demo["userAgent"] == "heron-agent (in-process)" and demo["linesPerSecond"] > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert proc.stdout is not None
        proc.stdout.close()


def test_demo_open_starts_the_browser_on_the_ui_url_once_lines_are_stored(tmp_path: Path) -> None:
    """`--open` goes through Python's webbrowser, which runs $BROWSER with the URL as its
    argument; this one notes the URL and how many lines storage held when it was started."""
    opened = tmp_path / "opened"
    browser = tmp_path / "browser"
    browser.write_text(
        f"#!{sys.executable}\n"
        "import json, sys, urllib.request\n"
        "url = sys.argv[1]\n"
        "direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))\n"
        'total = json.load(direct.open(url + "api/v1/status/storage"))["data"]["logEntriesTotal"]\n'
        f'open({str(opened)!r}, "w").write(f"{{url}} {{total}}")\n'
    )
    browser.chmod(0o755)
    port = free_port()
    env = {**os.environ, "BROWSER": str(browser)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "heron", "demo", "--open", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == f"Heron UI: http://127.0.0.1:{port}/\n"
        deadline = time.monotonic() + 30
        while not (opened.exists() and opened.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        url, total = opened.read_text().split()
        assert url == f"http://127.0.0.1:{port}/"
        assert int(total) > 0  # the first page the user sees has logs on it
        assert httpx.get(url, timeout=10).status_code == 200  # the UI answers there
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert proc.stdout is not None
        proc.stdout.close()


def test_ui_url_of_a_listen_address() -> None:
    assert ui_url("", 9500) == "http://127.0.0.1:9500/"
    assert ui_url("0.0.0.0", 9500) == "http://127.0.0.1:9500/"
    assert ui_url("::1", 9500) == "http://[::1]:9500/"
    assert ui_url("heron.local", 80) == "http://heron.local:80/"
