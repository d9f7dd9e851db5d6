"""Fixtures for API tests: a real `heron server` process and a client for it."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import httpx
import pytest

from serverproc import ServerProc, start_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProc]:
    s = start_server(tmp_path / "data")
    yield s
    assert s.stop() == 0, s.log()


@pytest.fixture
def client(server: ServerProc) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c
