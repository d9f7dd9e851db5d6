"""Build hook: a wheel built from a source checkout carries the web UI.

Everything else about the package is in pyproject.toml. When `npm` is on PATH, building the
package runs the UI build (`npm ci`, then `npm run build`) into src/heron/ui, which
pyproject.toml's package data then puts in the wheel. Without node the package still builds
and works; the server's `/` then says how to build the UI. Set HERON_SKIP_UI_BUILD=1 to skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
UI = ROOT / "ui"
BUILT = ROOT / "src" / "heron" / "ui" / "index.html"


def _newest_source() -> float:
    newest = 0.0
    for path in [UI / "package.json", UI / "package-lock.json", UI / "index.html", UI / "vite.config.ts"]:
        if path.exists():
            newest = max(newest, path.stat().st_mtime)
    for folder in (UI / "src", UI / "public"):
        for path in folder.rglob("*"):
            if path.is_file():
                newest = max(newest, path.stat().st_mtime)
    return newest


def build_ui() -> bool:
    """Build the UI into the package if it is missing or stale; False when it cannot be built
    here (no npm), which leaves a package that serves the "UI not built" page."""
    if os.environ.get("HERON_SKIP_UI_BUILD") or not (UI / "package.json").is_file():
        return BUILT.is_file()
    npm = shutil.which("npm")
    if npm is None:
        print("heron: npm not found; the package will have no web UI (the APIs work)")
        return BUILT.is_file()
    if BUILT.is_file() and BUILT.stat().st_mtime >= _newest_source():
        return True  # the build in the tree is current (make already ran it)
    if not (UI / "node_modules" / ".package-lock.json").is_file():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=UI, check=True)
    subprocess.run([npm, "run", "build"], cwd=UI, check=True)
    return True


class BuildPyWithUI(build_py):
    """setuptools' build_py, after the UI build (package data is collected after this runs)."""

    def run(self) -> None:
        build_ui()
        super().run()


if __name__ == "__main__":  # setuptools runs this file as __main__; tests import build_ui alone
    setup(cmdclass={"build_py": BuildPyWithUI})
