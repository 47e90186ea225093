"""A milestone's dispute case is opened and closed by its own commands, whoever sends them.

Stories from the "every rule in one place" report: a withdrawn dispute whose stale claim
a deadline later granted; one bad case that stopped every tenant's deadlines; staff
ruling before the respondent was heard.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from arb_helpers import PASSWORD, arbitration_for, funded
from sqlalchemy import select, update

from conftest import BUYER, PROVIDER
from engine.domain.actors import Actor
from engine.domain.decision import AWAITING_RESPONSE, UNDER_REVIEW, WITHDRAWN, EventArgs
from engine.domain.errors import CaseNotLiveError, RespondentNotHeardError
from engine.service.uow import UnitOfWork
from engine.store.models import Dispute, Milestone


def _cases(database, milestone_id: str) -> list[Dispute]:
    with UnitOfWork(database) as uow:
        rows = uow.session.scalars(
            select(Dispute).where(Dispute.milestone_id == milestone_id).order_by(Dispute.created_at)
        ).all()
        uow.session.expunge_all()
        return list(rows)


def _live(database, milestone_id: str) -> str | None:
    with UnitOfWork(database) as uow:
        return uow.session.get(Milestone, milestone_id).dispute_id


def test_the_facade_opens_and_withdraws_the_case_with_the_milestone(tranche, contract):
    milestone_id = funded(tranche, contract)
    event = tranche.fire(milestone_id, "dispute", BUYER, EventArgs(note="late"))
    (case,) = _cases(tranche.database, milestone_id)
    assert event.to_state == "disputed"
    assert (case.status, case.opener_role, case.reason) == (AWAITING_RESPONSE, "buyer", "late")
    assert (case.claim_to_provider, case.claim_to_buyer) == (0, 25_000)
    assert _live(tranche.database, milestone_id) == case.id
    tranche.fire(milestone_id, "withdraw", BUYER)
    (case,) = _cases(tranche.database, milestone_id)
    assert case.status == WITHDRAWN
    assert case.closed_at is not None
    assert _live(tranche.database, milestone_id) is None


def test_one_bad_case_never_stops_the_other_deadlines(tranche, contract, tmp_path, clock):
    arbitration = arbitration_for(tranche, tmp_path)
    bad = funded(tranche, contract)
    good = funded(tranche, contract)
    bad_case = arbitration.open(bad, BUYER, "broken")
    clock.advance(timedelta(minutes=1))
    good_case = arbitration.open(good, BUYER, "fine")
    with UnitOfWork(tranche.database) as uow:  # a claim that no longer fits the escrow
        uow.session.execute(
            update(Dispute).where(Dispute.id == bad_case.id).values(claim_to_buyer=1)
        )
        uow.commit()
    clock.advance(timedelta(days=8))
    for _ in range(2):  # and not on the next sweep either
        outcomes = {lapsed.dispute_id: lapsed.outcome for lapsed in arbitration.sweep()}
        assert outcomes[bad_case.id].startswith("failed: ")
        assert tranche.milestone(bad).state == "disputed"
    assert tranche.milestone(good).state == "refunded"
    assert good_case.id in {c.id for c in _cases(tranche.database, good)}


def test_staff_rule_only_after_the_respondent_was_heard(tranche, contract, tmp_path, clock):
    arbitration = arbitration_for(tranche, tmp_path)
    milestone_id = funded(tranche, contract)
    case = arbitration.open(milestone_id, BUYER, "missing pages")
    arbitration.create_staff("rev@example.com", "reviewer", PASSWORD)
    staff = arbitration.login("rev@example.com", PASSWORD, "127.0.0.1")
    arbitration.claim(case.id, staff, "127.0.0.1")
    with pytest.raises(RespondentNotHeardError) as refused:
        arbitration.rule(case.id, staff, 0, 25_000, "the buyer is right", "127.0.0.1")
    assert refused.value.fields["opens_at"] == (clock.now() + timedelta(days=7)).isoformat()
    assert tranche.milestone(milestone_id).state == "disputed"
    with pytest.raises(RespondentNotHeardError):  # nor through the engine directly
        tranche.fire(
            milestone_id,
            "rule",
            Actor.staff(staff.id),
            EventArgs(to_provider=0, to_buyer=25_000, case_id=case.id),
        )
    arbitration.statement(case.id, PROVIDER, "the pages are in the appendix")
    arbitration.rule(case.id, staff, 25_000, 0, "they are", "127.0.0.1")
    assert tranche.milestone(milestone_id).state == "approved"


def test_a_closed_case_can_never_be_ruled(tranche, contract, tmp_path, clock):
    arbitration = arbitration_for(tranche, tmp_path)
    milestone_id = funded(tranche, contract)
    old = arbitration.open(milestone_id, BUYER, "first")
    arbitration.withdraw(old.id, BUYER)
    arbitration.open(milestone_id, BUYER, "second")
    clock.advance(timedelta(days=8))
    with pytest.raises(CaseNotLiveError):
        tranche.fire(
            milestone_id,
            "rule",
            Actor.staff("staff-1"),
            EventArgs(to_provider=0, to_buyer=25_000, case_id=old.id),
        )
    assert tranche.milestone(milestone_id).state == "disputed"


def test_the_respondents_escalation_answers_the_case(tranche, contract, tmp_path, clock):
    """Escalating is the respondent's act in the case: silence can no longer decide it."""
    arbitration = arbitration_for(tranche, tmp_path)
    milestone_id = funded(tranche, contract)
    case = arbitration.open(milestone_id, BUYER, "Not what we agreed.")
    tranche.fire(milestone_id, "escalate", PROVIDER)
    (row,) = _cases(tranche.database, milestone_id)
    assert (row.status, row.responded_at) == (UNDER_REVIEW, clock.now())
    assert _live(tranche.database, milestone_id) == case.id  # still the live case
    clock.advance(timedelta(days=8))
    assert arbitration.sweep() == []
    assert tranche.milestone(milestone_id).state == "escalated"
