"""The seed's story from both sides, in Chromium, on a desktop and a phone.

The provider submits the first milestone (25% of the contract) and the buyer releases
it from the buyer's page: the provider's page, open all along, shows "Paid" without a
reload. Then the buyer requests a refund on the second milestone; the provider gets the
email from a real SMTP server, opens the page from its link, and disputes. Every party
page passes axe's WCAG 2.1 AA audit; screenshots go to artifacts/party-*.png, and the
update latency measured goes to artifacts/party-latency-<size>.txt.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from console_browser import ARTIFACTS, DESKTOP, PHONE, launch, needs_chromium, served, shoot
from smtp_server import smtp_server
from test_console_a11y import audit, no_sideways_scroll

from engine.domain.actors import Actor
from engine.service import parties
from web.party.mail import MailSettings, send_due

needs_chromium()
sync_api = pytest.importorskip("playwright.sync_api")
BUYER, PROVIDER = Actor("buyer-ada"), Actor("provider-lin")
LINK = re.compile(r"(/p/tp_[A-Za-z0-9_-]{43})")


@pytest.fixture
def server(sqlite_database, clock, tmp_path) -> Iterator[tuple[str, object]]:
    yield from served(sqlite_database, clock, tmp_path)


def story(app) -> dict[str, str]:
    """A 10,000.00 USD contract in four milestones; the first two funded."""
    tranche = app.extensions["tranche"]
    contract = tranche.create_contract(
        buyer_id=BUYER.id,
        provider_id=PROVIDER.id,
        currency="USD",
        agreed_amount=1_000_000,
        title="Website redesign",
    )
    ids = [
        tranche.add_milestone(contract.id, title=title, amount=250_000).id
        for title in ("Wireframes", "Design", "Build", "Launch")
    ]
    for milestone in ids[:2]:
        tranche.fire(milestone, "fund", BUYER)

    def link(role: str, **kw):
        return tranche.write(
            lambda uow: parties.mint_link(uow, contract.tenant, contract.id, role, **kw)
        )[1]

    return {
        "first": ids[0],
        "second": ids[1],
        "buyer": link("buyer", time_zone="America/New_York", locale="en_US"),
        "provider": link(
            "provider", time_zone="Europe/Berlin", locale="en_GB", email="lin@example.com"
        ),
    }


def confirm(page, scope: str, form_button: str, fill: dict[str, str] | None = None) -> None:
    """Fill and press an action's button within `scope` (a selector); await the
    confirmation step."""
    button = page.locator(f"button:text-is('{form_button}')")
    form = page.locator(scope).locator("form.party-action", has=button)
    for field, value in (fill or {}).items():
        form.locator(f"[name={field}]").fill(value)
    form.locator("button").click()
    page.wait_for_selector("#confirm")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_seed_story_from_both_sides(server, size):
    base, app = server
    ids = story(app)
    viewport = DESKTOP if size == "desktop" else PHONE
    violations: dict[str, list[str]] = {}
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        provider = browser.new_context(viewport=viewport).new_page()
        buyer = browser.new_context(viewport=viewport).new_page()

        def check(page, name: str) -> None:
            shoot(page, f"party-{name}-{size}")
            violations[name] = audit(page)
            assert no_sideways_scroll(page), f"{name} scrolls sideways at {size}"

        provider.goto(f"{base}/p/{ids['provider']}")
        check(provider, "provider-funded")
        first = f"[data-milestone='{ids['first']}']"
        second = f"[data-milestone='{ids['second']}']"
        confirm(provider, first, "Submit the work")
        provider.click("#confirm")
        provider.wait_for_selector("text=Done.")

        buyer.goto(f"{base}/p/{ids['buyer']}")
        check(buyer, "buyer-submitted")
        confirm(buyer, first, "Approve and release the rest")
        assert "$2,500.00 from escrow to the provider" in buyer.inner_text(".moves")
        check(buyer, "buyer-confirm")
        started = time.perf_counter()
        buyer.click("#confirm")
        provider.wait_for_selector("#paid:not([hidden])")
        latency = time.perf_counter() - started
        (ARTIFACTS / f"party-latency-{size}.txt").write_text(f"{latency:.3f}\n")
        print(f"\nparty page update latency ({size}): {latency * 1000:.0f} ms")
        assert "$2,500.00" in provider.inner_text("#paid")
        assert provider.inner_text(f"{first} .state") == "approved"
        check(provider, "provider-paid")

        buyer.wait_for_selector("text=Done.")
        confirm(buyer, second, "Request a refund", {"note": "We changed our plans."})
        assert "No money moves." in buyer.inner_text(".moves")
        buyer.click("#confirm")
        buyer.wait_for_selector("text=Done.")
        with smtp_server() as (port, box):
            sent = send_due(
                app.extensions["tranche"],
                MailSettings("127.0.0.1", port, base, "tranche@localhost"),
            )
        assert {o.status for o in sent} == {"delivered"}  # the approval's, the request's
        mail = next(m for m in box.messages if "request refund" in m["Subject"])
        body = mail.get_payload()
        provider.goto(base + LINK.search(body).group(1))
        proof = provider.inner_text(second)
        assert "provider notified" in proof
        assert "email accepted" in proof
        check(provider, "provider-refund-requested")
        confirm(provider, second, "Open a dispute", {"reason": "The design was delivered on time."})
        provider.click("#confirm")
        provider.wait_for_selector("text=Dispute (awaiting response)")
        check(provider, "provider-disputed")
        buyer.goto(f"{base}/p/{ids['buyer']}")
        buyer.wait_for_selector("text=Dispute (awaiting response)")
        check(buyer, "buyer-disputed")
        buyer.goto(f"{base}/p/tp_{'x' * 43}")
        check(buyer, "refused")
        browser.close()
    assert violations == {name: [] for name in violations}
