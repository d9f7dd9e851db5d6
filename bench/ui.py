"""The web UI's figures in a real browser (issue 9), against one real `heron server`.

    .venv/bin/python bench/ui.py                 # 1M stored lines, 60 s of tail at 100 lines/s
    .venv/bin/python bench/ui.py --quick         # 200k lines, 15 s of tail

Needs the UI build (`make ui`) and Debian's Chromium. It measures:
  1. first-load transfer: bytes on the wire (gzipped) for `/` until the network is idle, and the
     same for `/logs` (target <= 300 KB gzipped for the first load);
  2. time from navigation to the first 1,000 lines rendered, for a query over the stored lines
     (target <= 1 s): from `page.goto` to the results table reporting 1,000 rows with rows in
     the DOM; the median of --runs cold navigations, each in a new page;
  3. the JS heap (after a forced GC) once the page has scrolled through 5,000 lines (four
     "Load older" pages), and again after tailing for --tail-seconds at --tail-rate lines/s.
No peer is measured: Grafana is not packaged for this machine, so these are absolute figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import Page, sync_playwright

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

from report import Figure, Report, machine_info  # noqa: E402
from serverproc import start_server  # noqa: E402

LEVELS = ["info"] * 8 + ["warn", "error"]


def push(url: str, stream: dict[str, str], values: list[list[str]]) -> None:
    body = json.dumps({"streams": [{"stream": stream, "values": values}]}).encode()
    req = urllib.request.Request(
        url + "/loki/api/v1/push", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.status == 204, r.status


def seed(url: str, lines: int, end_ns: int, span_s: int = 3600) -> None:
    """`lines` logfmt lines over the last span_s seconds in 10 streams, pushed in batches."""
    per_stream = lines // 10
    step = span_s * 1_000_000_000 // per_stream
    batch = 20_000
    for s in range(10):
        stream = {"job": "bench", "namespace": f"ns-{s % 3}", "pod": f"pod-{s}"}
        for lo in range(0, per_stream, batch):
            values = []
            for i in range(lo, min(per_stream, lo + batch)):
                ts = end_ns - (per_stream - i) * step - s
                values.append(
                    [
                        str(ts),
                        f'level={LEVELS[i % 10]} msg="request served" path=/api/item/{i % 977} '
                        f"status={200 if i % 10 < 9 else 500} duration={i % 500}ms i={i}",
                    ]
                )
            push(url, stream, values)


def transfer_bytes(page: Page, path: str) -> int:
    """Encoded (on-the-wire) bytes of every response for one cold navigation."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    total = [0]
    cdp.on("Network.loadingFinished", lambda e: total.__setitem__(0, total[0] + int(e["encodedDataLength"])))
    page.goto(path)
    page.wait_for_load_state("networkidle")
    cdp.detach()
    return total[0]


def heap_bytes(page: Page) -> int:
    cdp = page.context.new_cdp_session(page)
    cdp.send("HeapProfiler.collectGarbage")
    used = int(cdp.send("Runtime.getHeapUsage")["usedSize"])
    cdp.detach()
    return used


ROWS = '[aria-label="Log lines"]'


def first_lines_seconds(page: Page, path: str) -> float:
    t0 = time.perf_counter()
    page.goto(path)
    page.wait_for_selector(f'{ROWS}[aria-rowcount="1000"] [data-index="0"]', timeout=60_000)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--lines", type=int, default=None)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tail-seconds", type=float, default=None)
    ap.add_argument("--tail-rate", type=int, default=100)
    args = ap.parse_args()
    lines = args.lines or (200_000 if args.quick else 1_000_000)
    tail_seconds = args.tail_seconds or (15.0 if args.quick else 60.0)
    report = Report()
    print("machine:", ", ".join(f"{k}={v}" for k, v in machine_info().items()))
    ui_dir = ROOT / "src" / "heron" / "ui"
    if not (ui_dir / "index.html").is_file():
        raise SystemExit("the UI is not built: run `make ui` first")

    with tempfile.TemporaryDirectory(prefix="heron-bench-ui-") as tmp:
        server = start_server(Path(tmp) / "data")
        try:
            now = time.time_ns()
            t0 = time.perf_counter()
            seed(server.url, lines, now)
            print(f"  seeded {lines:,} lines in {time.perf_counter() - t0:.1f} s")
            query = quote('{job="bench"}')
            logs_path = f"/logs?query={query}&from=now-2h&to=now"
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=CHROMIUM,
                    headless=True,
                    args=[*CHROMIUM_ARGS, "--enable-precise-memory-info"],
                )
                ctx = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=server.url)

                page = ctx.new_page()
                first = transfer_bytes(page, "/")
                page.close()
                report.add(
                    Figure(
                        "load",
                        "first load of / (gzipped, on the wire)",
                        first / 1000,
                        "KB",
                        "<= 300 KB",
                        first <= 300_000,
                    )
                )
                page = ctx.new_page()
                logs_first = transfer_bytes(page, "/logs")
                page.close()
                report.add(
                    Figure(
                        "load-logs",
                        "first load of /logs, editor and page included",
                        logs_first / 1000,
                        "KB",
                        "<= 300 KB",
                        logs_first <= 300_000,
                    )
                )

                times = []
                for _ in range(args.runs):
                    page = ctx.new_page()
                    times.append(first_lines_seconds(page, logs_path))
                    page.close()
                med = statistics.median(times)
                report.add(
                    Figure(
                        "first-1000",
                        f"navigation to 1,000 lines rendered, {lines:,} stored (median of {args.runs})",
                        med,
                        "s",
                        "<= 1 s",
                        med <= 1.0,
                        f"runs: {', '.join(f'{t:.2f}' for t in times)}",
                    )
                )

                page = ctx.new_page()
                first_lines_seconds(page, logs_path)
                for _ in range(4):
                    before = int(page.locator(ROWS).get_attribute("aria-rowcount") or 0)
                    page.get_by_role("button", name="Load older").click()
                    count = f"Number(document.querySelector('{ROWS}').getAttribute('aria-rowcount'))"
                    grown = f"() => {count} > {before}"
                    page.wait_for_function(grown, timeout=60_000)
                rows = int(page.locator(ROWS).get_attribute("aria-rowcount") or 0)
                scroller = page.locator(ROWS).locator("xpath=..")
                for _ in range(100):  # scroll through every row, top to bottom, in steps
                    scroller.evaluate("el => { el.scrollTop += el.clientHeight }")
                    page.wait_for_timeout(20)
                heap_scroll = heap_bytes(page)
                report.add(
                    Figure(
                        "heap-scroll", f"JS heap after scrolling {rows:,} lines", heap_scroll / 2**20, "MiB"
                    )
                )

                page.goto("/logs?query=" + quote('{job="bench-tail"}') + "&from=now-5m&to=now")
                page.get_by_role("button", name="Live").click()
                page.wait_for_selector('[data-tail-state="live"]', timeout=30_000)
                stop = threading.Event()

                def tail_pusher() -> None:
                    i = 0
                    deadline = time.monotonic() + tail_seconds
                    while not stop.is_set() and time.monotonic() < deadline:
                        tick = time.monotonic()
                        ts = time.time_ns()
                        values = [
                            [str(ts + k), f'level=info msg="tail line" i={i + k}']
                            for k in range(args.tail_rate)
                        ]
                        push(server.url, {"job": "bench-tail"}, values)
                        i += args.tail_rate
                        stop.wait(max(0.0, 1.0 - (time.monotonic() - tick)))

                pusher = threading.Thread(target=tail_pusher, daemon=True)
                pusher.start()
                pusher.join(timeout=tail_seconds + 30)
                stop.set()
                page.wait_for_timeout(2000)
                heap_tail = heap_bytes(page)
                report.add(
                    Figure(
                        "heap-tail",
                        f"JS heap after tailing {tail_seconds:.0f} s at {args.tail_rate} lines/s",
                        heap_tail / 2**20,
                        "MiB",
                    )
                )
                browser.close()
        finally:
            server.stop()
    print()
    print(report.table())
    return 0


if __name__ == "__main__":
    os.environ.pop("HERON_E2E_UI_DIR", None)
    raise SystemExit(main())
