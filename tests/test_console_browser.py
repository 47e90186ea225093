"""A real browser (Debian's chromium via Playwright) through the whole ruling story.

A reviewer signs in, opens the oldest dispute, reads the evidence, rules a 60/40
split above the two-person threshold; a senior approves it; the contract summary
shows the money where the ruling put it. Screenshots go to artifacts/ (git-ignored).
SQLite only: the PostgreSQL paths are the same code and are covered by test_console.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from arb_helpers import PASSWORD, funded
from werkzeug.serving import make_server

from arbitration.evidence import Upload
from conftest import BUYER, PROVIDER
from engine.service import Tranche
from web.app import create_app

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("TRANCHE_ARTIFACTS", Path(__file__).parent.parent / "artifacts"))

if not Path(CHROMIUM).exists() and os.environ.get("CI") != "true":
    pytest.skip(f"{CHROMIUM} is not installed (.ci/run installs it)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def server(sqlite_database, clock, tmp_path) -> Iterator[tuple[str, object]]:
    app = create_app(
        {
            "DATABASE_URL": sqlite_database.url,
            "AUTO_UPGRADE": False,
            "SECRET_KEY": "browser-test",
            "EVIDENCE_DIR": str(tmp_path / "evidence"),
            "TWO_PERSON_THRESHOLDS": "USD=500.00",
            "SESSION_COOKIE_SECURE": False,  # plain HTTP on 127.0.0.1
        },
        clock,
    )
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}", app
    finally:
        http.shutdown()
        thread.join(timeout=5)


def seed(app, clock) -> str:
    """Three disputes opened a day apart; the oldest is 600.00 USD with text and file evidence."""
    tranche: Tranche = app.extensions["tranche"]
    arb = app.extensions["arbitration"]
    arb.create_staff("rita@example.com", "reviewer", PASSWORD)
    arb.create_staff("sam@example.com", "senior", PASSWORD)
    contract = tranche.create_contract(
        buyer_id=BUYER.id,
        provider_id=PROVIDER.id,
        currency="USD",
        agreed_amount=200_000,
        title="Website redesign",
    )
    oldest = arb.open(
        funded(tranche, contract, amount=60_000),
        BUYER,
        "Only the home page was delivered; the other pages are missing.",
    )
    arb.evidence(
        oldest.id,
        BUYER,
        text="<script>alert('pwned')</script> Pages 2-5 return 404.",
        description="What the buyer saw",
    )
    arb.evidence(
        oldest.id,
        PROVIDER,
        upload=Upload("delivery-log.txt", "text/plain", b"2026-11-20 pushed all five pages\n"),
    )
    arb.statement(oldest.id, PROVIDER, "All pages were delivered to the staging server.")
    for title in ("Logo", "Copywriting"):
        clock.advance(timedelta(days=1))
        milestone = funded(tranche, contract, amount=20_000)
        arb.open(milestone, PROVIDER, f"{title}: delivered, buyer silent.")
    return oldest.id


def launch(playwright):
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    )


def sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/console/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Dispute queue')")


def test_reviewer_rules_a_split_and_a_senior_approves_it(server, clock):
    base, app = server
    oldest = seed(app, clock)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        alerts: list[str] = []
        page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))

        sign_in(page, base, "rita@example.com")
        page.screenshot(path=str(ARTIFACTS / "console-queue.png"), full_page=True)
        first = page.locator("a.case-link").first
        assert first.inner_text() == oldest  # nearest deadline first: the oldest case
        first.click()
        page.wait_for_selector("text=Pages 2-5 return 404.")
        assert "<script>alert('pwned')</script>" in page.inner_text(".evidence-text")
        assert page.locator("a.file", has_text="delivery-log.txt").count() == 1

        page.click("button:has-text('Claim this case')")
        page.wait_for_selector("text=The case is yours.")
        page.fill("input[name=to_provider]", "360.00")
        assert page.input_value("input[name=to_buyer]") == "240.00"
        assert "Sums to the escrow of 600.00 USD" in page.inner_text(".sum-check")
        page.fill("input[name=to_buyer]", "250.00")
        assert "Over by 10.00 USD" in page.inner_text(".sum-check")
        assert page.is_disabled(".ruling-form button[type=submit]")
        page.fill("input[name=to_buyer]", "240.00")
        page.fill(
            "textarea[name=rationale]",
            "The home page and two of four inner pages were delivered: 60% to the provider.",
        )
        page.screenshot(path=str(ARTIFACTS / "console-case-ruling.png"), full_page=True)
        page.click(".ruling-form button[type=submit]")
        page.wait_for_selector("text=awaits a senior's approval")
        page.click("button:has-text('Sign out')")

        sign_in(page, base, "sam@example.com")
        page.click("nav >> text=Awaiting approval")
        page.click(f"a.case-link:has-text('{oldest}')")
        page.click("button:has-text('Approve ruling')")
        page.wait_for_selector("text=Ruling approved; the money has moved.")
        figures = {
            key: page.inner_text(f"#contract-summary [data-figure={key}]")
            for key in ("in_escrow", "paid_to_date", "refunded")
        }
        page.screenshot(path=str(ARTIFACTS / "console-case-approved.png"), full_page=True)
        browser.close()
    # The other two milestones (200.00 each) are still held in escrow.
    assert figures == {
        "in_escrow": "400.00 USD",
        "paid_to_date": "360.00 USD",
        "refunded": "240.00 USD",
    }
    assert alerts == []
