"""Prometheus remote write receiver: `POST /api/v1/write` (1.0 and 2.0)."""

from __future__ import annotations

from starlette.routing import BaseRoute

__all__ = ["routes"]


def routes() -> list[BaseRoute]:
    return []
