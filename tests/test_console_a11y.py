"""WCAG 2.1 AA on every console page, at desktop and phone sizes, by axe-core in Chromium.

axe-core comes inside the `axe-playwright-python` wheel (no download at test time).
Also: on a phone every column of the queue and of the approvals is on screen (rows
become cards), and no page scrolls sideways. Screenshots go to artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from console_browser import DESKTOP, PHONE, launch, needs_chromium, seed, served, shoot, sign_in

needs_chromium()
sync_api = pytest.importorskip("playwright.sync_api")
axe_playwright = pytest.importorskip("axe_playwright_python.sync_playwright")
WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


@pytest.fixture
def server(sqlite_database, clock, tmp_path) -> Iterator[tuple[str, object]]:
    yield from served(sqlite_database, clock, tmp_path)


def audit(page) -> list[str]:
    """The violations on the page, one line each (rule, impact, first element)."""
    found = axe_playwright.Axe().run(page, options=WCAG_21_AA).response["violations"]
    return [f"{v['id']} ({v['impact']}): {v['nodes'][0]['target']}" for v in found]


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_console_page_passes_wcag_21_aa(server, clock, size):
    base, app = server
    ids = seed(app, clock)
    viewport = DESKTOP if size == "desktop" else PHONE
    found: dict[str, list[str]] = {}
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_context(viewport=viewport).new_page()

        def check(name: str) -> None:
            shoot(page, f"a11y-{name}-{size}")
            found[name] = audit(page)
            assert no_sideways_scroll(page), f"{name} scrolls sideways at {size}"

        page.goto(f"{base}/console/login")
        check("login")
        sign_in(page, base, "sam@example.com")
        check("queue")
        page.goto(f"{base}/console/disputes/{ids['oldest']}")
        page.click("button:has-text('Claim this case')")
        page.fill("input[name=to_provider]", "100.00")
        page.fill("textarea[name=rationale]", "Some of it.")
        check("case-open")
        page.click("button[name=review]")
        check("case-confirm")
        page.click("#confirm-ruling")
        page.goto(f"{base}/console/disputes/{ids['Copywriting']}")
        check("case-decided")
        page.goto(f"{base}/console/approvals")
        check("approvals")
        page.goto(f"{base}/console/audit")
        check("audit")
        page.goto(f"{base}/console/search?q=redesign")
        check("search")
        browser.close()
    assert found == {name: [] for name in found}


def test_on_a_phone_every_column_is_on_screen(server, clock):
    base, app = server
    ids = seed(app, clock)
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_context(viewport=PHONE).new_page()
        sign_in(page, base, "rita@example.com")
        page.goto(f"{base}/console/disputes/{ids['oldest']}")
        page.click("button:has-text('Claim this case')")
        page.fill("input[name=to_provider]", "600.00")
        page.fill("textarea[name=rationale]", "All delivered.")
        page.click("button[name=review]")
        page.click("#confirm-ruling")  # above 500.00 USD: waits for approval
        page.goto(f"{base}/console/")
        shoot(page, "queue-phone")
        for url, name in (
            (f"{base}/console/", "queue"),
            (f"{base}/console/approvals", "approvals"),
        ):
            page.goto(url)
            cells = page.locator("tbody tr").first.locator("td")
            assert cells.count() >= 6
            for i in range(cells.count()):
                box = cells.nth(i).bounding_box()
                assert box is not None, f"{name}: column {i} is hidden"
                assert box["x"] >= 0, (name, i)
                assert box["x"] + box["width"] <= PHONE["width"], (name, i)
            assert no_sideways_scroll(page), name
        assert "600.00 USD" in page.inner_text("tbody tr")
        shoot(page, "approvals-phone")
        # The ruling form comes before the story on a phone.
        page.goto(f"{base}/console/disputes/{ids['Logo']}")
        page.click("button:has-text('Claim this case')")
        ruling = page.locator("#ruling").bounding_box()
        story = page.locator("h2:has-text('Timeline')").bounding_box()
        assert ruling["y"] < story["y"]
        shoot(page, "case-open-phone")
        browser.close()
