"""Races on contract-level money: a payment request is decided once, direct payments all count.

Eight buyers' clients pay (or pay and decline) one payment request at the same instant:
exactly one wins, every other gets a clear refusal, and the provider is paid once.
"""

from __future__ import annotations

import pytest
from racing import WON, race

from conftest import BUYER, PROVIDER
from engine.domain.errors import ForbiddenEventError
from engine.service.tranche import Tranche

CLIENTS = 8
ROUNDS = 3


def _request(tranche: Tranche, contract_id: str, amount: int) -> str:
    return tranche.request_payment(contract_id, actor=PROVIDER, amount=amount, note="upfront").id


def _books(tranche: Tranche, contract_id: str, direct: int) -> None:
    summary = tranche.summary(contract_id)
    assert (summary.direct_payments, summary.paid_to_date) == (direct, direct)
    assert summary.remaining == summary.agreed - direct
    assert tranche.unbalanced_entries() == []
    assert tranche.cached_mismatches() == []
    assert tranche.verify(contract_id) == []


@pytest.mark.parametrize("decline", [False, True], ids=["pay-only", "pay-or-decline"])
def test_one_payment_request_is_decided_once(database, clock, contract, decline):
    tranche = Tranche(database, clock)
    paid, decisions = 0, {"payment_made": 0, "payment_request_declined": 0}
    for _ in range(ROUNDS):
        request_id = _request(tranche, contract.id, 1_000)
        pays = [i % 2 == 0 or not decline for i in range(CLIENTS)]
        results = race(
            [
                lambda pay=pay, rid=request_id: Tranche(database, clock).decide_payment_request(
                    rid, actor=BUYER, pay=pay
                )
                for pay in pays
            ]
        )
        assert results.count(WON) == 1, results
        assert set(results) - {WON} == {ForbiddenEventError.code}, results
        won_by_paying = pays[results.index(WON)]
        paid += 1_000 if won_by_paying else 0
        decisions["payment_made" if won_by_paying else "payment_request_declined"] += 1
        types = [e.type for e in tranche.events_of(contract.id)]
        assert {t: types.count(t) for t in decisions} == decisions
        _books(tranche, contract.id, paid)


def test_direct_payments_at_the_same_instant_all_count_once(database, clock, contract):
    tranche = Tranche(database, clock)
    amounts = [100 * (i + 1) for i in range(CLIENTS)]
    results = race(
        [
            lambda amount=amount: Tranche(database, clock).pay_directly(
                contract.id, actor=BUYER, amount=amount
            )
            for amount in amounts
        ]
    )
    assert results == [WON] * CLIENTS
    made = [e.amount for e in tranche.events_of(contract.id) if e.type == "payment_made"]
    assert sorted(made) == amounts
    _books(tranche, contract.id, sum(amounts))
