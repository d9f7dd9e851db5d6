"""The metrics explorer (`/metrics`): PromQL rows with a graph or a table, autocomplete from the
API, the parse error's position, links between a series and its pod's logs, and `/metrics`
shared with Heron's own exposition by content negotiation."""

from __future__ import annotations

import re
from typing import Iterator
from urllib.parse import parse_qs, quote, urlparse

import httpx
import pytest
from a11y import axe_violations
from playwright.sync_api import Page, expect
from plot import drawn
from seed_metrics import JOB, seed_metrics

from serverproc import ServerProc

MEMORY = f'container_memory_working_set_bytes{{job="{JOB}"}}'
CHROME_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,"
    "application/signed-exchange;v=b3;q=0.7"
)
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
)


@pytest.fixture(autouse=True, scope="module")
def metrics(heron: ServerProc) -> Iterator[None]:
    seed_metrics(heron.url)
    yield


def explorer(*queries: str, **extra: str) -> str:
    parts = [f"query={quote(q)}" for q in queries] + [f"{k}={quote(v)}" for k, v in extra.items()]
    return "/metrics?" + "&".join(parts)


def params(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def panel(page: Page, n: int = 1):
    return page.get_by_role("region", name=f"Query {n}", exact=True)


def test_metrics_is_the_exposition_for_scrapers_and_the_ui_for_browsers(heron: ServerProc) -> None:
    with httpx.Client(base_url=heron.url, timeout=10) as c:
        for accept in (PROMETHEUS_ACCEPT, "*/*", None, "text/plain, text/html"):
            r = c.get("/metrics", headers={"Accept": accept} if accept else {})
            assert r.status_code == 200, accept
            assert r.headers["content-type"].startswith("text/plain; version=0.0.4"), accept
            assert "heron_ingested_log_entries_total" in r.text, accept
            assert "Accept" in r.headers["vary"]
        for accept in (CHROME_ACCEPT, "text/html"):
            r = c.get("/metrics?query=up", headers={"Accept": accept})
            assert r.status_code == 200, accept
            assert r.headers["content-type"].startswith("text/html"), accept
            assert '<div id="app">' in r.text or "<script" in r.text
            assert "Accept" in r.headers["vary"]
        # Deep links under the explorer are the UI's whatever the Accept.
        assert c.get("/metrics/anything").headers["content-type"].startswith("text/html")


def test_a_browser_opening_metrics_gets_the_explorer(page: Page) -> None:
    page.goto("/metrics")
    expect(page.get_by_role("heading", name="Metrics", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Metrics", exact=True)).to_have_attribute("aria-current", "page")
    expect(panel(page).get_by_text("Write a PromQL query")).to_be_visible()


def test_graph_draws_one_line_per_series_with_a_legend(page: Page) -> None:
    page.goto(explorer(MEMORY))
    p = panel(page)
    chart = p.get_by_role("img", name="Query 1 graph")
    box = drawn(chart)
    legend = p.get_by_role("list", name=re.compile("Query 1 graph: legend"))
    expect(legend.get_by_role("listitem")).to_have_count(4)
    name = (
        'container_memory_working_set_bytes{container="postgres", image="registry.example/postgres:1", '
        f'instance="node-b:10250", job="{JOB}", namespace="db", pod="postgres-0"}}'
    )
    expect(legend.get_by_role("button", name=name, exact=True)).to_be_visible()
    expect(p.get_by_role("status", name="Query 1 status")).to_have_text(
        re.compile(r"^4 series \(step \d+s, from the width\)$")
    )
    # The chart's own summary counts what uPlot draws: one line per series.
    expect(p.get_by_text(re.compile(r"^4 series from "))).to_have_count(1)
    # Hovering shows every series' value at that time.
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    tooltip = p.locator(".chart-tooltip")
    expect(tooltip).to_be_visible()
    expect(tooltip).to_contain_text("536.9M")  # postgres' 512 MiB working set
    expect(tooltip.locator(".chart-tooltip-row")).to_have_count(4)
    # A legend click isolates its series; another click shows them all again.
    only = legend.get_by_role("button", name=name, exact=True)
    only.click()
    expect(only).to_have_attribute("aria-pressed", "true")
    # Back to the time where postgres' value was just shown (its restart leaves a gap in the
    # series elsewhere, so another time may hold no value of the isolated series).
    page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.5)
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    expect(tooltip.locator(".chart-tooltip-row")).to_have_count(1)
    only.click()
    expect(only).to_have_attribute("aria-pressed", "false")


def test_stacked_and_table_are_in_the_url(page: Page) -> None:
    page.goto(explorer(MEMORY))
    p = panel(page)
    drawn(p.get_by_role("img", name="Query 1 graph"))
    p.get_by_role("button", name="Stacked").click()
    expect(page).to_have_url(re.compile(r"stacked=0"))
    expect(p.get_by_role("button", name="Stacked")).to_have_attribute("aria-pressed", "true")
    p.get_by_role("tab", name="Table").click()
    expect(page).to_have_url(re.compile(r"table=0"))
    table = p.get_by_role("table", name=re.compile("^Query 1 at "))
    expect(table.get_by_role("row")).to_have_count(5)  # the header and four series
    row = table.get_by_role("row").filter(has_text='pod="postgres-0"')
    expect(row.get_by_role("cell").nth(1)).to_have_text("536870912")
    page.reload()
    expect(panel(page).get_by_role("tab", name="Table")).to_have_attribute("aria-selected", "true")


def test_step_follows_the_url_and_bad_steps_are_refused(page: Page) -> None:
    page.goto(explorer(MEMORY, step="1m"))
    p = panel(page)
    expect(p.get_by_role("status", name="Query 1 status")).to_have_text("4 series (step 1m)")
    step = page.get_by_label("Step")
    step.fill("soon")
    expect(page.get_by_role("alert").filter(has_text='not a step: "soon"')).to_be_visible()
    step.fill("30s")
    step.press("Enter")
    expect(page).to_have_url(re.compile(r"step=30s"))
    expect(p.get_by_role("status", name="Query 1 status")).to_have_text("4 series (step 30s)")
    # A step too small for the range is explained before any request.
    page.goto(explorer(MEMORY, step="1s", **{"from": "now-24h"}))
    expect(panel(page).get_by_role("alert")).to_contain_text("at most 11000")


def test_autocomplete_offers_a_real_metric_name(page: Page) -> None:
    page.goto("/metrics")
    editor = page.get_by_role("textbox", name="PromQL query 1")
    editor.click()
    page.keyboard.type("container_mem")
    option = page.get_by_role("option", name=re.compile("^container_memory_working_set_bytes"))
    expect(option).to_be_visible(timeout=10_000)
    # CodeMirror ignores Enter on a popup younger than its interactionDelay (75 ms): then
    # Enter would run the query instead of taking the option.
    page.wait_for_function(
        """() => {
            const el = document.querySelector(".cm-tooltip-autocomplete");
            if (!el) { window.__popup = null; return false; }
            if (!window.__popup || window.__popup.el !== el) window.__popup = { el, at: performance.now() };
            return performance.now() - window.__popup.at > 100;
        }""",
        timeout=5_000,
    )
    page.keyboard.press("Enter")
    expect(editor).to_have_text(re.compile("^container_memory_working_set_bytes"))
    assert "query" not in params(page)  # taking an option does not run the query


def test_shift_enter_runs_and_queries_can_be_added_and_removed(page: Page) -> None:
    page.goto("/metrics")
    page.get_by_role("textbox", name="PromQL query 1").click()
    page.keyboard.type(f'up{{job="{JOB}"}}')
    page.keyboard.press("Shift+Enter")
    expect(page).to_have_url(re.compile(r"query=up"))
    expect(panel(page).get_by_role("status", name="Query 1 status")).to_have_text(re.compile("^2 series"))
    page.get_by_role("button", name="Add query").click()
    page.get_by_role("textbox", name="PromQL query 2").click()
    page.keyboard.type(MEMORY)
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page).to_have_url(re.compile(r"query=up.*&query=container_memory"))
    expect(panel(page, 2).get_by_role("status", name="Query 2 status")).to_have_text(re.compile("^4 series"))
    page.get_by_role("button", name="Remove query 1").click()
    assert params(page)["query"] == [MEMORY]
    expect(page.get_by_role("textbox", name="PromQL query 1")).to_have_text(MEMORY)
    expect(page.get_by_role("button", name="Remove query 1")).to_be_disabled()


def test_a_bad_query_shows_the_servers_error_at_its_position(
    page: Page, no_console_errors: list[str]
) -> None:
    page.goto(explorer("1 + foo bar"))
    p = panel(page)
    alert = p.get_by_role("alert")
    expect(alert).to_contain_text("line 1, column 9:")
    expect(alert).to_contain_text("parse error")
    expect(p.locator(".query-editor-error-mark")).to_have_text("bar")
    # Editing the text takes the mark away.
    page.get_by_role("textbox", name="PromQL query 1").click()
    page.keyboard.press("End")
    page.keyboard.press("Backspace")
    expect(p.locator(".query-editor-error-mark")).to_have_count(0)
    # The browser logs the 400 itself; nothing else may have gone to the console.
    assert no_console_errors and all("status of 400" in e for e in no_console_errors), no_console_errors
    no_console_errors.clear()


def test_logs_for_this_series_from_the_legend_and_the_table(page: Page) -> None:
    page.goto(explorer(MEMORY, **{"from": "now-30m"}))
    p = panel(page)
    legend = p.get_by_role("list", name=re.compile("Query 1 graph: legend"))
    link = legend.get_by_role("link", name=re.compile(r'^Logs for .*pod="postgres-0"'))
    link.click()
    expect(page).to_have_url(re.compile(r"^[^?]*/logs\?"))
    q = params(page)
    assert q["query"] == ['{namespace="db", pod="postgres-0", container="postgres"}']
    assert q["from"] == ["now-30m"] and q["to"] == ["now"]
    expect(page.get_by_text("ERROR: deadlock detected on relation orders")).to_be_visible(timeout=10_000)
    page.goto(explorer(MEMORY, table="0"))
    row = panel(page).get_by_role("row").filter(has_text='pod="checkout-7d9f-abcde"')
    row.get_by_role("link", name=re.compile("^Logs for ")).click()
    assert params(page)["query"] == ['{namespace="api", pod="checkout-7d9f-abcde", container="app"}']


def test_metrics_for_this_pod_from_a_log_line(page: Page) -> None:
    page.goto("/logs?query=" + quote('{pod="postgres-0"} |= "deadlock"'))
    line = page.get_by_text("ERROR: deadlock detected on relation orders").first
    expect(line).to_be_visible(timeout=10_000)
    line.click()
    page.get_by_role("link", name="Metrics for this pod (postgres-0)").click()
    expect(page).to_have_url(re.compile(r"/metrics\?"))
    queries = params(page)["query"]
    assert len(queries) == 2 and "container_cpu_usage_seconds_total" in queries[0], queries
    assert 'pod="postgres-0"' in queries[1] and "container_memory_working_set_bytes" in queries[1]
    for n in (1, 2):
        legend = panel(page, n).get_by_role("list", name=re.compile(f"Query {n} graph: legend"))
        expect(legend.get_by_role("button", name='{container="postgres"}', exact=True)).to_be_visible(
            timeout=10_000
        )


def test_warnings_and_errors_from_the_api_are_shown(page: Page, no_console_errors: list[str]) -> None:
    def answer(route) -> None:
        route.fulfill(
            status=200,
            content_type="application/json",
            body='{"status":"success","data":{"resultType":"matrix","result":[]},'
            '"warnings":["PromQL warning: something to know"],"infos":["PromQL info: a hint"]}',
        )

    page.route("**/api/v1/query_range**", answer)
    page.goto(explorer("up"))
    notes = panel(page).get_by_role("list", name="Query 1 warnings and infos")
    expect(notes).to_contain_text("Warning: PromQL warning: something to know")
    expect(notes).to_contain_text("Info: PromQL info: a hint")
    expect(panel(page).get_by_text("The query returned no series in this range.")).to_be_visible()
    page.unroute("**/api/v1/query_range**")
    page.route(
        "**/api/v1/query_range**",
        lambda route: route.fulfill(
            status=422,
            content_type="application/json",
            body='{"status":"error","errorType":"execution",'
            '"error":"query processing would load too many samples"}',
        ),
    )
    page.goto(explorer("up"))
    expect(panel(page).get_by_role("alert")).to_have_text("query processing would load too many samples")
    # The browser logs the 422 itself; nothing else may have gone to the console.
    assert all("status of 422" in e for e in no_console_errors), no_console_errors
    no_console_errors.clear()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_clean_in_both_themes(page: Page, scheme: str, no_console_errors: list[str]) -> None:
    page.emulate_media(color_scheme=scheme)
    page.goto(explorer(MEMORY, f'up{{job="{JOB}"}}', table="1"))
    drawn(panel(page).get_by_role("img", name="Query 1 graph"))
    expect(panel(page, 2).get_by_role("table")).to_be_visible()
    assert axe_violations(page) == []
    page.goto(explorer("1 + foo bar"))
    expect(panel(page).get_by_role("alert")).to_be_visible()
    assert axe_violations(page) == []
    assert all("status of 400" in e for e in no_console_errors), no_console_errors
    no_console_errors.clear()


def test_fits_a_phone(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(explorer(MEMORY))
    drawn(panel(page).get_by_role("img", name="Query 1 graph"))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
