"""Parties in a dispute: open, speak, offer, accept, reject, withdraw; silence has a price."""

from datetime import timedelta

import pytest
from arb_helpers import arbitration_for, funded

from arbitration import disputes, views
from arbitration.errors import DisputeClosedError, EvidenceRejectedError
from arbitration.evidence import Upload
from conftest import BUYER, PROVIDER, STRANGER
from engine.domain.decision import AWAITING_RESPONSE, DEFAULTED, SETTLED, UNDER_REVIEW, WITHDRAWN
from engine.domain.errors import (
    ForbiddenEventError,
    InvalidAmountError,
    NotAPartyError,
    NotFoundError,
)


@pytest.fixture
def arb(tranche, tmp_path):
    return arbitration_for(tranche, tmp_path)


def test_opening_moves_the_milestone_to_disputed_with_a_deadline(tranche, contract, arb, clock):
    mid = funded(tranche, contract)
    dispute = arb.open(mid, BUYER, "The delivery does not match the brief.")
    assert tranche.milestone(mid).state == "disputed"
    assert dispute.status == AWAITING_RESPONSE
    assert dispute.respond_by == clock.now() + timedelta(days=7)
    assert (dispute.claim_to_provider, dispute.claim_to_buyer) == (0, 25_000)


def test_a_claim_must_sum_to_the_escrow_and_nothing_changes_otherwise(tranche, contract, arb):
    mid = funded(tranche, contract)
    with pytest.raises(InvalidAmountError):
        arb.open(mid, BUYER, "half back", claim_to_provider=10_000, claim_to_buyer=10_000)
    assert tranche.milestone(mid).state == "submitted"


def test_a_stranger_cannot_open_or_speak(tranche, contract, arb):
    mid = funded(tranche, contract)
    with pytest.raises(NotAPartyError):
        arb.open(mid, STRANGER, "me too")
    dispute = arb.open(mid, PROVIDER, "The buyer will not pay.")
    with pytest.raises(NotAPartyError):
        arb.statement(dispute.id, STRANGER, "hello")


def test_any_act_of_the_other_party_is_a_response(tranche, contract, arb, clock):
    mid = funded(tranche, contract)
    dispute = arb.open(mid, BUYER, "Late and incomplete.")
    arb.statement(dispute.id, BUYER, "More detail from the opener.")
    assert arb.party_view(dispute.id, BUYER)["status"] == AWAITING_RESPONSE
    clock.advance(timedelta(days=1))
    arb.statement(dispute.id, PROVIDER, "It was delivered on time, see the log.")
    assert arb.party_view(dispute.id, PROVIDER)["status"] == UNDER_REVIEW
    clock.advance(timedelta(days=30))
    assert arb.sweep() == []
    assert tranche.milestone(mid).state == "disputed"


def test_silence_past_the_deadline_grants_the_openers_claim(tranche, contract, arb, clock):
    mid = funded(tranche, contract)
    dispute = arb.open(mid, PROVIDER, "Approved by email but not in the system.")
    clock.advance(timedelta(days=7) - timedelta(seconds=1))
    assert arb.sweep() == []
    clock.advance(timedelta(seconds=1))
    lapsed = arb.sweep()
    assert [(x.dispute_id, x.outcome) for x in lapsed] == [(dispute.id, DEFAULTED)]
    assert tranche.milestone(mid).state == "approved"
    assert tranche.summary(contract.id).paid_to_date == 25_000
    view = arb.party_view(dispute.id, BUYER)
    assert view["status"] == DEFAULTED
    assert "did not answer" in view["rulings"][0]["rationale"]


def test_an_accepted_offer_settles_the_milestone_with_its_amounts(tranche, contract, arb):
    mid = funded(tranche, contract)
    dispute = arb.open(mid, BUYER, "Only half was delivered.")
    offer = arb.offer(dispute.id, PROVIDER, 15_000, 10_000, "Fair for what was done.")
    with pytest.raises(NotAPartyError):
        arb.accept(dispute.id, offer.id, PROVIDER)  # not one's own offer
    arb.accept(dispute.id, offer.id, BUYER)
    summary = tranche.summary(contract.id)
    assert tranche.milestone(mid).state == "settled"
    assert (summary.paid_to_date, summary.refunded, summary.in_escrow) == (15_000, 10_000, 0)
    assert arb.party_view(dispute.id, BUYER)["status"] == SETTLED
    with pytest.raises(DisputeClosedError):
        arb.statement(dispute.id, BUYER, "too late")


def test_offers_must_sum_to_escrow_and_a_rejection_keeps_the_case_open(tranche, contract, arb):
    mid = funded(tranche, contract)
    dispute = arb.open(mid, BUYER, "Unusable.")
    with pytest.raises(InvalidAmountError):
        arb.offer(dispute.id, PROVIDER, 20_000, 4_999)
    offer = arb.offer(dispute.id, BUYER, 5_000, 20_000)
    arb.reject(dispute.id, offer.id, PROVIDER)
    view = arb.party_view(dispute.id, PROVIDER)
    assert [o["status"] for o in view["offers"]] == ["rejected"]
    assert view["status"] == UNDER_REVIEW
    assert tranche.milestone(mid).state == "disputed"


def test_the_opener_withdraws_and_the_milestone_returns_where_it_was(tranche, contract, arb):
    mid = funded(tranche, contract, submit=False)
    dispute = arb.open(mid, BUYER, "Provider silent for weeks.")
    with pytest.raises(ForbiddenEventError):
        arb.withdraw(dispute.id, PROVIDER)
    arb.withdraw(dispute.id, BUYER)
    assert tranche.milestone(mid).state == "funded"
    assert arb.party_view(dispute.id, BUYER)["status"] == WITHDRAWN


def test_evidence_text_and_files_are_checked_and_content_hashed(tranche, contract, arb, tmp_path):
    mid = funded(tranche, contract)
    dispute = arb.open(mid, BUYER, "See the screenshots.")
    png = b"\x89PNG\r\n\x1a\n" + b"x" * 100
    row = arb.evidence(dispute.id, BUYER, upload=Upload("../../etc/shot.png", "image/png", png))
    assert row.filename == "shot.png"
    assert arb.store.read(row.sha256) == png
    assert (tmp_path / "evidence" / row.sha256[:2] / row.sha256).is_file()
    with pytest.raises(EvidenceRejectedError, match="not image/png"):
        arb.evidence(dispute.id, BUYER, upload=Upload("a.png", "image/png", b"<script>"))
    with pytest.raises(EvidenceRejectedError, match="limit"):
        arb.evidence(dispute.id, BUYER, upload=Upload("big.txt", "text/plain", b"a" * 5000))
    with pytest.raises(EvidenceRejectedError, match="not accepted"):
        arb.evidence(dispute.id, BUYER, upload=Upload("x.html", "text/html", b"<p>"))
    text = arb.evidence(dispute.id, PROVIDER, text="Commit log attached.", description="log")
    assert [e["id"] for e in arb.party_view(dispute.id, BUYER)["evidence"]] == [row.id, text.id]


def test_another_tenant_cannot_see_or_touch_the_dispute(tranche, contract, arb):
    mid = funded(tranche, contract)
    dispute = arb.open(mid, BUYER, "Late.")
    with pytest.raises(NotFoundError):
        arb.read(lambda u: views.party_view(u, dispute.id, BUYER, tenant="someone-else"))
    with pytest.raises(NotFoundError):
        arb.write(
            lambda u: disputes.add_statement(
                u, dispute.id, BUYER, "hi", arb.settings, tenant="someone-else"
            )
        )
    own = arb.read(lambda u: views.party_view(u, dispute.id, BUYER, tenant=contract.tenant))
    assert own["id"] == dispute.id
