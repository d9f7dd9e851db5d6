"""The logs page's charts and side panels: the level histogram (drag to zoom), the time range
picker, the label browser and the field list."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, quote, urlparse

from a11y import axe_violations
from playwright.sync_api import Page, expect
from plot import drawn
from seed import NOW_NS, push_lines

CHECKOUT = "/logs?query=" + quote('{app="checkout"}')
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def params(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def histogram(page: Page):
    return page.get_by_role("img", name=re.compile(r"^Log volume by level"))


def test_histogram_is_stacked_by_level(page: Page) -> None:
    page.goto(CHECKOUT)
    expect(histogram(page)).to_be_visible(timeout=10_000)
    legend = page.get_by_role("list", name=re.compile(r"^Log volume by level.*legend"))
    for level in ("error", "warn", "info", "debug"):
        expect(legend.get_by_role("button", name=level, exact=True)).to_be_visible()
    # The total is the sum over the levels: the seeded 600 lines lie within the last hour.
    expect(page.get_by_text(re.compile(r"^\d{3} lines$"))).to_be_visible()
    # Clicking a level isolates it.
    error = legend.get_by_role("button", name="error", exact=True)
    error.click()
    expect(error).to_have_attribute("aria-pressed", "true")


def test_dragging_on_the_histogram_zooms(page: Page) -> None:
    page.goto(CHECKOUT + "&from=now-1h&to=now")
    box = drawn(histogram(page))
    y = box["y"] + 20
    page.mouse.move(box["x"] + box["width"] * 0.4, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
    page.mouse.up()
    expect(page).to_have_url(re.compile(r"from=\d{4}-"))
    p = params(page)
    assert RFC3339.match(p["from"][0]) and RFC3339.match(p["to"][0]), p
    assert p["from"][0] < p["to"][0]
    # The picker now shows the absolute range.
    expect(page.get_by_role("button", name=re.compile(r"^Time range: \d{4}-\d{2}-\d{2} "))).to_be_visible()


def test_histogram_shows_an_api_error_in_place(page: Page, no_console_errors: list[str]) -> None:
    def fail_volume(route) -> None:
        q = parse_qs(urlparse(route.request.url).query).get("query", [""])[0]
        if "count_over_time" in q:
            route.fulfill(status=400, content_type="text/plain", body="too many buckets for the histogram")
        else:
            route.continue_()

    page.route("**/loki/api/v1/query_range**", fail_volume)
    page.goto(CHECKOUT)
    expect(page.get_by_role("alert").filter(has_text="too many buckets for the histogram")).to_be_visible()
    assert all("status of 400" in e for e in no_console_errors), no_console_errors
    no_console_errors.clear()


def test_no_histogram_for_a_metric_query(page: Page) -> None:
    page.goto("/logs?query=" + quote('sum(count_over_time({app="checkout"}[5m]))'))
    expect(page.get_by_role("img", name=re.compile("graph|series|Metric", re.I)).first).to_be_visible(
        timeout=10_000
    )
    expect(histogram(page)).to_have_count(0)


def test_time_range_presets_and_escape(page: Page) -> None:
    page.goto(CHECKOUT)
    button = page.get_by_role("button", name="Time range: Last 1 hour")
    button.click()
    dialog = page.get_by_role("dialog", name="Choose a time range")
    expect(dialog).to_be_visible()
    # Focus moves into the popover, onto the current quick range.
    expect(dialog.get_by_role("button", name="Last 1 hour")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(button).to_be_focused()
    button.click()
    dialog.get_by_role("button", name="Last 15 minutes").click()
    expect(dialog).to_be_hidden()
    expect(page).to_have_url(re.compile(r"from=now-15m"))
    expect(page.get_by_role("button", name="Time range: Last 15 minutes")).to_be_visible()
    # An outside click closes it too.
    page.get_by_role("button", name="Time range: Last 15 minutes").click()
    expect(dialog).to_be_visible()
    page.mouse.click(700, 20)  # the top bar's empty middle
    expect(dialog).to_be_hidden()


def test_absolute_range_is_validated(page: Page) -> None:
    page.goto(CHECKOUT)
    page.get_by_role("button", name=re.compile("^Time range:")).click()
    dialog = page.get_by_role("dialog", name="Choose a time range")
    start = dialog.get_by_label("From")
    start.fill("yesterday")
    expect(dialog.get_by_role("alert")).to_have_text(re.compile(r'not a time: "yesterday"'))
    expect(dialog.get_by_role("button", name="Apply")).to_be_disabled()
    start.fill("now")
    dialog.get_by_label("To").fill("now-1h")
    expect(dialog.get_by_role("alert")).to_have_text("From is after To")
    expect(dialog.get_by_role("button", name="Apply")).to_be_disabled()
    start.fill("2026-01-01T10:00:00Z")
    dialog.get_by_label("To").fill("2026-01-01T11:00:00Z")
    dialog.get_by_role("button", name="Apply").click()
    p = params(page)
    assert p["from"] == ["2026-01-01T10:00:00Z"] and p["to"] == ["2026-01-01T11:00:00Z"], p


def test_refresh_select_and_button(page: Page) -> None:
    page.goto(CHECKOUT)
    page.get_by_label("Auto-refresh").select_option("10s")
    expect(page).to_have_url(re.compile(r"refresh=10s"))
    with page.expect_request(lambda r: "count_over_time" in r.url and "query_range" in r.url, timeout=10_000):
        page.get_by_role("button", name="Refresh now").click()


def test_picker_and_side_panels_are_accessible_in_both_themes(page: Page) -> None:
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.goto(CHECKOUT)
        expect(histogram(page)).to_be_visible(timeout=10_000)
        # The side panels open, with their values shown.
        labels = page.get_by_role("region", name=re.compile(r"^Labels"))
        labels.get_by_role("button", name="namespace", exact=True).click()
        expect(labels.get_by_role("list", name=re.compile("^Values of namespace"))).to_be_visible()
        fields = page.get_by_role("region", name=re.compile(r"^Fields"))
        fields.get_by_role("button", name="status, int, from json").click()
        expect(fields.get_by_role("list", name="Top values of status")).to_be_visible()
        page.get_by_role("button", name=re.compile("^Time range:")).click()
        expect(page.get_by_role("dialog", name="Choose a time range")).to_be_visible()
        assert axe_violations(page) == [], scheme


def test_label_browser_adds_a_matcher(page: Page) -> None:
    page.goto("/logs?query=" + quote('{app=~".+"}'))
    side = page.get_by_role("region", name=re.compile(r"^Labels"))
    name = side.get_by_role("button", name="namespace", exact=True)
    expect(name).to_be_visible(timeout=10_000)
    expect(side.get_by_role("button", name=re.compile("^__"))).to_have_count(0)
    name.click()
    expect(name).to_have_attribute("aria-expanded", "true")
    values = side.get_by_role("list", name="Values of namespace, by bytes in range")
    api = values.get_by_role("button", name=re.compile(r"^api, [\d.]+ (B|kB|MB)$"))
    expect(api).to_be_visible()
    # Sorted by volume: api holds two of the four streams.
    expect(values.get_by_role("button").first).to_have_accessible_name(re.compile("^api, "))
    api.click()
    expect(page).to_have_url(re.compile(r"query="))
    assert 'namespace="api"' in params(page)["query"][0]


def test_label_browser_filters_a_long_list(page: Page, base_url: str) -> None:
    # Twelve streams of their own label, bigger lines for the higher numbers.
    for i in range(1, 13):
        push_lines(
            base_url, {"test": "labels", "shard": f"s{i:02d}"}, [(NOW_NS - 1_000_000_000, "x" * (10 * i))]
        )
    page.goto("/logs?query=" + quote('{test="labels"}'))
    side = page.get_by_role("region", name=re.compile(r"^Labels"))
    side.get_by_role("button", name="shard", exact=True).click()
    values = side.get_by_role("list", name="Values of shard, by bytes in range")
    expect(values.get_by_role("button", name=re.compile(r"^s\d\d, "))).to_have_count(12)
    expect(values.get_by_role("button").first).to_have_accessible_name(re.compile("^s12, "))
    box = side.get_by_label("Filter values of shard")
    box.fill("s1")
    expect(values.get_by_role("button", name=re.compile(r"^s\d\d, "))).to_have_count(3)
    box.fill("nothing")
    expect(side.get_by_text('No value matches "nothing".')).to_be_visible()


def test_label_browser_excludes_a_value(page: Page) -> None:
    page.goto("/logs?query=" + quote('{app=~".+"}'))
    side = page.get_by_role("region", name=re.compile(r"^Labels"))
    side.get_by_role("button", name="namespace", exact=True).click()
    side.get_by_role("button", name='Exclude namespace="db"').click()
    expect(page).to_have_url(re.compile("db"))
    assert 'namespace!="db"' in params(page)["query"][0]


def test_field_list_shows_top_values_and_filters(page: Page) -> None:
    page.goto(CHECKOUT)
    side = page.get_by_role("region", name=re.compile(r"^Fields"))
    status = side.get_by_role("button", name="status, int, from json")
    expect(status).to_be_visible(timeout=10_000)
    expect(side.get_by_role("button", name="detected_level, string, structured metadata")).to_be_visible()
    status.click()
    top = side.get_by_role("list", name="Top values of status")
    expect(top.get_by_role("button", name=re.compile(r"^200, \d+%$"))).to_be_visible()
    expect(top.get_by_role("button", name=re.compile(r"^500, \d+%$"))).to_be_visible()
    assert top.get_by_role("button", name=re.compile(r"^\d{3}, \d+%$")).count() <= 5
    top.get_by_role("button", name=re.compile(r"^500, ")).click()
    expect(page).to_have_url(re.compile("500"))
    assert params(page)["query"] == ['{app="checkout"} | json | status="500"']


def test_field_list_filters_many_fields(page: Page, base_url: str) -> None:
    line = json.dumps({f"key{i:02d}": f"v{i}" for i in range(1, 13)})
    push_lines(base_url, {"test": "fields"}, [(NOW_NS - 2_000_000_000, line)])
    page.goto("/logs?query=" + quote('{test="fields"}'))
    side = page.get_by_role("region", name=re.compile(r"^Fields"))
    expect(side.get_by_role("button", name=re.compile(r"^key\d\d, string, from json$"))).to_have_count(12)
    side.get_by_label("Filter fields").fill("key1")
    expect(side.get_by_role("button", name=re.compile(r"^key\d\d, "))).to_have_count(3)
    side.get_by_role("button", name="key12, string, from json").click()
    top = side.get_by_role("list", name="Top values of key12")
    expect(top.get_by_role("button", name="v12, 100%")).to_be_visible()


def test_field_list_negates(page: Page) -> None:
    page.goto(CHECKOUT)
    side = page.get_by_role("region", name=re.compile(r"^Fields"))
    level = side.get_by_role("button", name="detected_level, string, structured metadata")
    level.click()
    side.get_by_role("list", name="Top values of detected_level").get_by_role(
        "button", name='Exclude detected_level="info"'
    ).click()
    expect(page).to_have_url(re.compile("info"))
    assert params(page)["query"] == ['{app="checkout"} | detected_level!="info"']


def test_picker_fits_a_phone(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(CHECKOUT)
    page.get_by_role("button", name=re.compile("^Time range:")).click()
    dialog = page.get_by_role("dialog", name="Choose a time range")
    expect(dialog).to_be_visible()
    box = dialog.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    dialog.get_by_role("button", name="Last 6 hours").click()
    expect(page).to_have_url(re.compile(r"from=now-6h"))
    chart = histogram(page)
    expect(chart).to_be_visible(timeout=10_000)
    cb = chart.bounding_box()
    assert cb is not None and cb["x"] + cb["width"] <= 390, cb


def test_dragging_on_a_metric_graph_zooms(page: Page) -> None:
    page.goto(
        "/logs?query="
        + quote('sum by (app) (count_over_time({namespace="api"}[1m]))')
        + "&from=now-1h&to=now"
    )
    graph = page.get_by_role("img", name="Query result graph")
    legend = page.get_by_role("list", name="Query result graph: legend")
    expect(legend.get_by_role("button", name="checkout", exact=True)).to_be_visible(timeout=10_000)
    expect(legend.get_by_role("button", name="payments", exact=True)).to_be_visible()
    box = drawn(graph)
    y = box["y"] + box["height"] * 0.3
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    page.mouse.up()
    expect(page).to_have_url(re.compile(r"from=\d{4}-"))
    p = params(page)
    assert RFC3339.match(p["from"][0]) and RFC3339.match(p["to"][0]), p
