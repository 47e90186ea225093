"""Races at the rail, with real concurrent clients (on PostgreSQL they run at once):
one funding confirmed once, one balance paid out once, a payout against a chargeback."""

from __future__ import annotations

from racing import WON, race
from sqlalchemy import select

from conftest import BUYER
from engine.domain.errors import AlreadySettledError, InsufficientBalanceError
from engine.service.fundings import Charge
from engine.service.tranche import Tranche
from engine.store.models import Chargeback
from rail.conftest import assert_books_match, balance, released

CLIENTS = 6


def test_a_funding_confirmed_by_many_at_once_is_confirmed_once(database, clock, milestone):
    tranche = Tranche(database, clock)
    funding = tranche.open_funding(milestone.id, "fund", BUYER)
    charge = Charge("pi_race", 25_000, "USD")
    results = race(
        [lambda: Tranche(database, clock).confirm_funding(funding.id, charge)] * (CLIENTS - 1)
        + [lambda: Tranche(database, clock).fail_funding(funding.id, "declined")]
    )
    assert results.count(WON) == 1, results
    assert set(results) - {WON} <= {AlreadySettledError.code, "conflict"}, results
    view = tranche.milestone(milestone.id)
    confirmed = view.state == "funded"
    assert view.summary.in_escrow == (25_000 if confirmed else 0)
    assert view.summary.funded == (25_000 if confirmed else 0)
    assert view.summary.pending_funding == 0
    fund_events = [e for e in tranche.history(milestone.id) if e.type == "fund"]
    assert len(fund_events) == (1 if confirmed else 0)
    assert_books_match(tranche)


def test_one_balance_is_paid_out_once(database, clock, contract, milestone):
    tranche = Tranche(database, clock)
    released(tranche, milestone.id, "pi_1")

    def payout(i: int):
        return lambda: Tranche(database, clock).record_payout(
            tenant="default",
            contract_id=contract.id,
            party_id=contract.provider_id,
            amount=23_750,
            currency="USD",
            reference=f"tr_{i}",
        )

    results = race([payout(i) for i in range(CLIENTS)])
    assert results.count(WON) == 1, results
    assert set(results) - {WON} <= {InsufficientBalanceError.code, "conflict"}, results
    owed = balance(tranche, contract.provider_id)
    assert (owed["available"], owed["in_flight"]) == (0, 23_750)
    assert_books_match(tranche)


def test_a_payout_racing_a_chargeback_takes_the_money_once(database, clock, contract, milestone):
    tranche = Tranche(database, clock)
    released(tranche, milestone.id, "pi_1")
    results = race(
        [
            lambda: Tranche(database, clock).record_payout(
                tenant="default",
                contract_id=contract.id,
                party_id=contract.provider_id,
                amount=23_750,
                currency="USD",
                reference="tr_1",
            ),
            lambda: Tranche(database, clock).report_chargeback(
                tenant="default",
                funding_reference="pi_1",
                reference="du_1",
                amount=25_000,
                currency="USD",
            ),
        ]
    )
    assert results[1] == WON, results  # the rail's report is booked whatever else happens
    split = tranche.read(_only_chargeback).shares
    owed = balance(tranche, contract.provider_id)
    if results[0] == WON:  # the payout came first: the chargeback found nothing unpaid
        assert (split["from_available"], split["provider_debt"]) == (0, 23_750)
        assert (owed["in_flight"], owed["available"], owed["debt"]) == (23_750, -23_750, 23_750)
    else:  # the chargeback came first and took the unpaid balance: nothing left to pay out
        assert results[0] == InsufficientBalanceError.code, results
        assert (split["from_available"], split["provider_debt"]) == (23_750, 0)
        assert (owed["in_flight"], owed["available"], owed["debt"]) == (0, 0, 0)
    assert_books_match(tranche)


def _only_chargeback(uow):
    (found,) = uow.session.scalars(select(Chargeback)).all()
    return found
