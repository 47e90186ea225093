"""The ledger: balanced entries, one escrow per milestone, append-only in the database itself."""

import json

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from conftest import BUYER, PROVIDER
from engine.domain.decision import EventArgs
from engine.domain.errors import InsufficientEscrowError, LedgerError
from engine.domain.ledger_legs import BUYER_FUNDING, ESCROW, Leg
from engine.domain.policy.vocabulary import REFUND, Movement
from engine.store.ledger import post, post_movement, reverse
from engine.store.models import LedgerEntry, Milestone, Posting


def test_an_unbalanced_entry_is_refused(tranche, contract, clock):
    with tranche.unit_of_work() as uow:
        with pytest.raises(LedgerError, match="balance"):
            post(
                uow.session,
                contract,
                "hold",
                [Leg(BUYER_FUNDING, -100), Leg(ESCROW, 99)],
                clock.now(),
            )


def test_each_milestone_has_its_own_escrow(tranche, contract, milestone):
    other = tranche.add_milestone(contract.id, title="Second", amount=30_000)
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.fire(other.id, "fund", BUYER)
    tranche.fire(other.id, "release", BUYER, EventArgs(amount=10_000))
    assert tranche.milestone(milestone.id).summary.in_escrow == 25_000
    assert tranche.milestone(other.id).summary.in_escrow == 20_000
    assert tranche.cached_mismatches() == []  # and so say the postings


def test_moving_more_than_the_escrow_is_refused(tranche, contract, milestone, clock):
    tranche.fire(milestone.id, "fund", BUYER)
    with tranche.unit_of_work() as uow:
        row = uow.session.get(Milestone, milestone.id)
        with pytest.raises(InsufficientEscrowError):
            post_movement(uow.session, contract, Movement(REFUND, 25_001), row, 0, clock.now())


def test_a_mistake_is_corrected_by_a_reversing_entry(tranche, contract, milestone, clock):
    event = tranche.fire(milestone.id, "fund", BUYER)
    (entry_id,) = json.loads(event.data)["ledger_entries"]
    with tranche.unit_of_work() as uow:
        correction = reverse(uow.session, entry_id, clock.now())
        uow.commit()
    assert tranche.cached_mismatches() == []  # the row's figures are the postings' sums
    with tranche.unit_of_work() as uow:
        assert uow.session.get(LedgerEntry, entry_id) is not None  # the original stays
        assert uow.session.get(LedgerEntry, correction).reverses_id == entry_id
    assert tranche.summary(contract.id).funded == 0
    assert tranche.milestone(milestone.id).summary.in_escrow == 0
    assert tranche.milestone(milestone.id).summary.funded == 0
    assert tranche.unbalanced_entries() == []
    assert tranche.cached_mismatches() == []


@pytest.mark.parametrize("table", ["postings", "ledger_entries", "events"])
@pytest.mark.parametrize("statement", ["UPDATE {t} SET id = id", "DELETE FROM {t}"])
def test_the_database_refuses_to_rewrite_history(tranche, milestone, table, statement):
    tranche.fire(milestone.id, "fund", BUYER)
    with tranche.database.engine.connect() as connection:
        with pytest.raises(DBAPIError, match="append-only"):
            connection.execute(text(statement.format(t=table)))
    with tranche.unit_of_work() as uow:
        assert uow.session.scalars(select(Posting)).first() is not None


def test_what_the_provider_is_owed_and_fees_sum_to_what_left_escrow(tranche, contract, milestone):
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.fire(milestone.id, "submit", PROVIDER)
    tranche.fire(milestone.id, "approve", BUYER)
    with tranche.unit_of_work() as uow:
        rows = dict(
            uow.session.execute(
                select(Posting.account, func.sum(Posting.amount)).group_by(Posting.account)
            ).all()
        )
        owed = uow.session.execute(
            select(Posting.party_id).where(Posting.account == "payable")
        ).scalar_one()
    assert owed == contract.provider_id
    assert rows == {
        "buyer_funding": -25_000,
        "escrow": 0,
        "payable": 23_750,
        "platform_fees": 1_250,
    }
    assert sum(rows.values()) == 0
