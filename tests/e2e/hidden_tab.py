"""The check the live pages (Targets, Status) share: a hidden tab asks the server nothing, and
shown again it catches up at once. The page runs on Playwright's clock, so ten-second
refreshes pass without waiting."""

from __future__ import annotations

from typing import Callable

from playwright.sync_api import Page

_SET_VISIBILITY = "(v) => { window.__heronVis = v; document.dispatchEvent(new Event('visibilitychange')) }"


def check_refresh_pauses_while_hidden(
    page: Page, path: str, api: str, loaded: Callable[[Page], None]
) -> None:
    """Open `path`, wait for `loaded(page)`, and check the requests whose URL holds `api`: one a
    period while visible, none over three periods hidden, one as soon as the tab is shown."""
    page.clock.install()
    page.add_init_script(
        "Object.defineProperty(document, 'visibilityState', { get: () => window.__heronVis || 'visible' })"
    )
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if api in r.url else None)
    page.goto(path)
    loaded(page)
    with page.expect_request(f"**{api}*"):
        page.clock.run_for(10_500)  # visible: it refreshes
    page.evaluate(_SET_VISIBILITY, "hidden")
    before = len(asked)
    page.clock.run_for(35_000)  # three refresh periods, hidden
    # Requests are reported in order: once this one is seen, any the timers made would be too.
    with page.expect_request("**/-/healthy"):
        page.evaluate("() => fetch('/-/healthy')")
    assert len(asked) == before, f"a hidden tab asked for {api}"
    with page.expect_request(f"**{api}*"):
        page.evaluate(_SET_VISIBILITY, "visible")
