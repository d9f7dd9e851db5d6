"""Bounded polling for tests that wait on something running beside them (a watcher over the
fake Kubernetes API, a server's scrape loop): one definition, so every such wait is bounded
and fails the same way."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_for(cond: Callable[[], T], timeout: float = 10.0, interval: float = 0.01) -> T:
    """Poll `cond` every `interval` s until it returns something truthy, and return that; fail
    once `timeout` seconds have passed without it."""
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
