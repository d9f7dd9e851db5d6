"""Suite-wide ordering: the browser tests (tests/e2e) run last.

Playwright's sync API keeps an asyncio event loop running in the main thread for as long as
its session-scoped browser lives, so any test after them that starts an event loop of its own
(`asyncio.run`, anyio) fails with "Already running asyncio in this thread".
"""

from __future__ import annotations

from pathlib import Path

import pytest

E2E = Path(__file__).resolve().parent / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: Path(str(item.path)).is_relative_to(E2E))  # stable: order kept
