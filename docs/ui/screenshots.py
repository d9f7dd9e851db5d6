"""Take the README's screenshots: every page at 1280x800, light and dark, against `heron demo`.

    .venv/bin/python docs/ui/screenshots.py            # writes docs/ui/<page>-<theme>.png
    .venv/bin/python docs/ui/screenshots.py --only targets   # just those pages

Starts `heron demo` on a free 127.0.0.1 port (the UI build must exist: `make ui`), lets the
simulated pods write for a while so the charts have history, then drives Debian's Chromium
through Playwright, as the browser tests do.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

PAGES = [
    ("overview", "/"),
    ("logs", "/logs?query=" + quote('{namespace="api"}') + "&from=now-5m&to=now"),
    (
        "logs-metric",
        "/logs?query=" + quote('sum by (namespace) (rate({namespace=~".+"}[1m]))') + "&from=now-5m&to=now",
    ),
    ("status", "/status"),
    ("targets", "/targets"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/-/ready", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"heron demo did not become ready at {url}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warmup", type=float, default=45, help="seconds of demo logs before the shots")
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument(
        "--only", nargs="+", choices=[name for name, _ in PAGES], help="take these pages only (default: all)"
    )
    args = ap.parse_args()
    pages = [(name, path) for name, path in PAGES if not args.only or name in args.only]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    demo = subprocess.Popen(
        [sys.executable, "-m", "heron", "demo", "--listen", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    try:
        wait_ready(url, 60)
        time.sleep(args.warmup)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            for theme in ("light", "dark"):
                ctx = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme=theme)
                page = ctx.new_page()
                for name, path in pages:
                    page.goto(url + path)
                    page.wait_for_load_state("networkidle")
                    page.wait_for_timeout(1500)  # charts draw after their data arrives
                    target = args.out / f"{name}-{theme}.png"
                    page.screenshot(path=str(target))
                    print(target.relative_to(ROOT))
                ctx.close()
            browser.close()
    finally:
        demo.terminate()
        demo.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
