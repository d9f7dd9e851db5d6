"""The overview page: log volume by namespace, the newest error lines, its range in the URL."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

from a11y import axe_violations
from playwright.sync_api import Page, expect
from plot import drawn


def test_volume_chart_lists_the_namespaces(page: Page) -> None:
    page.goto("/")
    section = page.get_by_role("region", name=re.compile(r"Log volume by namespace \(bytes per"))
    expect(section.get_by_role("img", name=re.compile("Log volume by namespace"))).to_be_visible(
        timeout=10_000
    )
    legend = section.get_by_role("list", name=re.compile("legend"))
    for ns in ("api", "db", "web"):
        expect(legend.get_by_role("button", name=ns, exact=True)).to_be_visible()
    # Clicking a legend entry isolates its series; clicking it again shows all.
    api = legend.get_by_role("button", name="api", exact=True)
    api.click()
    expect(api).to_have_attribute("aria-pressed", "true")
    api.click()
    expect(api).to_have_attribute("aria-pressed", "false")


def test_recent_errors_link_to_their_stream(page: Page) -> None:
    page.goto("/")
    errors = page.get_by_role("list", name=re.compile("newest error lines"))
    deadlock = errors.get_by_role("listitem").filter(has_text="deadlock detected")
    expect(deadlock).to_be_visible(timeout=10_000)
    expect(errors.get_by_role("listitem").filter(has_text="payment declined")).to_be_visible()
    expect(errors.get_by_role("listitem").filter(has_text="handled request").first).to_be_visible()
    link = deadlock.get_by_role("link", name="Logs of db / postgres-0")
    link.click()
    expect(page).to_have_url(re.compile(r"/logs\?"))
    q = parse_qs(urlparse(page.url).query)
    assert q["query"] == ['{namespace="db", pod="postgres-0", container="postgres"}']
    assert q["from"] == ["now-1h"]


def test_range_is_kept_in_the_url(page: Page) -> None:
    page.goto("/")
    group = page.get_by_role("group", name="Time range")
    group.get_by_role("button", name="Last 6h").click()
    expect(page).to_have_url(re.compile(r"/\?range=6h$"))
    expect(group.get_by_role("button", name="Last 6h")).to_have_attribute("aria-pressed", "true")
    page.reload()
    expect(
        page.get_by_role("group", name="Time range").get_by_role("button", name="Last 6h")
    ).to_have_attribute("aria-pressed", "true")
    link = page.get_by_role("list", name=re.compile("newest error lines")).get_by_role("link").first
    expect(link).to_have_attribute("href", re.compile(r"from=now-6h"))


def test_api_errors_are_shown(page: Page, no_console_errors: list[str]) -> None:
    page.route(
        "**/loki/api/v1/index/volume_range**",
        lambda route: route.fulfill(status=400, content_type="text/plain", body="volume is switched off"),
    )
    page.goto("/")
    expect(page.get_by_role("alert").filter(has_text="volume is switched off")).to_be_visible()
    # The other card still shows its lines.
    expect(page.get_by_text("deadlock detected on relation orders")).to_be_visible()
    # The browser itself logs the 400; nothing else may have gone to the console.
    assert all("status of 400" in e for e in no_console_errors), no_console_errors
    no_console_errors.clear()


def test_empty_state_says_what_to_do(page: Page) -> None:
    empty = '{"status":"success","data":{"resultType":"matrix","result":[]}}'
    page.route(
        "**/loki/api/v1/index/volume_range**",
        lambda route: route.fulfill(status=200, content_type="application/json", body=empty),
    )
    page.goto("/")
    expect(page.get_by_text(re.compile("No logs yet: point an agent or Grafana Alloy at"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"/loki/api/v1/push"))).to_be_visible()


def test_accessible_in_both_themes(page: Page) -> None:
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.goto("/")
        expect(page.get_by_role("img", name=re.compile("Log volume by namespace"))).to_be_visible(
            timeout=10_000
        )
        expect(page.get_by_text("deadlock detected on relation orders")).to_be_visible()
        assert axe_violations(page) == [], scheme


def test_narrow_layout(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto("/")
    chart = page.get_by_role("img", name=re.compile("Log volume by namespace"))
    expect(chart).to_be_visible(timeout=10_000)
    expect(page.get_by_text("deadlock detected on relation orders")).to_be_visible()
    # Nothing runs off the side: no horizontal scrolling, and the chart fits the viewport.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    box = chart.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390


CANVAS_HASH = """(el) => {
  const c = el.querySelector('canvas');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let h = 0;
  for (let i = 0; i < d.length; i += 4) h = (h * 31 + d[i] * 7 + d[i + 1] * 3 + d[i + 2]) >>> 0;
  return h;
}"""


def test_hover_shows_values(page: Page) -> None:
    page.goto("/")
    chart = page.get_by_role("img", name=re.compile("Log volume by namespace"))
    box = drawn(chart)
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.4)
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.4, steps=5)
    tip = page.locator(".chart-tooltip")
    expect(tip).to_be_visible()
    for ns in ("api", "db", "web"):
        expect(tip).to_contain_text(ns)
    expect(tip).to_contain_text(re.compile(r"\d+(\.\d+)? (B|kB)"))
    page.mouse.move(2, 2)
    expect(tip).to_be_hidden()


def test_chart_redraws_in_the_other_theme(page: Page) -> None:
    page.emulate_media(color_scheme="light")
    page.goto("/")
    chart = page.get_by_role("img", name=re.compile("Log volume by namespace"))
    expect(chart).to_be_visible(timeout=10_000)
    expect(chart.locator("canvas")).to_have_count(1)
    before = chart.evaluate(CANVAS_HASH)
    page.get_by_label("Theme").select_option("dark")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.wait_for_function(
        "([el, h]) => (" + CANVAS_HASH + ")(el) !== h", arg=[chart.element_handle(), before], timeout=5_000
    )
    page.get_by_label("Theme").select_option("system")


def test_refreshes_every_ten_seconds(page: Page) -> None:
    page.clock.install()
    page.goto("/")
    expect(page.get_by_role("img", name=re.compile("Log volume by namespace"))).to_be_visible(timeout=10_000)
    with page.expect_request("**/loki/api/v1/index/volume_range**", timeout=5_000):
        with page.expect_request(re.compile(r"/loki/api/v1/query_range\?.*detected_level"), timeout=5_000):
            page.clock.run_for(10_500)
