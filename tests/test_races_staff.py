"""Races among staff: claims, assignments, rulings and their approval, sent at the same instant.

Each command locks the case before it reads what it decides on, so exactly one of
several exclusive commands wins, every other gets a precise refusal, the audit trail
tells one consistent story, and money moves at most once.
"""

from __future__ import annotations

import json

import pytest
from arb_helpers import PASSWORD, arbitration_for, funded
from racing import WON, race

from arbitration import audit
from arbitration.disputes import load
from arbitration.errors import DisputeClosedError, StaffForbiddenError
from arbitration.staff import all_staff
from conftest import BUYER, PROVIDER
from engine.domain.decision import PENDING_APPROVAL, RULED, UNDER_REVIEW
from engine.domain.errors import ConflictError

ROUNDS = 3


@pytest.fixture
def arb(tranche, tmp_path):
    return arbitration_for(tranche, tmp_path, threshold=20_000)


@pytest.fixture
def reviewers(arb):
    return [arb.create_staff(f"r{i}@example.com", "reviewer", PASSWORD) for i in range(4)]


@pytest.fixture
def seniors(arb):
    return [arb.create_staff(f"s{i}@example.com", "senior", PASSWORD) for i in range(4)]


def _trail(arb, dispute_id: str, actions: set[str]) -> list[tuple[str, dict]]:
    rows = arb.read(lambda u: audit.trail(u.session, dispute_id))
    return [(r.action, json.loads(r.detail)) for r in reversed(rows) if r.action in actions]


def _dispute(arb, dispute_id: str):
    return arb.read(lambda u: load(u, dispute_id))


def _claim(arb, dispute_id: str, who):
    return lambda: arb.claim(dispute_id, who, "10.0.0.1")


def _assign(arb, dispute_id: str, senior, assignee):
    return lambda: arb.assign(dispute_id, senior, assignee.id, "10.0.0.2")


def _decide(arb, ruling_id: str, verb: str, senior):
    if verb == "approve":
        return lambda: arb.approve(ruling_id, senior, "10.0.0.3")
    return lambda: arb.decline(ruling_id, senior, "Look again.", "10.0.0.3")


def test_reviewers_claiming_one_case_at_once_one_gets_it(tranche, contract, arb, reviewers):
    for _ in range(ROUNDS):
        dispute = arb.open(funded(tranche, contract, amount=1_000), BUYER, "Not delivered.")
        results = race([_claim(arb, dispute.id, r) for r in reviewers])
        assert sorted(results) == [StaffForbiddenError.code] * 3 + [WON], results
        winner = reviewers[results.index(WON)]
        assert _dispute(arb, dispute.id).assignee_id == winner.id
        claims = _trail(arb, dispute.id, {"claim"})
        assert claims == [("claim", {"before": None, "after": winner.id})]


def test_claims_and_assignments_at_once_leave_one_consistent_story(
    tranche, contract, arb, reviewers, seniors
):
    for _ in range(ROUNDS):
        dispute = arb.open(funded(tranche, contract, amount=1_000), BUYER, "Late.")
        commands = [_claim(arb, dispute.id, r) for r in reviewers[:3]]
        commands += [
            _assign(arb, dispute.id, s, r)
            for s, r in zip(seniors[:3], reversed(reviewers), strict=False)
        ]
        results = race(commands)
        assert set(results) <= {WON, StaffForbiddenError.code}, results
        story = _trail(arb, dispute.id, {"claim", "assign"})
        assert len(story) == results.count(WON)
        holder = None
        for _, change in story:  # each change starts from where the previous one left it
            assert change["before"] == holder
            holder = change["after"]
        assert _dispute(arb, dispute.id).assignee_id == holder


def test_one_ruling_sent_twice_at_once_is_made_once(tranche, contract, arb, reviewers):
    reviewer = reviewers[0]
    mid = funded(tranche, contract, amount=10_000)
    dispute = arb.open(mid, BUYER, "Not delivered.")
    arb.statement(dispute.id, PROVIDER, "Heard.")  # staff rule once the respondent was heard
    arb.claim(dispute.id, reviewer, "10.0.0.1")
    results = race(
        [lambda: arb.rule(dispute.id, reviewer, 0, 10_000, "Nothing came.", "10.0.0.1")] * 4
    )
    assert sorted(results) == [DisputeClosedError.code] * 3 + [WON], results
    summary = tranche.summary(contract.id)
    assert (summary.refunded, summary.in_escrow, summary.paid_to_date) == (10_000, 0, 0)
    assert [e.type for e in tranche.history(mid)].count("rule") == 1
    assert tranche.unbalanced_entries() == []


def test_a_pending_ruling_is_approved_or_declined_once(tranche, contract, arb, seniors):
    author, *others = seniors
    for _ in range(ROUNDS):
        mid = funded(tranche, contract, amount=30_000)
        dispute = arb.open(mid, BUYER, "Half missing.")
        arb.statement(dispute.id, PROVIDER, "Heard.")  # staff rule once the respondent was heard
        arb.claim(dispute.id, author, "10.0.0.2")
        ruling = arb.rule(dispute.id, author, 20_000, 10_000, "Half delivered.", "10.0.0.2")
        assert _dispute(arb, dispute.id).status == PENDING_APPROVAL
        decisions = [("approve", others[0]), ("decline", others[1]), ("approve", others[2])]
        decisions += [("decline", others[0])]
        results = race([_decide(arb, ruling.id, verb, s) for verb, s in decisions])
        assert sorted(results) == [DisputeClosedError.code] * 3 + [WON], results
        approved = decisions[results.index(WON)][0] == "approve"
        view = tranche.milestone(mid)
        s = view.summary
        assert s.funded == s.released + s.refunded + s.in_escrow == 30_000
        if approved:
            assert (view.state, s.released, s.refunded) == ("settled", 20_000, 10_000)
            assert _dispute(arb, dispute.id).status == RULED
        else:
            assert (view.state, s.in_escrow) == ("disputed", 30_000)
            assert _dispute(arb, dispute.id).status == UNDER_REVIEW
        assert [e.type for e in tranche.history(mid)].count("rule") == int(approved)
        assert tranche.unbalanced_entries() == []
        assert tranche.verify() == []


def test_one_email_created_at_once_makes_one_account(arb):
    results = race(
        [lambda: arb.create_staff("new@example.com", "reviewer", PASSWORD) for _ in range(4)]
    )
    assert sorted(results) == [ConflictError.code] * 3 + [WON], results
    assert [s.email for s in arb.read(all_staff)] == ["new@example.com"]


def test_a_command_is_judged_on_the_staff_member_as_they_are_now(
    tranche, contract, arb, reviewers, seniors
):
    """The console read its staff member at the start of the request; a role change or a
    deactivation by the operator since then binds the command (the race's slow path)."""
    author, demoted = seniors[0], seniors[1]
    dispute = arb.open(funded(tranche, contract, amount=30_000), BUYER, "Half missing.")
    arb.statement(dispute.id, PROVIDER, "Heard.")  # staff rule once the respondent was heard
    arb.claim(dispute.id, author, "10.0.0.2")
    ruling = arb.rule(dispute.id, author, 20_000, 10_000, "Half delivered.", "10.0.0.2")
    arb.set_role(demoted.email, "reviewer")
    with pytest.raises(StaffForbiddenError, match="only seniors"):
        arb.approve(ruling.id, demoted, "10.0.0.3")  # `demoted` still says senior
    arb.deactivate(reviewers[0].email)
    other = arb.open(funded(tranche, contract, amount=1_000), BUYER, "Late.")
    with pytest.raises(StaffForbiddenError, match="deactivated"):
        arb.claim(other.id, reviewers[0], "10.0.0.1")
    assert _dispute(arb, dispute.id).status == PENDING_APPROVAL
    assert _dispute(arb, other.id).assignee_id is None
