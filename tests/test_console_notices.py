"""The case page shows staff the notice record: who was told of what, and when the
notice reached their page, their mailbox and their eyes."""

from __future__ import annotations

from datetime import timedelta

from console_helpers import make_app, make_staff, sign_in

from conftest import BUYER, PROVIDER
from engine.store import notices


def test_the_case_page_shows_each_notice_and_its_stamps(database, clock, tmp_path):
    app = make_app(database, clock, tmp_path)
    tranche, arb = app.extensions["tranche"], app.extensions["arbitration"]
    make_staff(arb)
    contract = tranche.create_contract(
        buyer_id=BUYER.id, provider_id=PROVIDER.id, currency="USD", agreed_amount=50_000, title="T"
    )
    milestone = tranche.add_milestone(contract.id, title="Logo", amount=50_000)
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.fire(milestone.id, "request_refund", BUYER)
    clock.advance(timedelta(minutes=15))
    tranche.write(lambda uow: notices.mark_seen(uow.session, contract.id, "provider", clock.now()))
    dispute = arb.open(milestone.id, PROVIDER, "The logo was delivered.")
    client = sign_in(app.test_client(), "rita@example.com")
    page = client.get(f"/console/disputes/{dispute.id}").get_data(as_text=True)
    record = page[page.index('id="notice-record"') :]
    assert "<strong>provider</strong> told of request refund" in record
    assert "page 2026-11-24 09:00 UTC;" in record
    assert "email no address;" in record
    assert "seen 2026-11-24 09:15 UTC" in record
    assert "<strong>buyer</strong> told of dispute" in record
