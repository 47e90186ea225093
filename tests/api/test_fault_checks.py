"""The fault-injection harness's checks hold for every lifecycle it drives, and see money
that moved without an acknowledged answer (bench/fault_injection.py, without the faults)."""

from __future__ import annotations

import random

import pytest

from bench.fault_clients import Api, Client, Tally
from bench.fault_injection import check
from bench.fault_model import CONTRACT_STEPS, SCENARIOS
from engine.domain.actors import Actor

ONE_AT_A_TIME = [step for step in CONTRACT_STEPS if step != ("request", "pay twice")]
"""Contract-level steps without the race between two payers, whose outcome is not
this test's subject."""


@pytest.fixture
def driven(live):
    """A contract per lifecycle the harness knows, driven over HTTP, nothing killed."""
    api = Api(int(live.base.rsplit(":", 1)[1]), live.key, Tally())
    client = Client(0, api, random.Random(0))
    for index, lifecycle in enumerate(SCENARIOS.values()):
        client.contract(index, ([(10_000 + index * 100, list(lifecycle))], ONE_AT_A_TIME))
    assert api.tally.findings == []
    return api, client.contracts


def test_every_lifecycle_ends_as_the_model_acknowledged_it(driven, database):
    api, contracts = driven
    assert len(contracts) == len(SCENARIOS)
    assert {m.state for c in contracts for m in c.milestones} == {
        "approved",
        "refunded",
        "settled",
        "cancelled",
        "funded",  # charged back while in escrow: the rail took the money, not a party
    }
    assert check(api, contracts, database.url, replays=len(api.sent)) == []


def test_a_payment_nobody_acknowledged_is_found(driven, database, app):
    api, contracts = driven
    paid_behind = contracts[0]
    app.extensions["tranche"].pay_directly(
        paid_behind.id, actor=Actor(paid_behind.buyer), amount=100
    )
    found = check(api, contracts, database.url, replays=0)
    assert len(found) == 3, found
    assert found[0].startswith(f"contract {paid_behind.id}: {{")
    assert f"'direct_payments': {paid_behind.direct + 100}" in found[0]
    assert found[1].startswith(f"party {paid_behind.provider}: owed")  # 95 more than acknowledged
    assert found[2].startswith(f"contract {paid_behind.id}: events")


def test_a_payout_nobody_acknowledged_is_found(driven, database, app):
    api, contracts = driven
    refunded = next(c for c in contracts if c.owed()[c.buyer] > 0)
    tranche = app.extensions["tranche"]
    payout = tranche.record_payout(
        tenant=tranche.contract(refunded.id).tenant,
        contract_id=refunded.id,
        party_id=refunded.buyer,
        amount=1,
        currency="USD",
        reference="re_behind",
    )
    tranche.settle_payout(payout.id, True)
    found = check(api, contracts, database.url, replays=0)
    assert any(f.startswith(f"party {refunded.buyer}: owed") for f in found), found
