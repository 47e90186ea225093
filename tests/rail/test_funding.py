"""Funding through the rail: confirm first, or two-phase (pending, then settled exactly once)."""

from datetime import timedelta

import pytest

from conftest import BUYER, PROVIDER
from engine.domain.errors import (
    AlreadySettledError,
    DuplicateReferenceError,
    ForbiddenEventError,
    FundingMismatchError,
    FundingPendingError,
)
from engine.service.fundings import Charge
from rail.conftest import assert_books_match


def test_confirm_first_funds_with_the_rails_reference(tranche, milestone):
    funding = tranche.fund_confirmed(milestone.id, "fund", BUYER, Charge("pi_1", 25_000, "usd"))
    assert (funding.status, funding.rail_reference, funding.amount) == ("confirmed", "pi_1", 25_000)
    view = tranche.milestone(milestone.id)
    assert view.state == "funded"
    assert (view.summary.in_escrow, view.summary.pending_funding) == (25_000, 0)
    fund = tranche.history(milestone.id)[-1]
    assert fund.type == "fund"
    assert '"rail_reference": "pi_1"' in fund.data


@pytest.mark.parametrize("charge", [Charge("pi_1", 24_999, "USD"), Charge("pi_1", 25_000, "EUR")])
def test_a_charge_that_differs_from_the_milestone_is_refused(tranche, milestone, charge):
    with pytest.raises(FundingMismatchError):
        tranche.fund_confirmed(milestone.id, "fund", BUYER, charge)
    assert tranche.milestone(milestone.id).state == "proposed"
    assert tranche.milestone(milestone.id).summary.in_escrow == 0


def test_a_reference_funds_at_most_once(tranche, contract, milestone):
    other = tranche.add_milestone(contract.id, title="Second", amount=25_000)
    tranche.fund_confirmed(milestone.id, "fund", BUYER, Charge("pi_1", 25_000, "USD"))
    with pytest.raises(DuplicateReferenceError):
        tranche.fund_confirmed(other.id, "fund", BUYER, Charge("pi_1", 25_000, "USD"))
    pending = tranche.open_funding(other.id, "fund", BUYER)
    with pytest.raises(DuplicateReferenceError):
        tranche.confirm_funding(pending.id, Charge("pi_1", 25_000, "USD"))
    assert tranche.milestone(other.id).state == "proposed"


def test_an_event_that_holds_nothing_is_no_funding(tranche, milestone):
    tranche.fire(milestone.id, "fund", BUYER)
    with pytest.raises(ForbiddenEventError, match="no money in escrow"):
        tranche.fund_confirmed(milestone.id, "submit", PROVIDER, Charge("pi_2", 25_000, "USD"))


def test_two_phase_funding_is_pending_then_confirmed_once(tranche, milestone):
    funding = tranche.open_funding(milestone.id, "fund", BUYER)
    view = tranche.milestone(milestone.id, BUYER)
    assert (view.state, view.summary.pending_funding, view.summary.in_escrow) == (
        "proposed",
        25_000,
        0,
    )
    assert view.allowed_events == []  # the milestone waits for the rail
    with pytest.raises(FundingPendingError):
        tranche.fire(milestone.id, "cancel", BUYER)
    confirmed = tranche.confirm_funding(funding.id, Charge("pi_9", 25_000, "USD"))
    assert (confirmed.status, confirmed.rail_reference) == ("confirmed", "pi_9")
    view = tranche.milestone(milestone.id)
    assert (view.state, view.summary.pending_funding, view.summary.in_escrow) == (
        "funded",
        0,
        25_000,
    )
    with pytest.raises(AlreadySettledError):
        tranche.confirm_funding(funding.id, Charge("pi_9", 25_000, "USD"))
    with pytest.raises(AlreadySettledError):
        tranche.fail_funding(funding.id, "late failure")
    types = [e.type for e in tranche.history(milestone.id)]
    assert types[-3:] == ["funding_pending", "funding_confirmed", "fund"]
    assert_books_match(tranche)


def test_a_failed_or_expired_funding_leaves_the_milestone_as_it_was(tranche, clock, milestone):
    failed = tranche.open_funding(milestone.id, "fund", BUYER)
    tranche.fail_funding(failed.id, "card_declined")
    view = tranche.milestone(milestone.id, BUYER)
    assert (view.state, view.summary.pending_funding) == ("proposed", 0)
    assert "fund" in view.allowed_events
    late = tranche.open_funding(milestone.id, "fund", BUYER, expires_in=timedelta(hours=1))
    assert tranche.settle_rail() == ([], [])  # not yet due
    clock.advance(timedelta(hours=1))
    assert tranche.settle_rail() == ([late.id], [])
    assert tranche.milestone(milestone.id).summary.pending_funding == 0
    with pytest.raises(AlreadySettledError, match="expired"):
        tranche.confirm_funding(late.id, Charge("pi_late", 25_000, "USD"))
    assert [e.type for e in tranche.history(milestone.id)][-2:] == [
        "funding_pending",
        "funding_expired",
    ]
    assert_books_match(tranche)


def test_a_funding_the_policy_would_refuse_is_refused_when_opened(tranche, milestone):
    with pytest.raises(ForbiddenEventError):
        tranche.open_funding(milestone.id, "fund", PROVIDER)
