"""A real browser (Debian's chromium via Playwright) through the reviewer's day.

A reviewer signs in, finds the oldest case by its title, claims it, splits it 60/40
above the two-person threshold after reading the exact postings; a senior reviews the
same postings and approves. Also: a stale page never takes a case silently, the ruling
works without JavaScript, and the queue answers j/k and /. Screenshots go to
artifacts/ (git-ignored). SQLite only: the PostgreSQL paths are the same code and are
covered by test_console_ruling.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from console_browser import DESKTOP, PHONE, launch, needs_chromium, seed, served, shoot, sign_in

needs_chromium()
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def server(sqlite_database, clock, tmp_path) -> Iterator[tuple[str, object]]:
    yield from served(sqlite_database, clock, tmp_path)


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


def test_reviewer_rules_a_split_after_seeing_its_postings_and_a_senior_approves(
    server, clock, browser
):
    base, app = server
    ids = seed(app, clock)
    page = browser.new_page(viewport=DESKTOP)
    alerts: list[str] = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))

    sign_in(page, base, "rita@example.com")
    shoot(page, "queue-desktop")
    first = page.locator("tr.case-row").first
    assert "Website redesign" in first.inner_text()
    assert ids["oldest"] in first.inner_text()
    first.locator("a.case-link").click()
    page.wait_for_selector("text=Pages 2-5 return 404.")
    assert "<script>alert('pwned')</script>" in page.inner_text(".evidence-text")
    assert page.locator("a.file", has_text="delivery-log.txt").count() == 1
    assert page.locator("img.thumb").evaluate("img => img.naturalWidth") == 48

    page.click("button:has-text('Claim this case')")
    page.wait_for_selector("text=The case is yours.")
    # The ruling form is on screen without scrolling the story.
    box = page.locator("#ruling").bounding_box()
    assert box is not None
    assert box["y"] < DESKTOP["height"]
    page.fill("input[name=to_provider]", "360.00")
    assert page.input_value("input[name=to_buyer]") == "240.00"
    assert "Sums to the escrow of 600.00 USD" in page.inner_text(".sum-check")
    page.fill("input[name=to_buyer]", "250.00")
    assert "Over by 10.00 USD" in page.inner_text(".sum-check")
    assert page.is_disabled("button[name=review]")
    page.fill("input[name=to_buyer]", "240.00")
    page.fill(
        "textarea[name=rationale]",
        "The home page and two of four inner pages were delivered: 60% to the provider.",
    )
    shoot(page, "case-ruling-form-desktop")
    page.click("button[name=review]")
    summary = page.inner_text("#confirm-summary")
    assert summary.startswith(
        "360.00 USD to provider-1 (18.00 USD fee, nets 342.00 USD), 240.00 USD to buyer-1."
    )
    shoot(page, "case-confirm-desktop")
    page.click("#confirm-ruling")
    page.wait_for_selector("text=awaits a senior's approval")
    page.click("button:has-text('Sign out')")

    sign_in(page, base, "sam@example.com")
    page.click("nav >> text=Awaiting approval")
    shoot(page, "approvals-desktop")
    page.click(f"tr.case-row:has-text('{ids['oldest']}') a.case-link")
    page.click("button:has-text('Review approval')")
    assert page.inner_text("#confirm-summary").startswith(
        "360.00 USD to provider-1 (18.00 USD fee, nets 342.00 USD), 240.00 USD to buyer-1."
    )
    assert page.locator("#contract-summary [data-figure=in_escrow]").inner_text() == "800.00 USD"
    page.click("#confirm-approval")
    page.wait_for_selector("text=Ruling approved; the money has moved.")
    figures = {
        key: page.inner_text(f"#contract-summary [data-figure={key}]")
        for key in ("in_escrow", "paid_to_date", "refunded", "fees")
    }
    assert "Ruled:" in page.inner_text("#outcome-head")
    shoot(page, "case-decided-desktop")
    # The Logo milestone (200.00) is still held; Copywriting was ruled 120.00 / 80.00.
    assert figures == {
        "in_escrow": "200.00 USD",
        "paid_to_date": "480.00 USD",
        "refunded": "320.00 USD",
        "fees": "24.00 USD",
    }
    assert alerts == []


def test_a_stale_page_is_told_who_took_the_case(server, clock, browser):
    base, app = server
    ids = seed(app, clock)
    senior = browser.new_context(viewport=DESKTOP).new_page()
    sign_in(senior, base, "sam@example.com")
    senior.goto(f"{base}/console/disputes/{ids['Logo']}")  # loaded before rita claims
    reviewer = browser.new_context(viewport=DESKTOP).new_page()
    sign_in(reviewer, base, "rita@example.com")
    reviewer.goto(f"{base}/console/disputes/{ids['Logo']}")
    reviewer.click("button:has-text('Claim this case')")
    reviewer.wait_for_selector("text=The case is yours.")

    senior.click("button:has-text('Claim this case')")
    senior.wait_for_selector(".flash-error")
    assert "taken by rita@example.com at" in senior.inner_text(".flash-error")
    assert senior.inner_text(".assignee") == "rita@example.com"
    shoot(senior, "case-stale-claim-desktop")
    senior.click("#take-over")
    senior.wait_for_selector("text=You took over the case.")
    assert senior.inner_text(".assignee") == "sam@example.com"

    reviewer.fill("input[name=to_provider]", "100.00")
    reviewer.fill("textarea[name=rationale]", "Half of the logo variants were delivered.")
    reviewer.click("button[name=review]")
    error = reviewer.inner_text("#ruling-error")
    assert "taken by sam@example.com" in error
    # Nothing she typed is lost.
    assert reviewer.input_value("#draft-rationale") == ("Half of the logo variants were delivered.")


def test_a_ruling_needs_no_javascript(server, clock, browser):
    base, app = server
    ids = seed(app, clock)
    page = browser.new_context(viewport=PHONE, java_script_enabled=False).new_page()
    sign_in(page, base, "rita@example.com")
    page.goto(f"{base}/console/disputes/{ids['Logo']}")
    page.click("button:has-text('Claim this case')")
    page.wait_for_selector("text=The case is yours.")
    page.fill("textarea[name=rationale]", "The logo was delivered in full.")
    page.click("button[name=share][value='100']")
    assert page.inner_text("#confirm-summary").startswith(
        "200.00 USD to provider-1 (10.00 USD fee, nets 190.00 USD), 0.00 USD to buyer-1."
    )
    shoot(page, "case-confirm-nojs-phone")
    page.click("#confirm-ruling")
    page.wait_for_selector("text=Ruling recorded; the money has moved.")
    assert "200.00 USD to the provider" in page.inner_text("#outcome-head")


def test_the_queue_answers_j_k_and_slash_and_offers_a_skip_link(server, clock, browser):
    base, app = server
    seed(app, clock)
    page = browser.new_page(viewport=DESKTOP)
    sign_in(page, base, "rita@example.com")
    page.keyboard.press("j")
    page.keyboard.press("j")
    current = page.locator("tr.case-row.current")
    assert current.count() == 1
    assert "Logo" in current.inner_text()
    page.keyboard.press("k")
    assert "Only the home page" in page.locator("tr.case-row.current").inner_text()
    page.keyboard.press("Enter")
    page.wait_for_selector("h2:has-text('Timeline')")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "search"
    page.goto(f"{base}/console/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
