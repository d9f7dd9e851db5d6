"""Browser tests: Debian's Chromium driven by Playwright against a real `heron server` that
serves the built UI and holds demo-like data (seed.py).

Every test's page fails the test on a console error or an uncaught exception. `axe_violations`
runs axe-core (from the UI's npm dependencies) in the page.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest
from chromium import CHROMIUM, CHROMIUM_ARGS
from playwright.sync_api import ConsoleMessage, Error, Page
from seed import seed

from serverproc import ServerProc, start_server

ROOT = Path(__file__).resolve().parents[2]
# The package's build by default; HERON_E2E_UI_DIR tests another (a build made with HERON_UI_OUT).
UI_BUILD = Path(os.environ.get("HERON_E2E_UI_DIR") or ROOT / "src" / "heron" / "ui")
# The server refuses HERON_* variables it does not know, and it inherits this environment.
os.environ.pop("HERON_E2E_UI_DIR", None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not (UI_BUILD / "index.html").is_file() or shutil.which(CHROMIUM) is None:
        missing = "the UI build (make ui)" if not (UI_BUILD / "index.html").is_file() else CHROMIUM
        raise pytest.UsageError(f"browser tests need {missing}; `make test` installs and builds both")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    # Playwright gives every launch a fresh, temporary user-data-dir.
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}}


@pytest.fixture(scope="session")
def heron(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    """One server for the whole browser suite, seeded once; tests that push add their own lines."""
    s = start_server(tmp_path_factory.mktemp("e2e") / "data", "--ui-dir", str(UI_BUILD))
    seed(s.url)
    yield s
    assert s.stop() == 0, s.log()


@pytest.fixture(scope="session")
def base_url(heron: ServerProc) -> str:
    return heron.url


@pytest.fixture(autouse=True)
def no_console_errors(page: Page) -> Iterator[list[str]]:
    """Collects console errors and uncaught exceptions; the test fails if there were any."""
    errors: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            errors.append(f"console.error: {msg.text}")

    def on_page_error(exc: Error) -> None:
        errors.append(f"uncaught: {exc}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    yield errors
    assert errors == [], "\n".join(errors)
