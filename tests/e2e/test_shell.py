"""The application shell: navigation, deep links, themes, and the server-down banner."""

from __future__ import annotations

import re

from a11y import axe_violations
from playwright.sync_api import Page, expect


def test_every_page_loads_from_a_deep_link(page: Page) -> None:
    for path, title in (("/", "Overview"), ("/logs", "Logs"), ("/status", "Status")):
        page.goto(path)
        expect(page).to_have_title(f"{title} · Heron")
        expect(
            page.get_by_role("navigation", name="Pages").get_by_role("link", name=title)
        ).to_have_attribute("aria-current", "page")


def test_navigation_and_back_button(page: Page) -> None:
    page.goto("/")
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Status").click()
    expect(page).to_have_url(re.compile(r"/status$"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page).to_have_title("Overview · Heron")


def test_unknown_page_says_so(page: Page) -> None:
    page.goto("/logs")
    page.evaluate(
        "() => { history.pushState(null, '', '/nowhere'); dispatchEvent(new PopStateEvent('popstate')) }"
    )
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_theme_switch_follows_choice_and_persists(page: Page) -> None:
    page.emulate_media(color_scheme="light")
    page.goto("/")
    html = page.locator("html")
    expect(html).to_have_attribute("data-theme", "light")
    page.get_by_label("Theme").select_option("dark")
    expect(html).to_have_attribute("data-theme", "dark")
    page.reload()
    expect(html).to_have_attribute("data-theme", "dark")
    page.get_by_label("Theme").select_option("system")
    page.emulate_media(color_scheme="dark")
    expect(html).to_have_attribute("data-theme", "dark")


def test_banner_when_the_server_is_unreachable_and_gone_when_back(
    page: Page, no_console_errors: list[str]
) -> None:
    page.goto("/status")
    for pattern in ("**/loki/api/**", "**/api/v1/**", "**/-/ready"):
        page.route(pattern, lambda route: route.abort())
    # A reload while the server is away: the shell still renders, and the query's failure
    # raises the banner.
    page.goto("/logs?query=%7Bapp%3D%22checkout%22%7D")
    banner = page.locator(".banner[role=alert]")
    expect(banner).to_be_visible()
    expect(page.get_by_role("navigation", name="Pages")).to_be_visible()
    # The banner says it; the query's own error area does not repeat it as a query error.
    expect(page.locator(".query-editor-error")).to_have_count(0)
    for pattern in ("**/loki/api/**", "**/api/v1/**", "**/-/ready"):
        page.unroute(pattern)
    expect(banner).to_have_count(0, timeout=10_000)
    # Chromium logs each refused request as a console error; those were this test's doing.
    no_console_errors.clear()


def test_shell_has_no_serious_accessibility_violations(page: Page) -> None:
    for theme in ("light", "dark"):
        page.emulate_media(color_scheme=theme)
        page.goto("/")
        assert axe_violations(page) == [], theme
