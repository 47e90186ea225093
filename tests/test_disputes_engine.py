"""Dispute states and money moves in the engine (arbitration builds its rules on these)."""

from datetime import timedelta

import pytest

from conftest import BUYER, PROVIDER
from engine.domain.actors import Actor
from engine.domain.decision import EventArgs
from engine.domain.errors import ForbiddenEventError


@pytest.fixture
def disputed(tranche, milestone):
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.fire(milestone.id, "submit", PROVIDER)
    tranche.fire(milestone.id, "dispute", BUYER)
    return milestone


def test_only_the_opener_withdraws_and_it_returns_where_it_was(tranche, disputed):
    assert "withdraw" not in tranche.milestone(disputed.id, PROVIDER).allowed_events
    with pytest.raises(ForbiddenEventError):
        tranche.fire(disputed.id, "withdraw", PROVIDER)
    event = tranche.fire(disputed.id, "withdraw", BUYER)
    assert (event.from_state, event.to_state) == ("disputed", "submitted")


def test_an_offer_is_accepted_only_from_the_other_party(tranche, contract, disputed):
    split = EventArgs(to_provider=25_000, to_buyer=0, offer_by="provider")
    with pytest.raises(ForbiddenEventError):
        tranche.fire(disputed.id, "accept_offer", PROVIDER, split)  # own offer
    event = tranche.fire(disputed.id, "accept_offer", BUYER, split)
    assert event.to_state == "approved"
    assert tranche.summary(contract.id).paid_to_date == 25_000


def test_a_ruling_all_to_the_buyer_refunds(tranche, contract, disputed):
    staff = Actor.staff("staff-9")
    tranche.clock.advance(timedelta(days=7))  # the provider's answer period ran out
    with pytest.raises(ForbiddenEventError):
        tranche.fire(disputed.id, "rule", BUYER, EventArgs(to_provider=0, to_buyer=25_000))
    event = tranche.fire(disputed.id, "rule", staff, EventArgs(to_provider=0, to_buyer=25_000))
    assert event.to_state == "refunded"
    assert tranche.summary(contract.id).refunded == 25_000
