"""The overview's metric panels: CPU and memory by namespace and by pod, error log lines by
namespace, restarting containers and targets down, each linking to its explorer query, over
the demo-like metrics of seed_metrics.py."""

from __future__ import annotations

import re
from typing import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
from a11y import axe_violations
from playwright.sync_api import Page, expect
from plot import drawn
from seed_metrics import seed_metrics

from serverproc import ServerProc


@pytest.fixture(autouse=True, scope="module")
def metrics(heron: ServerProc) -> Iterator[None]:
    seed_metrics(heron.url)
    yield


def card(page: Page, title: str):
    return page.get_by_role("region", name=title, exact=True)


def legend(page: Page, title: str):
    return card(page, title).get_by_role("list", name=re.compile("legend"))


def test_cpu_and_memory_by_namespace_and_by_pod(page: Page) -> None:
    page.goto("/")
    for title in ("CPU by namespace (cores)", "Memory by namespace (working set)"):
        drawn(card(page, title).get_by_role("img"))
        for ns in ("api", "db", "web"):
            expect(legend(page, title).get_by_role("button", name=ns, exact=True)).to_be_visible()
    for title in ("CPU by pod (cores)", "Memory by pod (working set)"):
        drawn(card(page, title).get_by_role("img"))
        for name in ("api / checkout-7d9f-abcde", "api / payments-5c4b-fghij", "db / postgres-0"):
            expect(legend(page, title).get_by_role("button", name=name, exact=True)).to_be_visible()


def test_error_log_lines_by_namespace(page: Page) -> None:
    page.goto("/")
    title = "Error log lines by namespace (per second)"
    drawn(card(page, title).get_by_role("img"))
    expect(legend(page, title).get_by_role("button", name="api", exact=True)).to_be_visible()
    card(page, title).get_by_role("link", name=f"Open in logs explorer: {title}").click()
    expect(page).to_have_url(re.compile(r"/logs\?"))
    q = parse_qs(urlparse(page.url).query)
    assert q["query"][0].startswith("sum by (namespace) (rate(") and q["from"] == ["now-1h"]


def test_restarting_containers_and_targets_down(page: Page) -> None:
    page.goto("/?range=6h")
    restarts = card(page, "Restarting containers").get_by_role(
        "list", name=re.compile("restarted in the last 6h")
    )
    row = restarts.get_by_role("listitem").filter(has_text="db / postgres-0 / postgres")
    expect(row).to_contain_text("1 restart")
    expect(restarts.get_by_role("listitem").filter(has_text="checkout")).to_have_count(0)
    row.get_by_role("link").click()
    q = parse_qs(urlparse(page.url).query)
    assert q["query"] == ['{namespace="db", pod="postgres-0", container="postgres"}']
    page.go_back()
    down = card(page, "Targets down").get_by_role("list", name="Targets whose last scrape failed")
    expect(down.get_by_role("listitem").filter(has_text="e2e-down:9100")).to_be_visible()
    expect(down.get_by_role("listitem").filter(has_text="e2e-up:9100")).to_have_count(0)


def test_panels_open_the_query_they_came_from(page: Page) -> None:
    page.goto("/?range=6h")
    title = "CPU by namespace (cores)"
    drawn(card(page, title).get_by_role("img"))
    card(page, title).get_by_role("link", name=f"Open in metrics explorer: {title}").click()
    expect(page).to_have_url(re.compile(r"/metrics\?"))
    q = parse_qs(urlparse(page.url).query)
    assert q["query"] == ['sum by (namespace) (rate(container_cpu_usage_seconds_total{image!=""}[5m]))']
    assert q["from"] == ["now-6h"]
    chart_legend = page.get_by_role("list", name=re.compile("Query 1 graph: legend"))
    expect(chart_legend.get_by_role("button", name='{namespace="db"}', exact=True)).to_be_visible(
        timeout=10_000
    )
    page.goto("/")
    card(page, "Targets down").get_by_role("link", name="Open in metrics explorer: Targets down").click()
    q = parse_qs(urlparse(page.url).query)
    assert q["query"] == ["up == 0"] and q["table"] == ["0"]
    expect(page.get_by_role("row").filter(has_text='instance="e2e-down:9100"')).to_be_visible(timeout=10_000)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_overview_axe_clean_in_both_themes(page: Page, scheme: str) -> None:
    page.emulate_media(color_scheme=scheme)
    page.goto("/")
    drawn(card(page, "CPU by pod (cores)").get_by_role("img"))
    expect(card(page, "Targets down").get_by_role("listitem").first).to_be_visible()
    assert axe_violations(page) == []
