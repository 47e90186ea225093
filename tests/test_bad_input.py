"""Bad input from outside: each is a precise error, and nothing is written."""

from datetime import timedelta

import pytest

from conftest import BUYER, PROVIDER, STRANGER
from engine.domain.actors import Actor
from engine.domain.decision import EventArgs
from engine.domain.errors import (
    ExceedsAgreedError,
    ForbiddenEventError,
    InsufficientEscrowError,
    InvalidAmountError,
    NotAPartyError,
    NotFoundError,
    UnknownCurrencyError,
    UnknownEventError,
    ValidationError,
)


def snapshot(tranche, contract):
    return (
        tranche.summary(contract.id),
        [(m.id, m.state, m.version) for m in tranche.milestones_of(contract.id)],
        len(tranche.events_of(contract.id)),
    )


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"currency": "XYZ"}, UnknownCurrencyError),
        ({"currency": "usd"}, UnknownCurrencyError),
        ({"agreed_amount": 0}, InvalidAmountError),
        ({"agreed_amount": -5}, InvalidAmountError),
        ({"agreed_amount": 10.5}, InvalidAmountError),
        ({"agreed_amount": "100"}, InvalidAmountError),
        ({"agreed_amount": 10**16}, InvalidAmountError),
        ({"provider_id": "buyer-1"}, ValidationError),
        ({"title": ""}, ValidationError),
        ({"title": "x" * 201}, ValidationError),
        ({"policy": "no-such-policy"}, NotFoundError),
    ],
)
def test_a_bad_contract_is_refused(tranche, fields, error):
    base = {
        "buyer_id": "buyer-1",
        "provider_id": "provider-1",
        "currency": "USD",
        "agreed_amount": 100_000,
        "title": "ok",
    }
    with pytest.raises(error):
        tranche.create_contract(**{**base, **fields})


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        (0, InvalidAmountError),
        (-1, InvalidAmountError),
        (1.5, InvalidAmountError),
        (100_001, ExceedsAgreedError),
    ],
)
def test_a_bad_milestone_is_refused_and_nothing_is_written(tranche, contract, amount, error):
    before = snapshot(tranche, contract)
    with pytest.raises(error):
        tranche.add_milestone(contract.id, title="too much", amount=amount)
    assert snapshot(tranche, contract) == before


def test_milestones_cannot_add_up_to_more_than_agreed(tranche, contract, milestone):
    tranche.add_milestone(contract.id, title="rest", amount=75_000)
    with pytest.raises(ExceedsAgreedError):
        tranche.add_milestone(contract.id, title="one more", amount=1)
    tranche.fire(milestone.id, "cancel", BUYER)  # an unfunded, cancelled one frees its share
    assert tranche.add_milestone(contract.id, title="one more", amount=25_000).position == 3


def test_a_refunded_milestone_keeps_its_share(tranche, contract, milestone):
    """Only an unfunded final milestone frees its share; one that was funded keeps it."""
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.fire(milestone.id, "refund", PROVIDER)
    tranche.add_milestone(contract.id, title="rest", amount=75_000)
    with pytest.raises(ExceedsAgreedError):
        tranche.add_milestone(contract.id, title="one more", amount=1)


def test_unknown_ids_are_not_found(tranche, contract):
    with pytest.raises(NotFoundError):
        tranche.fire("ms_nope", "fund", BUYER)
    with pytest.raises(NotFoundError):
        tranche.add_milestone("ct_nope", title="x", amount=1)
    with pytest.raises(NotFoundError):
        tranche.summary("ct_nope")
    with pytest.raises(NotFoundError):
        tranche.milestone("ms_nope")


def test_another_tenant_sees_nothing(tranche, contract, milestone):
    with pytest.raises(NotFoundError):
        tranche.summary(contract.id, tenant="other")
    with pytest.raises(NotFoundError):
        tranche.fire(milestone.id, "fund", BUYER, tenant="other")


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        (None, InvalidAmountError),
        (0, InvalidAmountError),
        (-100, InvalidAmountError),
        (2.5, InvalidAmountError),
        (25_000, InsufficientEscrowError),  # all of it: that is `approve`
        (25_001, InsufficientEscrowError),
    ],
)
def test_a_bad_partial_release_changes_nothing(tranche, contract, milestone, amount, error):
    tranche.fire(milestone.id, "fund", BUYER)
    before = snapshot(tranche, contract)
    with pytest.raises(error):
        tranche.fire(milestone.id, "release", BUYER, EventArgs(amount=amount))
    assert snapshot(tranche, contract) == before


def test_strangers_and_unknown_events_are_refused(tranche, contract, milestone):
    before = snapshot(tranche, contract)
    with pytest.raises(NotAPartyError):
        tranche.fire(milestone.id, "fund", STRANGER)
    with pytest.raises(UnknownEventError) as unknown:
        tranche.fire(milestone.id, "teleport", BUYER)
    assert unknown.value.fields["allowed_events"] == ["fund", "cancel"]
    with pytest.raises(ValidationError):
        Actor("")
    assert snapshot(tranche, contract) == before


def test_a_split_must_sum_to_the_escrow(tranche, contract, milestone):
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.fire(milestone.id, "dispute", PROVIDER)
    tranche.clock.advance(timedelta(days=7))  # the buyer's answer period ran out
    before = snapshot(tranche, contract)
    staff = Actor.staff("staff-1")
    with pytest.raises(InvalidAmountError, match="sum exactly"):
        tranche.fire(milestone.id, "rule", staff, EventArgs(to_provider=15_000, to_buyer=9_999))
    with pytest.raises(ForbiddenEventError):
        tranche.fire(milestone.id, "rule", staff, EventArgs(to_provider=-1, to_buyer=25_001))
    assert snapshot(tranche, contract) == before
    tranche.fire(milestone.id, "rule", staff, EventArgs(to_provider=15_000, to_buyer=10_000))
    summary = tranche.summary(contract.id)
    assert (summary.released, summary.refunded, summary.in_escrow) == (15_000, 10_000, 0)
    assert tranche.milestone(milestone.id).state == "settled"
