"""The status page: build, storage, ingest rates, agents and settings from /api/v1/status/*."""

from __future__ import annotations

import re
import time

import httpx
from a11y import axe_violations
from hidden_tab import check_refresh_pauses_while_hidden
from playwright.sync_api import Page, expect

from heron import __version__
from serverproc import ServerProc

NODE = "node-status-e2e"


def push_as_agent(url: str, n: int = 50, node: str = NODE) -> None:
    now = time.time_ns()
    body = {
        "streams": [
            {
                "stream": {"test": "status", "node": node},
                "values": [[str(now - i * 1_000_000), f"status line {i}"] for i in range(n)],
            }
        ]
    }
    r = httpx.post(f"{url}/loki/api/v1/push", json=body, headers={"User-Agent": "heron-agent"}, timeout=30)
    assert r.status_code == 204, r.text


def test_status_shows_version_storage_agent_and_settings(page: Page, heron: ServerProc) -> None:
    push_as_agent(heron.url)
    page.goto("/status")
    expect(page.get_by_role("heading", name="Status", level=1)).to_be_visible()
    expect(page.get_by_test_id("status-version")).to_have_text(f"Heron {__version__}")
    storage = page.get_by_role("definition").filter(has_text="log streams")
    expect(storage).to_contain_text(re.compile(r"\d+ \(\d+ log streams, \d+ metric series\)"))
    expect(page.get_by_label("Storage", exact=True)).to_contain_text(
        re.compile(r"WAL\s*\d+(\.\d+)? (B|KiB|MiB)")
    )
    expect(page.get_by_label("Ingest rates", exact=True)).to_contain_text(re.compile(r"lines/s"))
    expect(
        page.get_by_role("img", name="Lines ingested per second")
        .or_(page.get_by_text("No data in this range."))
        .first
    ).to_be_visible()

    agents = page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="Node"))
    row = agents.get_by_role("row").filter(has_text=NODE)
    expect(row).to_contain_text("heron-agent")
    expect(row).to_contain_text("127.0.0.1")
    expect(row.get_by_role("cell").nth(3)).to_have_text("0.83")  # 50 lines over the last minute

    settings = page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="Setting"))
    retention = settings.get_by_role("row").filter(
        has=page.get_by_role("rowheader", name="retention", exact=True)
    )
    expect(retention).to_contain_text("15d")
    expect(retention).to_contain_text("--retention")


def test_settings_filter_narrows_lives_in_the_url_and_esc_clears_it(page: Page) -> None:
    page.goto("/status")
    box = page.get_by_label("Filter settings")
    box.fill("retention")
    expect(page).to_have_url(re.compile(r"[?&]filter=retention"))
    rows = page.get_by_role("rowheader")
    expect(rows).to_have_text(["retention", "retention_size"])
    box.fill("no such setting here")
    expect(page.get_by_text("No setting matches “no such setting here”.")).to_be_visible()
    box.press("Escape")
    expect(box).to_have_value("")
    expect(page).not_to_have_url(re.compile(r"filter="))
    page.goto("/status?filter=max_line")
    expect(page.get_by_role("rowheader")).to_have_text(["max_line_size"])
    expect(page.get_by_label("Filter settings")).to_have_value("max_line")


def test_it_refreshes_and_shows_new_agents_without_a_reload(page: Page, heron: ServerProc) -> None:
    page.goto("/status")
    expect(page.get_by_test_id("status-version")).to_be_visible()
    late = "node-status-late"
    now = time.time_ns()
    body = {
        "streams": [{"stream": {"test": "status-late", "node": late}, "values": [[str(now), "late line"]]}]
    }
    assert httpx.post(f"{heron.url}/loki/api/v1/push", json=body, timeout=30).status_code == 204
    page.get_by_role("button", name="Refresh status now").click()
    expect(page.get_by_role("row").filter(has_text=late)).to_be_visible()
    # and on its own, within one 10 s period
    later = "node-status-later"
    body["streams"][0]["stream"]["node"] = later  # type: ignore[index]
    assert httpx.post(f"{heron.url}/loki/api/v1/push", json=body, timeout=30).status_code == 204
    expect(page.get_by_role("row").filter(has_text=later)).to_be_visible(timeout=15_000)


def test_an_api_failure_is_shown_and_the_rest_still_renders(page: Page, no_console_errors: list[str]) -> None:
    page.route(
        "**/api/v1/status/storage",
        lambda route: route.fulfill(
            status=503,
            content_type="application/json",
            body='{"status":"error","errorType":"unavailable","error":"storage is not ready yet"}',
        ),
    )
    page.goto("/status")
    expect(page.get_by_role("alert").filter(has_text="Could not load the storage numbers")).to_contain_text(
        "storage is not ready yet"
    )
    expect(page.get_by_test_id("status-version")).to_be_visible()
    expect(page.get_by_label("Filter settings")).to_be_visible()
    assert all("Failed to load resource" in e for e in no_console_errors), no_console_errors
    no_console_errors.clear()
    page.unroute("**/api/v1/status/storage")


def test_axe_clean_in_both_themes_and_usable_at_390_px(page: Page, heron: ServerProc) -> None:
    push_as_agent(heron.url, 5, node="node-status-axe")
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.goto("/status")
        expect(page.get_by_role("row").filter(has_text="node-status-axe")).to_be_visible()
        expect(page.get_by_role("rowheader", name="retention", exact=True)).to_be_visible()
        assert axe_violations(page) == [], scheme
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto("/status")
    expect(page.get_by_role("rowheader", name="retention", exact=True)).to_be_visible()
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], widths  # nothing sticks out sideways
    box = page.get_by_label("Filter settings")
    box.scroll_into_view_if_needed()
    expect(box).to_be_in_viewport()
    bounds = box.bounding_box()
    assert bounds is not None and bounds["x"] >= 0 and bounds["x"] + bounds["width"] <= 390, bounds
    assert axe_violations(page) == []


def test_a_hidden_tab_does_not_refresh_and_catches_up_when_shown(page: Page) -> None:
    check_refresh_pauses_while_hidden(
        page,
        "/status",
        "/api/v1/status/storage",
        lambda p: expect(p.get_by_test_id("status-version")).to_be_visible(),
    )
