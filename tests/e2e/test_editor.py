"""The query editor on /logs: autocomplete from the API, keys, multi-line mode, and API errors."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

from a11y import axe_violations
from playwright.sync_api import Locator, Page, expect

EDITOR = "[data-query-editor] .cm-content"


def url_query(page: Page) -> str | None:
    values = parse_qs(urlparse(page.url).query).get("query")
    return values[0] if values else None


def open_editor(page: Page, path: str = "/logs") -> None:
    page.goto(path)
    page.locator(EDITOR).click()


def popup(page: Page) -> Locator:
    return page.locator(".cm-tooltip-autocomplete")


def option(page: Page, name: str) -> Locator:
    label = page.locator(".cm-completionLabel", has_text=re.compile(rf"^{re.escape(name)}$"))
    return popup(page).get_by_role("option").filter(has=label)


def settle_popup(page: Page) -> None:
    """Wait until the popup has been open 100 ms: CodeMirror ignores Enter on a popup that
    has just appeared (its interactionDelay, 75 ms), so that a fast Enter runs the query."""
    page.wait_for_function(
        """() => {
            const el = document.querySelector(".cm-tooltip-autocomplete");
            if (!el) { window.__popup = null; return false; }
            if (!window.__popup || window.__popup.el !== el) window.__popup = { el, at: performance.now() };
            return performance.now() - window.__popup.at > 100;
        }""",
        timeout=5_000,
    )


def is_empty(page: Page) -> None:
    expect(page.locator(f"{EDITOR} .cm-placeholder")).to_be_visible()


def test_label_value_from_the_api_is_offered_and_inserted(page: Page) -> None:
    open_editor(page)
    page.keyboard.type('{namespace="')
    expect(option(page, "api")).to_be_visible()
    expect(option(page, "web")).to_be_visible()
    settle_popup(page)
    page.keyboard.press("Enter")
    # Enter took the completion (one closing quote, the brace bracket-closing typed) and did not run.
    expect(page.locator(EDITOR)).to_have_text('{namespace="api"}')
    expect(popup(page)).to_have_count(0)
    assert url_query(page) is None


def test_label_values_are_narrowed_by_the_other_matchers(page: Page) -> None:
    open_editor(page)
    page.keyboard.type('{namespace="db", app=')
    expect(option(page, "postgres")).to_be_visible()
    expect(option(page, "checkout")).to_have_count(0)
    settle_popup(page)
    page.keyboard.press("Enter")
    expect(page.locator(EDITOR)).to_have_text('{namespace="db", app="postgres"}')


def test_label_names_inside_a_selector_and_stages_after_a_pipe(page: Page) -> None:
    open_editor(page)
    page.keyboard.type("{")
    for name in ("namespace", "app", "pod"):
        expect(option(page, name)).to_be_visible()
    page.keyboard.press("Escape")
    expect(popup(page)).to_have_count(0)
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.type('{app="checkout"} | ')
    expect(option(page, "json")).to_be_visible()
    expect(option(page, "json")).to_have_accessible_name("json parse JSON fields into labels")
    # Parsers come first, line filters after the stages.
    expect(popup(page).get_by_role("option").first).to_contain_text("json")
    for name in ("logfmt", "line_format", "decolorize", "unwrap"):
        expect(option(page, name)).to_have_count(1)
    # Twelve options are in the page at once; the arrow keys reach the rest.
    expect(popup(page).get_by_role("option")).to_have_count(12)
    expect(option(page, "ip()")).to_have_count(0)
    settle_popup(page)
    page.keyboard.press("ArrowUp")
    expect(option(page, "ip()")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowDown")
    expect(option(page, "json")).to_have_attribute("aria-selected", "true")
    page.keyboard.type("log")
    expect(option(page, "logfmt")).to_be_visible()
    settle_popup(page)
    page.keyboard.press("Enter")
    expect(page.locator(EDITOR)).to_have_text('{app="checkout"} | logfmt')


def test_line_filter_completion_replaces_the_pipe(page: Page) -> None:
    open_editor(page)
    page.keyboard.type('{app="checkout"} |')
    # Right after a `|`, the line filters come first.
    expect(popup(page).get_by_role("option").first).to_contain_text("|=")
    expect(option(page, "|~")).to_be_visible()
    option(page, "|~").click()
    expect(page.locator(EDITOR)).to_have_text('{app="checkout"} |~ ""')
    page.keyboard.type("declined")  # the cursor was left between the quotes
    expect(page.locator(EDITOR)).to_have_text('{app="checkout"} |~ "declined"')


def test_functions_where_an_expression_starts(page: Page) -> None:
    open_editor(page)
    page.keyboard.type("count")
    expect(option(page, "count_over_time")).to_be_visible()
    expect(option(page, "count")).to_have_count(1)
    page.keyboard.type("_o")
    expect(option(page, "count")).to_have_count(0)
    settle_popup(page)
    page.keyboard.press("Enter")
    expect(page.locator(EDITOR)).to_have_text("count_over_time()")
    page.keyboard.press("Control+a")
    page.keyboard.type("sum b")
    expect(option(page, "by")).to_be_visible()


def test_an_api_failure_gives_no_completions(page: Page, no_console_errors: list[str]) -> None:
    page.route("**/loki/api/v1/label/**", lambda route: route.fulfill(status=500, body="boom"))
    open_editor(page)
    page.keyboard.type('{namespace="')
    # The stage list needs no API: its popup opening shows the editor still completes.
    page.keyboard.type('api"} | ')
    expect(option(page, "json")).to_be_visible()
    expect(option(page, "api")).to_have_count(0)
    refused_requests_only(no_console_errors)


def refused_requests_only(errors: list[str]) -> None:
    """Chromium logs each 4xx/5xx response itself; anything else logged fails the test."""
    assert all("Failed to load resource" in e for e in errors), errors
    errors.clear()


def test_a_bad_query_shows_its_error_and_marks_the_span(page: Page, no_console_errors: list[str]) -> None:
    page.goto("/logs?query=%7Bapp%3D%22x%22%7D%20%7C%3D")
    alert = page.locator(".query-editor-error")
    expect(alert).to_have_attribute("role", "alert")
    expect(alert).to_have_text(re.compile(r"^line 1, column 13: parse error: syntax error: unexpected \$end"))
    mark = page.locator(".query-editor-error-mark")
    expect(mark).to_have_text("|=")
    # Editing the text takes both away.
    page.locator(EDITOR).click()
    page.keyboard.press("End")
    page.keyboard.type(" ")
    expect(alert).to_have_count(0)
    expect(mark).to_have_count(0)
    # Running it again brings the error back.
    page.keyboard.press("Enter")
    expect(alert).to_contain_text("line 1, column")
    expect(mark).to_have_text("|=")
    refused_requests_only(no_console_errors)


def test_an_error_without_a_position_is_shown_but_marks_nothing(
    page: Page, no_console_errors: list[str]
) -> None:
    # Parses, but the engine refuses it: Loki's message names no line or column.
    page.goto("/logs?query=" + "rate(%7Bapp%3D%22checkout%22%7D%5B0s%5D)")
    alert = page.locator(".query-editor-error")
    expect(alert).to_contain_text("invalid range [0s]")
    expect(alert).not_to_contain_text("line 1, column")
    expect(page.locator(".query-editor-error-mark")).to_have_count(0)
    refused_requests_only(no_console_errors)


def test_enter_runs_the_query(page: Page) -> None:
    open_editor(page)
    page.keyboard.type('{app="checkout"}')
    expect(popup(page)).to_have_count(0)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"query="))
    assert url_query(page) == '{app="checkout"}'
    expect(page.locator(f"{EDITOR} .cm-line")).to_have_count(1)


def test_multi_line_mode_enter_adds_a_line_and_ctrl_enter_runs(page: Page) -> None:
    open_editor(page)
    toggle = page.get_by_role("button", name="Multi-line")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(page.locator(EDITOR)).to_be_focused()
    page.keyboard.type('{app="payments"}')
    page.keyboard.press("Enter")
    page.keyboard.type('|= "declined"')
    expect(page.locator(f"{EDITOR} .cm-line")).to_have_count(2)
    assert url_query(page) is None
    page.keyboard.press("Control+Enter")
    expect(page).to_have_url(re.compile(r"query="))
    assert url_query(page) == '{app="payments"}\n|= "declined"'


def test_shift_enter_adds_a_line_and_switches_to_multi_line(page: Page) -> None:
    open_editor(page)
    page.keyboard.type('{app="payments"}')
    page.keyboard.press("Shift+Enter")
    expect(page.get_by_role("button", name="Multi-line")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(f"{EDITOR} .cm-line")).to_have_count(2)
    expect(page.locator(EDITOR)).to_have_attribute("aria-multiline", "true")
    page.keyboard.press("Enter")
    expect(page.locator(f"{EDITOR} .cm-line")).to_have_count(3)
    assert url_query(page) is None


def test_a_query_with_a_newline_opens_in_multi_line_mode(page: Page) -> None:
    page.goto("/logs?query=%7Bapp%3D%22checkout%22%7D%0A%7C%3D%20%22declined%22")
    expect(page.get_by_role("button", name="Multi-line")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(f"{EDITOR} .cm-line")).to_have_count(2)


def test_multi_line_grows_to_eight_lines_then_scrolls(page: Page) -> None:
    open_editor(page)
    page.get_by_role("button", name="Multi-line").click()
    box = page.locator(".query-editor-input")
    one = box.bounding_box()
    page.keyboard.type('{app="checkout"}')
    for _ in range(3):
        page.keyboard.press("Enter")
        page.keyboard.type('|= "x"')
    four = box.bounding_box()
    assert one and four and four["height"] > one["height"] * 2.5, (one, four)
    for _ in range(10):
        page.keyboard.press("Enter")
        page.keyboard.type('|= "y"')
    many = box.bounding_box()
    assert many and many["height"] < one["height"] * 7, (one, many)
    scroller = page.locator("[data-query-editor] .cm-scroller")
    assert scroller.evaluate("el => el.scrollHeight > el.clientHeight")


def test_history_and_bracket_closing(page: Page) -> None:
    open_editor(page)
    page.keyboard.type("sum(")
    expect(page.locator(EDITOR)).to_have_text("sum()")
    page.keyboard.press("Control+z")
    is_empty(page)


def test_slash_from_the_page_focuses_the_editor(page: Page) -> None:
    page.goto("/logs")
    page.locator("body").click(position={"x": 5, "y": 400})
    expect(page.locator(EDITOR)).not_to_be_focused()
    page.keyboard.press("/")
    expect(page.locator(EDITOR)).to_be_focused()
    is_empty(page)


def test_editor_fits_a_phone_width(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 800})
    open_editor(page)
    page.keyboard.type("{")
    expect(option(page, "app")).to_be_visible()
    for locator in (page.locator("[data-query-editor]"), popup(page)):
        box = locator.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    expect(page.get_by_role("button", name="Multi-line")).to_be_in_viewport()


def test_no_serious_accessibility_violations_with_the_popup_open_or_an_error(
    page: Page, no_console_errors: list[str]
) -> None:
    for theme in ("light", "dark"):
        page.emulate_media(color_scheme=theme)
        open_editor(page)
        # Every kind of token highlighted, and the stage list open.
        page.keyboard.type('sum by (app) (rate({app="checkout"} |= "x" | json | status >= 500 | ')
        expect(option(page, "logfmt")).to_be_visible()
        assert axe_violations(page) == [], theme
        page.goto("/logs?query=%7Bapp%3D%22x%22%7D%20%7C%3D")
        expect(page.locator(".query-editor-error-mark")).to_be_visible()
        assert axe_violations(page) == [], theme
    refused_requests_only(no_console_errors)
