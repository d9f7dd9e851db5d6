"""How every browser run here starts Debian's Chromium: the browser tests, bench/ui.py and the
README's screenshots. Headless on a machine whose only network is package mirrors: without the
background-networking flags Chromium keeps dialling Google's hosts and logging the refusals."""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
