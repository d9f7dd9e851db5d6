"""`heron demo` as a real process: pods write, rotate and restart; everything is queryable."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx

from serverproc import free_port


def test_demo_serves_logs_from_every_namespace_with_metadata() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "heron", "demo", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "heron demo" in first
        namespaces: set[str] = set()
        apps: set[str] = set()
        deadline = time.monotonic() + 40
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
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert proc.stdout is not None
        proc.stdout.close()
