"""Waiting for a uPlot chart to be drawn before the mouse touches it.

The chart's `role="img"` box is on the page (and visible, by its minimum height) before the
lazily loaded uPlot has built its plot inside it. A mouse event sent in that gap reaches no
cursor handler, so a test that hovers or drags must wait for uPlot's own overlay first.
"""

from __future__ import annotations

from playwright.sync_api import FloatRect, Locator, expect


def drawn(chart: Locator, timeout: float = 10_000) -> FloatRect:
    """Wait until uPlot has drawn inside `chart`; answer its interactive area's box."""
    over = chart.locator(".u-over")
    expect(over).to_be_visible(timeout=timeout)
    box = over.bounding_box()
    assert box is not None
    return box
