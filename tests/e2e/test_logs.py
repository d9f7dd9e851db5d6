"""The logs explorer against the seeded server: queries, label chips, row expansion and field
filters, context, live tail, shared links, history, load older, metric queries, the phone
layout and accessibility."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

import seed
from a11y import axe_violations
from playwright.sync_api import Page, expect
from plot import drawn
from seed import push_lines

ROWS = "[role=treegrid][aria-label='Log lines'] [role=row]"


def results_status(page: Page):
    """The count of loaded entries, or the live tail's state and count."""
    return page.get_by_role("status", name="Result count")


def cell(row, n: int):
    """A row's cells: 0 the timestamp, 1 the level, 2 the line (with any label chips)."""
    return row.get_by_role("gridcell").nth(n)


def scroll_results(page: Page, fraction: float) -> None:
    page.get_by_role("treegrid", name="Log lines").evaluate(
        "(el, f) => { const s = el.parentElement; s.scrollTop = (s.scrollHeight - s.clientHeight) * f }",
        fraction,
    )


LIVE = re.compile(r"^Live ·")


def open_logs(page: Page, query: str, **params: str) -> None:
    qs = "&".join(f"{k}={quote(v)}" for k, v in {"query": query, **params}.items())
    page.goto(f"/logs?{qs}")


def url_params(page: Page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def wait_until(page: Page, condition, timeout_s: float = 5.0) -> None:
    """Poll a Python-side condition (fed by Playwright events) with page round trips, bounded."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        page.evaluate("() => new Promise((r) => setTimeout(r, 50))")


def type_query(page: Page, text: str) -> None:
    editor = page.get_by_label("LogQL query")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)


def test_a_typed_query_shows_the_matching_line(page: Page) -> None:
    page.goto("/logs")
    type_query(page, '{app="payments"} |= "declined"')
    page.get_by_role("button", name="Run", exact=True).click()
    rows = page.locator(ROWS)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("payment declined")
    # The line filter's match is highlighted.
    expect(rows.first.locator("mark")).to_have_text("declined")
    # The level, from the line's JSON, colours the row.
    expect(cell(rows.first, 1)).to_have_text("error")
    colour = rows.first.evaluate("el => getComputedStyle(el).borderLeftColor")
    expected = page.evaluate(
        "() => { const d = document.createElement('div'); d.style.color = 'var(--level-error)';"
        " document.body.append(d); const c = getComputedStyle(d).color; d.remove(); return c }"
    )
    assert colour == expected
    assert url_params(page)["query"] == '{app="payments"} |= "declined"'


def forgive_refused_requests(errors: list[str]) -> None:
    """Chromium logs every 4xx answer as a console error; a test that asks for one forgives it."""
    errors[:] = [e for e in errors if not re.search("the server responded with a status of (400|500)", e)]


def test_a_bad_query_shows_the_api_error(page: Page, no_console_errors: list[str]) -> None:
    open_logs(page, '{app="payments"')
    # The editor says where ("line 1, column 16"), from the API's "at line 1, col 16".
    expect(
        page.get_by_role("alert").filter(has_text=re.compile(r"line 1, column 1\d: parse error"))
    ).to_be_visible()
    # The volume chart leaves the message to the editor.
    expect(page.get_by_role("img", name=re.compile("^Log volume"))).to_have_count(0)
    expect(page.locator(ROWS)).to_have_count(0)
    forgive_refused_requests(no_console_errors)


def test_a_bad_time_range_says_so(page: Page) -> None:
    open_logs(page, '{app="payments"}', **{"from": "yesterday"})
    expect(page.get_by_role("alert").filter(has_text='not a time: "yesterday"')).to_be_visible()
    open_logs(page, '{app="payments"}', refresh="soon")
    expect(page.get_by_role("alert").filter(has_text='not a refresh interval: "soon"')).to_be_visible()


def test_clicking_a_label_chip_filters(page: Page) -> None:
    open_logs(page, '{namespace="api"}')
    chip = page.locator(ROWS).first.get_by_role("button", name=re.compile("^app="))
    expect(chip).to_have_attribute("title", re.compile("Alt-click to filter it out"))
    app = chip.inner_text().split("=", 1)[1]
    chip.click()
    expect(page).to_have_url(re.compile("app%3D%22" + app))
    assert url_params(page)["query"] == f'{{namespace="api", app="{app}"}}'
    # One stream left: app is common to every line now, shown once above the rows.
    common = page.get_by_role("group", name="Labels every line has")
    expect(common).to_contain_text(f"app={app}")
    expect(page.locator(ROWS).first.get_by_role("button", name=re.compile("^app="))).to_have_count(0)
    common.get_by_role("button", name=f"app={app}").click(modifiers=["Alt"])
    assert url_params(page)["query"] == f'{{namespace="api", app="{app}", app!="{app}"}}'
    expect(page.get_by_text("No lines match in this range.")).to_be_visible()


def test_expanding_a_json_line_and_filtering_on_a_field(page: Page) -> None:
    open_logs(page, '{app="checkout"}')
    row = page.locator(ROWS).first
    row.focus()
    page.keyboard.press("ArrowDown")
    expect(page.locator(ROWS).nth(1)).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(row).to_be_focused()
    page.keyboard.press("Enter")
    expect(row).to_have_attribute("aria-expanded", "true")
    fields = row.get_by_role("table", name="Fields (JSON)")
    expect(fields).to_be_visible()
    status = fields.locator("tr", has=page.locator("th", has_text=re.compile("^status$"))).locator("td").first
    value = status.inner_text()
    labels = row.get_by_role("table", name="Labels")
    expect(labels.locator("th", has_text="pod")).to_be_visible()
    expect(labels.locator("th", has_text="detected_level")).to_contain_text("structured metadata")
    row.get_by_role("button", name=f"Filter for status={value}", exact=True).click()
    assert url_params(page)["query"] == f'{{app="checkout"}} | json | status="{value}"'
    rows = page.locator(ROWS)
    expect(rows.first).to_contain_text(f'"status": {value}')
    for i in range(min(rows.count(), 20)):
        expect(rows.nth(i)).to_contain_text(f'"status": {value}')
    # With the parser in the query, parsed labels come apart from the stream's.
    cell(rows.first, 0).click()
    expect(rows.first.get_by_role("rowheader", name="status parsed")).to_be_visible()
    cell(rows.first, 0).click()
    expect(rows.first).to_have_attribute("aria-expanded", "false")


def test_filtering_out_structured_metadata(page: Page) -> None:
    open_logs(page, '{app="frontend"}')
    row = page.locator(ROWS).first
    cell(row, 0).click()
    level = (
        row.get_by_role("table", name="Labels")
        .get_by_role("row")
        .filter(has=page.get_by_role("rowheader", name="detected_level structured metadata"))
    )
    value = level.get_by_role("cell").first.inner_text()
    level.get_by_role("button", name=f"Filter out detected_level={value}").click()
    assert url_params(page)["query"] == f'{{app="frontend"}} | detected_level!="{value}"'
    rows = page.locator(ROWS)
    expect(rows.first).to_be_visible()
    expect(results_status(page)).to_have_text(re.compile(r"^\d+ entries"))
    for i in range(min(rows.count(), 20)):
        expect(cell(rows.nth(i), 1)).not_to_have_text(value)


def test_context_shows_the_lines_around_the_chosen_one(page: Page) -> None:
    open_logs(page, '{app="postgres"} |= "checkpoint"', order="forward")
    row = page.locator(ROWS).nth(30)
    line = cell(row, 2).inner_text()  # one stream: its labels are all common, no chips
    row.click()
    row.get_by_role("button", name="Show context").click()
    dialog = page.get_by_role("dialog", name="Context")
    expect(dialog).to_be_visible()
    current = dialog.locator("li[aria-current=true]")
    expect(current).to_have_count(1)
    expect(current).to_contain_text(line)
    expect(current).to_be_in_viewport()
    items = dialog.locator("li")
    index = int(current.evaluate("el => [...el.parentNode.children].indexOf(el)"))
    # The older lines of the stream, at most 50 (30 in the range, more that have left it since the
    # seed), the line, and 50 after it (of hundreds).
    assert 30 <= index <= 50
    expect(items).to_have_count(index + 51)
    # The context is the whole stream, not only the query's matches.
    expect(dialog.locator("li", has_text="deadlock detected")).to_have_count(0)
    assert "wrote" in items.nth(29).inner_text() and "wrote" in items.nth(31).inner_text()
    expect(dialog.get_by_role("button", name="Close")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Close")).to_be_focused()  # Tab stays in the panel
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(row.get_by_role("button", name="Show context")).to_be_focused()


def test_live_tail_shows_new_lines(page: Page, heron) -> None:
    stream = {"test": "tail", "case": "plain"}
    open_logs(page, '{test="tail", case="plain"}')
    page.get_by_role("button", name="Live").click()
    expect(results_status(page)).to_have_text(LIVE)
    expect(page.get_by_text("Waiting for new lines")).to_be_visible()
    push_lines(heron.url, stream, [(time.time_ns(), "tailed line one")])
    expect(page.locator(ROWS).filter(has_text="tailed line one")).to_have_count(1, timeout=5000)
    push_lines(heron.url, stream, [(time.time_ns(), "tailed line two")])
    expect(page.locator(ROWS).first).to_contain_text("tailed line two", timeout=5000)
    expect(page.locator(ROWS)).to_have_count(2)
    page.get_by_role("button", name="Live").click()
    expect(results_status(page)).not_to_have_text(LIVE)


def test_context_of_a_tailed_line_uses_its_stored_stream(page: Page, heron) -> None:
    stream = {"test": "tail", "case": "context"}
    now = time.time_ns()
    push_lines(heron.url, stream, [(now - (10 - i) * 1_000_000, f"earlier {i}") for i in range(10)])
    open_logs(page, '{test="tail", case="context"} |= "tailed"')
    page.get_by_role("button", name="Live").click()
    expect(results_status(page)).to_have_text(LIVE)
    push_lines(heron.url, stream, [(time.time_ns(), "level=error tailed for context")])
    row = page.locator(ROWS).filter(has_text="tailed for context")
    expect(row).to_have_count(1, timeout=5000)
    cell(row, 0).click()
    row.get_by_role("button", name="Show context").click()
    dialog = page.get_by_role("dialog", name="Context")
    # The tail's labels are the stored stream's (no structured metadata folded in, unlike
    # query_range without categorize-labels), so they select the stream.
    expect(
        dialog.get_by_text('{case="context", service_name="unknown_service", test="tail"}')
    ).to_be_visible()
    expect(dialog.locator("li[aria-current=true]")).to_contain_text("tailed for context")
    expect(dialog.locator("li")).to_have_count(11)


def test_live_tail_reconnects_after_the_server_closes_the_socket(page: Page, heron) -> None:
    stream = {"test": "tail", "case": "reconnect"}
    sockets = []

    def through(ws) -> None:
        ws.connect_to_server()
        sockets.append(ws)

    page.route_web_socket(re.compile(r"/loki/api/v1/tail"), through)
    open_logs(page, '{test="tail", case="reconnect"}')
    page.get_by_role("button", name="Live").click()
    state = results_status(page)
    expect(state).to_have_text(LIVE)
    push_lines(heron.url, stream, [(time.time_ns(), "before the drop")])
    expect(page.locator(ROWS).filter(has_text="before the drop")).to_have_count(1, timeout=5000)
    sockets[0].close(code=1012, reason="restarting")
    expect(state).to_contain_text("Reconnecting (restarting; retrying in 1 s)")
    expect(state).to_have_text(LIVE, timeout=5000)
    assert len(sockets) == 2
    push_lines(heron.url, stream, [(time.time_ns(), "after the drop")])
    expect(page.locator(ROWS).filter(has_text="after the drop")).to_have_count(1, timeout=5000)
    expect(page.locator(ROWS).filter(has_text="before the drop")).to_have_count(1)


def test_live_tail_keeps_at_most_1000_lines_and_says_how_many_it_dropped(page: Page, heron) -> None:
    stream = {"test": "tail", "case": "flood"}
    open_logs(page, '{test="tail", case="flood"}')
    page.get_by_role("button", name="Live").click()
    expect(results_status(page)).to_have_text(LIVE)
    now = time.time_ns()
    push_lines(heron.url, stream, [(now + i, f"flood {i}") for i in range(1005)])
    status = results_status(page)
    expect(status).to_contain_text("1000 lines", timeout=5000)
    expect(status).to_contain_text("5 older dropped from the page")
    expect(page.locator(ROWS).first).to_contain_text("flood 1004")


def test_live_tail_stops_on_a_new_query_and_on_leaving_the_page(page: Page) -> None:
    closed: list[str] = []

    def through(ws) -> None:
        ws.connect_to_server()
        ws.on_close(lambda code, reason: closed.append(ws.url))

    page.route_web_socket(re.compile(r"/loki/api/v1/tail"), through)
    open_logs(page, '{test="tail", case="stop"}')
    live = page.get_by_role("button", name="Live")
    live.click()
    expect(results_status(page)).to_have_text(LIVE)
    type_query(page, '{test="tail", case="other"}')
    page.keyboard.press("Control+Enter")
    expect(live).to_have_attribute("aria-pressed", "false")
    expect(results_status(page)).not_to_have_text(LIVE)
    wait_until(page, lambda: len(closed) == 1)
    live.click()
    expect(results_status(page)).to_have_text(LIVE)
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Status").click()
    expect(page).to_have_title("Status · Heron")
    wait_until(page, lambda: len(closed) == 2)


def test_wrap_and_utc_toggles(page: Page, heron) -> None:
    long_line = "wrap me " + "x" * 400 + " end"
    push_lines(heron.url, {"test": "wrap"}, [(time.time_ns() - 1_000_000_000, long_line)])
    open_logs(page, '{test="wrap"}')
    row = page.locator(ROWS).first
    expect(row).to_contain_text("wrap me")
    one_line = row.bounding_box()["height"]
    page.get_by_role("button", name="Wrap lines").click()
    expect(page.get_by_role("button", name="Wrap lines")).to_have_attribute("aria-pressed", "true")
    page.wait_for_function(
        "([el, h]) => el.getBoundingClientRect().height > h * 2", arg=[row.element_handle(), one_line]
    )
    assert url_params(page)["wrap"] == "1"
    ts = cell(row, 0)
    expect(ts).not_to_have_text(re.compile("Z$"))
    page.get_by_role("button", name="UTC").click()
    expect(ts).to_have_text(re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}Z$"))
    # Toggles replace the history entry: back leaves the page's previous query, not a toggle.
    page.go_back()
    expect(page).not_to_have_url(re.compile("test%3D%22wrap"))


def test_a_shared_link_reproduces_the_view(page: Page) -> None:
    open_logs(
        page,
        '{app="frontend"}',
        **{"from": "now-30m", "to": "now", "order": "forward", "utc": "1", "wrap": "1"},
    )
    expect(page.get_by_label("LogQL query")).to_have_text('{app="frontend"}')
    expect(page.get_by_role("button", name="Oldest first")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="UTC")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="Wrap lines")).to_have_attribute("aria-pressed", "true")
    rows = page.locator(ROWS)
    expect(cell(rows.first, 0)).to_have_text(re.compile(r"Z$"))
    first, last = cell(rows.first, 0).inner_text(), cell(rows.nth(5), 0).inner_text()
    assert first < last  # oldest first
    # 30 minutes of a 600-line hour: about 300 lines, fewer by 10 a minute since the seeding.
    expect(results_status(page)).to_have_text(re.compile(r"^\d+ entries"))
    count = int(results_status(page).inner_text().split()[0])
    since_seed_minutes = (time.time_ns() - seed.NOW_NS) / 60e9
    assert abs(count - 10 * (30 - since_seed_minutes)) <= 20, (count, since_seed_minutes)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_role("status", name="Notice")).to_have_text("Link copied to the clipboard")
    assert page.evaluate("navigator.clipboard.readText()") == page.url


def test_the_back_button_restores_the_previous_query(page: Page) -> None:
    open_logs(page, '{app="postgres"} |= "deadlock"')
    expect(page.locator(ROWS)).to_have_count(1)
    type_query(page, '{app="payments"} |= "declined"')
    page.keyboard.press("Control+Enter")
    expect(page.locator(ROWS).first).to_contain_text("payment declined")
    page.go_back()
    expect(page.get_by_label("LogQL query")).to_have_text('{app="postgres"} |= "deadlock"')
    expect(page.locator(ROWS).first).to_contain_text("deadlock detected")
    page.go_forward()
    expect(page.locator(ROWS).first).to_contain_text("payment declined")


def test_load_older_adds_older_lines_without_a_duplicate(page: Page, heron) -> None:
    stream = {"test": "older"}
    now = time.time_ns()
    boundary = now - 2_000 * 1_000_000_000
    newer = [(now - (i + 1) * 1_000_000_000, f"newer {i}") for i in range(998)]
    # Five lines in one nanosecond, where the first page's limit of 1000 cuts after two of them.
    same = [(boundary, f"boundary {i}") for i in range(5)]
    older = [(boundary - (i + 1) * 1_000_000_000, f"older {i}") for i in range(100)]
    push_lines(heron.url, stream, newer + same + older)
    open_logs(page, '{test="older"}')
    count = results_status(page)
    expect(count).to_have_text(re.compile(r"^1000 entries · limit of 1000 reached"))
    page.get_by_role("button", name="Load older").click()
    expect(count).to_have_text("1103 entries")
    expect(page.get_by_role("button", name="Load older")).to_have_count(0)
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download NDJSON").click()
    body = Path(dl.value.path()).read_text().splitlines()
    entries = [json.loads(line) for line in body]
    assert len(entries) == 1103
    assert len({(e["timestamp"], e["line"]) for e in entries}) == 1103
    assert entries[0] == {
        "timestamp": str(newer[0][0]),
        "labels": {"test": "older", "service_name": "unknown_service"},
        "line": "newer 0",
        "metadata": entries[0]["metadata"],
        "parsed": {},
    }
    assert entries[-1]["line"] == "older 99"
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download text").click()
    text = Path(dl.value.path()).read_text().splitlines()
    assert text[:2] == ["newer 0", "newer 1"] and len(text) == 1103


def test_api_errors_in_load_older_and_context_are_shown(page: Page, no_console_errors: list[str]) -> None:
    open_logs(page, '{namespace="api"}')
    expect(results_status(page)).to_contain_text("limit of 1000 reached")
    page.route(
        "**/loki/api/v1/query_range?**",
        lambda route: route.fulfill(status=500, body="storage on fire", content_type="text/plain"),
    )
    page.get_by_role("button", name="Load older").click()
    expect(page.get_by_role("alert").filter(has_text="Could not load more: storage on fire")).to_be_visible()
    row = page.locator(ROWS).first
    cell(row, 0).click()
    row.get_by_role("button", name="Show context").click()
    expect(
        page.get_by_role("dialog")
        .get_by_role("alert")
        .filter(has_text="The context could not be loaded: storage on fire")
    ).to_be_visible()
    forgive_refused_requests(no_console_errors)


def test_oldest_first_loads_newer_pages(page: Page, heron) -> None:
    now = time.time_ns()
    push_lines(
        heron.url, {"test": "newer"}, [(now - (1003 - i) * 1_000_000_000, f"line {i}") for i in range(1003)]
    )
    open_logs(page, '{test="newer"}', order="forward")
    count = results_status(page)
    expect(count).to_have_text(re.compile(r"^1000 entries · limit"))
    expect(page.locator(ROWS).first).to_contain_text("line 0")
    page.get_by_role("button", name="Load newer").click()
    expect(count).to_have_text("1003 entries")
    scroll_results(page, 1.0)
    expect(page.locator(ROWS).last).to_contain_text("line 1002")


def test_rows_are_virtualised(page: Page) -> None:
    open_logs(page, '{namespace="api"}')
    expect(results_status(page)).to_contain_text("1000 entries")
    rows = page.locator(ROWS)
    assert rows.count() < 120
    scroll_results(page, 1.0)
    expect(rows.last).to_have_attribute("aria-rowindex", "1000")
    assert rows.count() < 120


def test_5000_lines_scroll_with_a_bounded_dom(page: Page, heron) -> None:
    now = time.time_ns()
    lines = [(now - (i + 1) * 500_000_000, f'{{"level":"info","msg":"many {i}"}}') for i in range(5000)]
    push_lines(heron.url, {"test": "many"}, lines)
    open_logs(page, '{test="many"}', wrap="1")
    count = results_status(page)
    # Each page repeats the previous one's oldest entry (its bound is inclusive), so adds 999.
    for n in (1000, 1999, 2998, 3997, 4996):
        expect(count).to_contain_text(f"{n} entries")
        page.get_by_role("button", name="Load older").click()
    expect(count).to_have_text("5000 entries")
    rows = page.locator(ROWS)
    for frac in (0.25, 0.5, 0.75, 1.0):
        scroll_results(page, frac)
        page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
        assert rows.count() < 150
    expect(rows.last).to_have_attribute("aria-rowindex", "5000")
    expect(rows.last).to_contain_text("many 4999")


def test_ansi_colours_render_or_strip(page: Page, heron) -> None:
    push_lines(heron.url, {"test": "ansi"}, [(time.time_ns(), "\x1b[31mred alert\x1b[0m <b>not bold</b>")])
    open_logs(page, '{test="ansi"}')
    row = page.locator(ROWS).first
    line = cell(row, 2)
    expect(line).to_have_text("red alert <b>not bold</b>")  # text, never markup
    colour = "el => getComputedStyle(el).color"
    plain = line.evaluate(colour)
    assert line.get_by_text("red alert").evaluate(colour) != plain
    page.get_by_role("button", name="ANSI colours").click()
    expect(page.get_by_role("button", name="ANSI colours")).to_have_attribute("aria-pressed", "false")
    expect(line).to_have_text("red alert <b>not bold</b>")
    assert line.get_by_text("red alert").evaluate(colour) == plain
    assert url_params(page)["ansi"] == "strip"


def test_auto_refresh_runs_the_query_again(page: Page, heron) -> None:
    open_logs(page, '{test="refresh"}', refresh="1s")
    expect(page.get_by_text("No lines match in this range.")).to_be_visible()
    push_lines(heron.url, {"test": "refresh"}, [(time.time_ns() - 1_000_000_000, "refreshed in")])
    expect(page.locator(ROWS).filter(has_text="refreshed in")).to_have_count(1, timeout=5000)


def test_zooming_on_the_volume_chart_sets_an_absolute_range(page: Page) -> None:
    open_logs(page, '{app="checkout"}')
    expect(page.locator(ROWS).first).to_be_visible()
    over = page.get_by_role("img", name=re.compile("^Log volume by level"))
    box = drawn(over)
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    page.mouse.up()
    rfc3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
    expect(page).to_have_url(re.compile(r"from=\d{4}-"))
    params = url_params(page)
    assert rfc3339.match(params["from"]) and rfc3339.match(params["to"]), params
    assert params["from"] < params["to"]
    # About a fifth of the hour: roughly 120 of the stream's 600 lines.
    expect(results_status(page)).to_have_text(re.compile(r"^\d+ entries"))
    count = int(results_status(page).inner_text().split()[0])
    assert 60 <= count <= 180, count
    page.go_back()
    assert "from" not in url_params(page)
    # The page ran the hour's query again.
    expect(results_status(page)).to_have_text(re.compile(r"^(5\d\d|600) entries"))


def set_visibility(page: Page, state: str) -> None:
    page.evaluate(
        """s => { Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => s });
        document.dispatchEvent(new Event('visibilitychange')) }""",
        state,
    )


def test_auto_refresh_waits_while_the_tab_is_hidden(page: Page) -> None:
    runs: list[str] = []
    page.on(
        "request",
        lambda r: (
            runs.append(r.url)
            if "query_range" in r.url and "hidden%22" in r.url and "limit=1000" in r.url
            else None
        ),
    )
    page.clock.install()  # time still flows; run_for jumps ahead
    open_logs(page, '{test="hidden"}', refresh="1m")
    expect(page.get_by_text("No lines match in this range.")).to_be_visible()
    assert len(runs) == 1
    page.clock.run_for(60_000)
    wait_until(page, lambda: len(runs) == 2)
    set_visibility(page, "hidden")
    page.clock.run_for(240_000)
    page.evaluate("() => new Promise((r) => requestAnimationFrame(r))")
    assert len(runs) == 2  # four refreshes fell due while hidden: none ran
    set_visibility(page, "visible")
    # Back: one refresh at once (the next one is due in about a minute), not four.
    wait_until(page, lambda: len(runs) == 3)
    assert len(runs) == 3


def test_a_metric_query_shows_a_graph_and_a_table_of_series(page: Page) -> None:
    open_logs(page, 'sum by (app) (count_over_time({namespace="api"}[5m]))')
    expect(page.get_by_role("img", name="Query result graph")).to_be_visible()
    legend = page.get_by_role("list", name="Query result graph: legend")
    expect(legend.get_by_role("button")).to_have_count(2)
    table = page.get_by_role("table", name="Series and their last values")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text('{app="checkout"}')
    expect(table).to_contain_text('{app="payments"}')
    expect(page.locator(ROWS)).to_have_count(0)
    expect(page.get_by_role("button", name="Live")).to_be_disabled()


def test_the_phone_layout(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    open_logs(page, '{app="checkout"}')
    rows = page.locator(ROWS)
    expect(rows.first).to_be_visible()
    rows.first.click()
    expect(rows.first.get_by_role("button", name="Show context")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = rows.first.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    # The side panels fold behind "Fields".
    sidebar = page.get_by_role("complementary", name="Labels and fields")
    expect(sidebar).to_be_hidden()
    fields = page.get_by_role("button", name="Fields", exact=True)
    fields.click()
    expect(fields).to_have_attribute("aria-expanded", "true")
    expect(sidebar).to_be_visible()
    expect(sidebar.get_by_role("heading", name=re.compile("^Labels"))).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert axe_violations(page) == []
    page.keyboard.press("Escape")
    expect(sidebar).to_be_hidden()
    expect(fields).to_be_focused()


def test_the_side_panels_sit_left_of_the_results_at_1280(page: Page) -> None:
    open_logs(page, '{app="checkout"}')
    sidebar = page.get_by_role("complementary", name="Labels and fields")
    expect(sidebar).to_be_visible()
    expect(page.get_by_role("button", name="Fields", exact=True)).to_be_hidden()
    side, table = sidebar.bounding_box(), page.get_by_role("treegrid", name="Log lines").bounding_box()
    assert side and table and side["x"] + side["width"] <= table["x"]
    # A value picked in the label browser filters like a chip.
    sidebar.get_by_role("button", name="namespace").click()
    sidebar.get_by_role("button", name=re.compile("^api")).first.click()
    expect(page).to_have_url(re.compile("namespace%3D%22api%22"))


def test_no_serious_accessibility_violations(page: Page) -> None:
    for theme in ("light", "dark"):
        page.emulate_media(color_scheme=theme)
        open_logs(page, '{app="checkout"} |= "request"')
        row = page.locator(ROWS).first
        row.click()
        expect(row).to_have_attribute("aria-expanded", "true")
        assert axe_violations(page) == [], theme
        row.get_by_role("button", name="Show context").click()
        expect(page.get_by_role("dialog").locator("li[aria-current=true]")).to_have_count(1)
        assert axe_violations(page) == [], theme + " (context)"
