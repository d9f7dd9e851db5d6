"""The Targets page against a real `heron server --config` scraping real targets on 127.0.0.1:
a healthy one (a small `http.server` serving `/metrics`), a failing one (a closed port), one
that can be made to fail, and one that relabeling drops."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from a11y import axe_violations
from hidden_tab import check_refresh_pauses_while_hidden
from playwright.sync_api import Page, expect

from serverproc import ServerProc, free_port, start_server

BODY = b"# TYPE shop_orders_total counter\nshop_orders_total 42\n"
NAMESPACE, POD = "web", "frontend-7d9f8-abcde"


class _Handler(BaseHTTPRequestHandler):
    server: _Target

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return None

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        code = 500 if self.server.failing.is_set() else 200
        body = b"the shop is closed\n" if code == 500 else BODY
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Target(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.failing = threading.Event()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


@dataclass
class Scraping:
    server: ServerProc
    healthy: _Target
    flaky: _Target
    closed: str  # host:port where nothing listens

    @property
    def url(self) -> str:
        return self.server.url


def _serve(t: _Target) -> threading.Thread:
    th = threading.Thread(target=t.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    th.start()
    return th


@pytest.fixture(scope="module")
def scraping(tmp_path_factory: pytest.TempPathFactory, heron: ServerProc) -> Iterator[Scraping]:
    healthy, flaky = _Target(), _Target()
    threads = [_serve(healthy), _serve(flaky)]
    closed = f"127.0.0.1:{free_port()}"
    config = {
        "scrape_configs": [
            {
                "job_name": "shop",
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "static_configs": [
                    {"targets": [healthy.address], "labels": {"namespace": NAMESPACE, "pod": POD}}
                ],
            },
            {
                "job_name": "broken",
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "static_configs": [{"targets": [closed]}],
            },
            {
                "job_name": "flaky",
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "static_configs": [{"targets": [flaky.address]}],
            },
            {
                "job_name": "relabeled",
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "static_configs": [{"targets": [healthy.address, closed], "labels": {"team": "checkout"}}],
                "relabel_configs": [
                    {"source_labels": ["__address__"], "regex": re.escape(healthy.address), "action": "keep"}
                ],
            },
        ]
    }
    tmp = tmp_path_factory.mktemp("targets")
    path = tmp / "heron.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    ui = heron.proc.args[heron.proc.args.index("--ui-dir") + 1]  # type: ignore[union-attr]
    server = start_server(tmp / "data", "--config", str(path), "--ui-dir", str(ui))
    try:
        # The page refreshes every 10 s: tests that read a target's health must find each one
        # scraped at least once when the page loads, not wait out a refresh on a busy machine.
        deadline = time.monotonic() + 30
        while any(t["health"] == "unknown" for t in _targets(server.url)):
            assert time.monotonic() < deadline, _targets(server.url)
            time.sleep(0.2)
        yield Scraping(server, healthy, flaky, closed)
    finally:
        code = server.stop()
        for t in (healthy, flaky):
            t.shutdown()
            t.server_close()
        for th in threads:
            th.join(timeout=10)
        assert code == 0, server.log()


def _targets(url: str) -> list[dict[str, Any]]:
    r = httpx.get(url + "/api/v1/targets", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["data"]["activeTargets"]


def _pool(page: Page, name: str):  # type: ignore[no-untyped-def]
    return page.get_by_role("region", name=re.compile(rf"^{re.escape(name)}\b"))


def test_a_healthy_and_a_failing_target_with_its_error(page: Page, scraping: Scraping) -> None:
    page.goto(scraping.url + "/")
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Targets").click()
    expect(page).to_have_url(re.compile(r"/targets$"))
    expect(page.get_by_role("heading", name="Targets", level=1)).to_be_visible()
    nav = page.get_by_role("navigation", name="Pages").get_by_role("link", name="Targets")
    expect(nav).to_have_attribute("aria-current", "page")
    expect(page).to_have_title("Targets · Heron")
    shop = _pool(page, "shop")
    expect(shop.get_by_role("button", name=re.compile(r"shop 1\/1 up"))).to_be_visible(timeout=15_000)
    row = shop.get_by_test_id("target-row")
    expect(row.get_by_role("link", name=f"http://{scraping.healthy.address}/metrics")).to_be_visible()
    expect(row).to_contain_text("UP")
    labels = row.get_by_role("list", name=re.compile("^Labels of"))
    expect(labels.get_by_role("listitem")).to_have_text(
        ['job="shop"', f'instance="{scraping.healthy.address}"', f'namespace="{NAMESPACE}"', f'pod="{POD}"']
    )
    toggle = row.get_by_role("button", name="Discovered labels")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    discovered = row.get_by_role("list", name=re.compile("^Discovered labels of")).get_by_role("listitem")
    expect(discovered.filter(has_text="__address__")).to_have_text(
        f'__address__="{scraping.healthy.address}"'
    )
    expect(discovered.filter(has_text="__metrics_path__")).to_have_text('__metrics_path__="/metrics"')
    hide = row.get_by_role("button", name="Hide discovered labels")
    expect(hide).to_have_attribute("aria-expanded", "true")
    hide.press("Escape")
    expect(row.get_by_role("list", name=re.compile("^Discovered labels of"))).to_have_count(0)
    last = row.locator("time")
    expect(last).to_have_text(re.compile(r"^(just now|\d+s ago)$"))
    assert last.get_attribute("title")  # the absolute time, on hover
    expect(row.get_by_role("cell").nth(4)).to_have_text(re.compile(r"^\d+(\.\d+)?(µs|ms|s)$"))

    broken = _pool(page, "broken")
    expect(broken.get_by_role("button", name=re.compile(r"broken 0\/1 up"))).to_be_visible(timeout=15_000)
    expect(broken.get_by_test_id("target-row")).to_contain_text("DOWN")
    (failing,) = [t for t in _targets(scraping.url) if t["scrapePool"] == "broken"]
    assert failing["lastError"], failing
    expect(broken.locator(".targets-error")).to_have_text(f"Error: {failing['lastError']}")


def test_health_filter_and_search_live_in_the_url(page: Page, scraping: Scraping) -> None:
    page.goto(scraping.url + "/targets")
    expect(_pool(page, "broken").get_by_text("DOWN", exact=True)).to_be_visible(timeout=15_000)
    expect(_pool(page, "shop").get_by_text("UP", exact=True)).to_be_visible()
    filters = page.get_by_role("group", name="Filter by health")
    filters.get_by_role("button", name=re.compile("^Down")).click()
    expect(page).to_have_url(re.compile(r"/targets\?health=down$"))
    expect(filters.get_by_role("button", name=re.compile("^Down"))).to_have_attribute("aria-pressed", "true")
    expect(_pool(page, "broken")).to_be_visible()
    expect(_pool(page, "shop")).to_have_count(0)  # a pool with nothing down is left out
    page.go_back()
    expect(page).to_have_url(re.compile(r"/targets$"))
    expect(_pool(page, "shop")).to_be_visible()

    box = page.get_by_label("Search targets by label or URL")
    box.fill("pod=frontend")
    expect(page).to_have_url(re.compile(r"[?&]search=pod%3Dfrontend"))
    expect(page.get_by_test_id("target-row")).to_have_count(1)
    expect(_pool(page, "shop")).to_be_visible()
    box.fill(scraping.closed)  # a URL matches too
    expect(page.get_by_test_id("target-row")).to_have_count(1)
    expect(_pool(page, "broken")).to_be_visible()
    box.fill("no-such-label=at-all")
    expect(page.get_by_text("No target matches “no-such-label=at-all”.")).to_be_visible()
    box.press("Escape")
    expect(box).to_have_value("")
    expect(page).not_to_have_url(re.compile("search="))

    # A shared link opens with both set; the controls show them.
    page.goto(scraping.url + "/targets?health=up&search=" + quote('namespace="web'))
    expect(page.get_by_label("Search targets by label or URL")).to_have_value('namespace="web')
    expect(filters.get_by_role("button", name=re.compile("^Up"))).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("target-row")).to_have_count(1)
    expect(_pool(page, "shop")).to_be_visible()
    page.goto(scraping.url + "/targets?health=down&search=pod%3Dfrontend")
    expect(page.get_by_text("No target matches health “down” and “pod=frontend”.")).to_be_visible()
    page.get_by_role("button", name="Show all targets").click()
    expect(page).to_have_url(re.compile(r"/targets$"))
    page.goto(scraping.url + "/targets?health=sick")
    expect(page.get_by_role("alert")).to_contain_text("There is no health “sick”")


def test_a_pod_target_links_to_its_pods_logs(page: Page, scraping: Scraping) -> None:
    page.goto(scraping.url + "/targets")
    link = page.get_by_role("link", name=f"Pod logs: {NAMESPACE}/{POD}")
    expect(link).to_be_visible(timeout=15_000)
    expect(_pool(page, "broken").get_by_role("link", name=re.compile("^Pod logs"))).to_have_count(0)
    link.click()
    query = f'{{namespace="{NAMESPACE}", pod="{POD}"}}'
    expect(page).to_have_url(
        re.compile(r"/logs\?query=" + re.escape(quote(query, safe="").replace("%20", "+")))
    )
    expect(page.locator("[data-query-editor]")).to_contain_text(query)


def test_pools_and_dropped_targets_collapse_from_the_keyboard(page: Page, scraping: Scraping) -> None:
    page.goto(scraping.url + "/targets")
    head = _pool(page, "shop").get_by_role("button", name=re.compile("^shop"))
    expect(head).to_have_attribute("aria-expanded", "true")
    head.focus()
    page.keyboard.press("Enter")
    expect(head).to_have_attribute("aria-expanded", "false")
    expect(_pool(page, "shop").get_by_role("table")).to_have_count(0)
    page.keyboard.press("Space")
    expect(_pool(page, "shop").get_by_role("table")).to_be_visible()

    dropped = page.get_by_role("button", name=re.compile(r"^Dropped targets\s*1$"))
    expect(dropped).to_have_attribute("aria-expanded", "false")  # collapsed until asked for
    dropped.click()
    items = page.get_by_role("list", name=f"Discovered labels of {scraping.closed}").get_by_role("listitem")
    expect(items.filter(has_text="__address__")).to_have_text(f'__address__="{scraping.closed}"')
    expect(items.filter(has_text="team")).to_have_text('team="checkout"')
    page.get_by_role("button", name="Collapse all pools").click()
    expect(page.get_by_role("table")).to_have_count(0)
    page.get_by_role("button", name="Expand all pools").click()
    expect(page.get_by_role("table")).to_have_count(4)


def test_it_refreshes_on_its_own_when_a_target_starts_failing(page: Page, scraping: Scraping) -> None:
    page.goto(scraping.url + "/targets")
    flaky = _pool(page, "flaky")
    expect(flaky.get_by_text("UP", exact=True)).to_be_visible(timeout=15_000)
    scraping.flaky.failing.set()
    try:
        # within a 10 s refresh plus a 1 s scrape, without a reload
        expect(flaky.get_by_text("DOWN", exact=True)).to_be_visible(timeout=20_000)
        expect(flaky.locator(".targets-error")).to_contain_text("500")
    finally:
        scraping.flaky.failing.clear()
    page.get_by_role("button", name="Refresh targets now").click()
    expect(flaky.get_by_text("UP", exact=True)).to_be_visible(timeout=15_000)


def test_an_empty_server_says_what_to_configure(page: Page, heron: ServerProc) -> None:
    page.goto("/targets")  # the shared server has no scrape_configs and no Kubernetes
    expect(page.get_by_text("No scrape targets.")).to_be_visible()
    expect(page.locator("pre")).to_contain_text("scrape_configs:")
    expect(page.get_by_text('prometheus.io/scrape: "true"')).to_be_visible()
    assert axe_violations(page) == []


def test_an_api_failure_is_shown(page: Page, no_console_errors: list[str]) -> None:
    page.route(
        "**/api/v1/targets*",
        lambda route: route.fulfill(
            status=500,
            content_type="application/json",
            body='{"status":"error","errorType":"internal","error":"the scrape manager is gone"}',
        ),
    )
    page.goto("/targets")
    expect(page.get_by_role("alert")).to_have_text("Could not load the targets: the scrape manager is gone")
    assert all("Failed to load resource" in e for e in no_console_errors), no_console_errors
    no_console_errors.clear()
    page.unroute("**/api/v1/targets*")


def test_axe_clean_in_both_themes_and_usable_at_390_px(page: Page, scraping: Scraping) -> None:
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.goto(scraping.url + "/targets")
        expect(_pool(page, "broken").locator(".targets-error")).to_be_visible(timeout=15_000)
        page.get_by_role("button", name=re.compile("^Dropped targets")).click()
        expect(page.get_by_role("list", name=re.compile("^Discovered labels"))).to_be_visible()
        assert axe_violations(page) == [], scheme
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(scraping.url + "/targets")
    error = _pool(page, "broken").locator(".targets-error")
    expect(error).to_be_visible(timeout=15_000)
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], widths  # nothing sticks out sideways
    box = error.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    search = page.get_by_label("Search targets by label or URL")
    bounds = search.bounding_box()
    assert bounds is not None and bounds["x"] + bounds["width"] <= 390, bounds
    assert axe_violations(page) == []


def test_a_hidden_tab_does_not_refresh_and_catches_up_when_shown(page: Page) -> None:
    check_refresh_pauses_while_hidden(
        page,
        "/targets",
        "/api/v1/targets",
        lambda p: expect(p.get_by_text("No scrape targets.")).to_be_visible(),
    )


def test_a_long_pool_shows_its_failing_targets_first_and_the_rest_on_request(page: Page) -> None:
    def target(i: int, health: str) -> dict[str, Any]:
        address = f"10.1.0.{i}:8080"
        return {
            "discoveredLabels": {"__address__": address},
            "labels": {"job": "big", "instance": address},
            "scrapePool": "big",
            "scrapeUrl": f"http://{address}/metrics",
            "globalUrl": f"http://{address}/metrics",
            "lastError": "connection refused" if health == "down" else "",
            "lastScrape": "2026-12-03T14:00:00Z",
            "lastScrapeDuration": 0.002,
            "health": health,
            "scrapeInterval": "15s",
            "scrapeTimeout": "10s",
        }

    # 130 targets; the three failing ones sort last by URL, so only health puts them first
    active = [target(i, "down" if i >= 127 else "up") for i in range(130)]
    body = json.dumps({"status": "success", "data": {"activeTargets": active, "droppedTargets": []}})
    page.route(
        "**/api/v1/targets*", lambda r: r.fulfill(status=200, content_type="application/json", body=body)
    )
    page.goto("/targets")
    rows = page.get_by_test_id("target-row")
    expect(rows).to_have_count(100)
    expect(page.get_by_text("Showing 100 of 130, failing ones first.")).to_be_visible()
    for i in range(3):
        expect(rows.nth(i)).to_contain_text("DOWN")
    expect(rows.nth(3)).to_contain_text("UP")
    page.get_by_role("button", name="Show all 130 targets of big").click()
    expect(rows).to_have_count(130)
    expect(page.get_by_text("Showing 100 of 130")).to_have_count(0)
    page.unroute("**/api/v1/targets*")
