"""Staff rulings: sums, assignment, the two-person rule, and an append-only audit trail."""

import pytest
from arb_helpers import PASSWORD, funded
from sqlalchemy import text

from arbitration.errors import (
    DisputeClosedError,
    LoginRefusedError,
    LoginThrottledError,
    SelfApprovalError,
    StaffForbiddenError,
)
from conftest import BUYER, PROVIDER
from engine.domain.decision import PENDING_APPROVAL, RULED, UNDER_REVIEW
from engine.domain.errors import InvalidAmountError


def test_small_ruling_applies_at_once_and_parties_see_the_rationale(tranche, contract, arb, people):
    reviewer = people[0]
    mid = funded(tranche, contract, amount=10_000)
    dispute = arb.open(mid, BUYER, "Not delivered.")
    arb.statement(dispute.id, PROVIDER, "Heard.")  # staff rule once the respondent was heard
    with pytest.raises(StaffForbiddenError, match="claim"):
        arb.rule(dispute.id, reviewer, 0, 10_000, "Nothing was delivered.", "10.0.0.1")
    arb.claim(dispute.id, reviewer, "10.0.0.1")
    with pytest.raises(InvalidAmountError):
        arb.rule(dispute.id, reviewer, 1, 10_000, "off by one", "10.0.0.1")
    arb.rule(dispute.id, reviewer, 0, 10_000, "Nothing was delivered.", "10.0.0.1")
    assert tranche.milestone(mid).state == "refunded"
    view = arb.party_view(dispute.id, PROVIDER)
    assert view["status"] == RULED
    assert view["rulings"][0]["rationale"] == "Nothing was delivered."


def test_large_ruling_waits_for_a_second_senior_who_is_not_the_author(
    tranche, contract, arb, people
):
    reviewer, senior, other_senior = people
    mid = funded(tranche, contract, amount=50_000)
    dispute = arb.open(mid, PROVIDER, "Delivered, not paid.")
    arb.statement(dispute.id, BUYER, "Heard.")  # staff rule once the respondent was heard
    arb.claim(dispute.id, senior, "10.0.0.2")
    ruling = arb.rule(dispute.id, senior, 30_000, 20_000, "Mostly delivered.", "10.0.0.2")
    assert ruling.status == "pending"
    assert arb.party_view(dispute.id, BUYER)["status"] == PENDING_APPROVAL
    assert tranche.milestone(mid).state == "disputed"
    with pytest.raises(DisputeClosedError):
        arb.rule(dispute.id, senior, 50_000, 0, "again", "10.0.0.2")
    with pytest.raises(SelfApprovalError):
        arb.approve(ruling.id, senior, "10.0.0.2")
    with pytest.raises(StaffForbiddenError):
        arb.approve(ruling.id, reviewer, "10.0.0.1")
    arb.approve(ruling.id, other_senior, "10.0.0.3")
    summary = tranche.summary(contract.id)
    assert tranche.milestone(mid).state == "settled"
    assert (summary.paid_to_date, summary.refunded, summary.in_escrow) == (30_000, 20_000, 0)


def test_a_declined_ruling_returns_the_case_to_review(tranche, contract, arb, people):
    reviewer, senior, _ = people
    mid = funded(tranche, contract, amount=50_000)
    dispute = arb.open(mid, BUYER, "Wrong language.")
    arb.statement(dispute.id, PROVIDER, "Heard.")  # staff rule once the respondent was heard
    arb.claim(dispute.id, reviewer, "10.0.0.1")
    ruling = arb.rule(dispute.id, reviewer, 0, 50_000, "Refund all.", "10.0.0.1")
    arb.decline(ruling.id, senior, "Partly usable: consider a split.", "10.0.0.2")
    assert arb.party_view(dispute.id, BUYER)["status"] == UNDER_REVIEW
    arb.rule(dispute.id, reviewer, 10_000, 40_000, "Partly usable.", "10.0.0.1")
    assert arb.party_view(dispute.id, BUYER)["status"] == PENDING_APPROVAL


def test_reviewers_cannot_take_or_reassign_others_cases(tranche, contract, arb, people):
    reviewer, senior, _ = people
    mid = funded(tranche, contract)
    dispute = arb.open(mid, BUYER, "Late.")
    arb.claim(dispute.id, senior, "10.0.0.2")
    with pytest.raises(StaffForbiddenError):
        arb.claim(dispute.id, reviewer, "10.0.0.1")
    with pytest.raises(StaffForbiddenError):
        arb.assign(dispute.id, reviewer, reviewer.id, "10.0.0.1")
    arb.assign(dispute.id, senior, reviewer.id, "10.0.0.2")
    arb.claim(dispute.id, reviewer, "10.0.0.1")


def test_staff_notes_are_never_shown_to_parties(tranche, contract, arb, people):
    mid = funded(tranche, contract)
    dispute = arb.open(mid, BUYER, "Late.")
    arb.note(dispute.id, people[0], "Buyer has 3 similar disputes.", "10.0.0.1")
    arb.statement(dispute.id, PROVIDER, "Not late.")
    view = arb.party_view(dispute.id, BUYER)
    assert [s["body"] for s in view["statements"]] == ["Not late."]
    assert "similar" not in str(view)


def test_every_staff_action_is_audited_and_the_trail_is_append_only(
    tranche, contract, arb, people, database
):
    reviewer = people[0]
    mid = funded(tranche, contract, amount=10_000)
    dispute = arb.open(mid, BUYER, "Not delivered.")
    arb.statement(dispute.id, PROVIDER, "Heard.")  # staff rule once the respondent was heard
    arb.claim(dispute.id, reviewer, "10.0.0.1")
    arb.rule(dispute.id, reviewer, 0, 10_000, "Nothing was delivered.", "10.0.0.1")
    with database.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT staff_id, action, address FROM staff_audit WHERE dispute_id = :d"),
            {"d": dispute.id},
        ).all()
    assert [tuple(r) for r in rows] == [
        (reviewer.id, "claim", "10.0.0.1"),
        (reviewer.id, "rule", "10.0.0.1"),
    ]
    for statement in ("UPDATE staff_audit SET action = 'x'", "DELETE FROM staff_audit"):
        with pytest.raises(Exception, match="append-only"), database.engine.begin() as c:
            c.execute(text(statement))


def test_logins_are_throttled_after_repeated_failures(arb, people, clock):
    from datetime import timedelta

    with pytest.raises(LoginRefusedError):
        arb.login("nobody@example.com", PASSWORD, "10.0.0.9")
    for _ in range(5):
        with pytest.raises(LoginRefusedError):
            arb.login("rita@example.com", "wrong password!!", "10.0.0.9")
    with pytest.raises(LoginThrottledError):
        arb.login("rita@example.com", PASSWORD, "10.0.0.9")
    clock.advance(timedelta(minutes=16))
    assert arb.login("RITA@example.com", PASSWORD, "10.0.0.9").id == people[0].id
