"""A statement read from the ledger, on SQLite and PostgreSQL: after every step its last row
is the contract's summary, and it agrees with the rail's records and the party balances."""

from __future__ import annotations

import pytest
from rail.conftest import assert_books_match

from conftest import BUYER, PROVIDER
from engine.domain.errors import NotFoundError
from statements.conftest import tell_story


def test_the_statement_follows_the_ledger_step_by_step(tranche, clock) -> None:
    lengths = []

    def check(contract_id: str) -> None:
        found = tranche.statement(contract_id)
        assert found.closing.summary == tranche.summary(contract_id)
        lengths.append(len(found.rows))

    story = tell_story(tranche, clock, after=check)
    assert lengths == [1, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
    assert_books_match(tranche)
    found = tranche.statement(story.contract_id)
    # every movement once, in the order it happened
    assert [row.entry_id for row in found.rows] == sorted(row.entry_id for row in found.rows)
    assert [row.at for row in found.rows] == sorted(row.at for row in found.rows)
    # the rail paid 200.00 to the provider and refunded 200.00 to the buyer
    assert found.closing.paid_out == 40_000
    # the chargeback after the payout left the provider owing what their balance says
    (provider,) = tranche.balances("default", PROVIDER.id)
    assert found.closing.debt == provider.debt == 5_750

    said = [(row.milestone, row.what) for row in found.rows]
    assert said[0] == (
        "Wireframes",
        "funding pi_1 opened: pending until the rail confirms the charge",
    )
    for line in [
        ("Wireframes", "the rail confirmed funding pi_1"),
        (
            "Wireframes",
            "released to provider-1 (the buyer approved), less the platform fee of 20.00 USD",
        ),
        (None, "buyer-1 paid provider-1 directly: =a bonus"),
        ("Visual design", "refunded to buyer-1 from escrow (the provider refunded)"),
        (None, "payout tr_1 to provider-1 paid by the rail"),
        (None, "refund re_1 to buyer-1 paid by the rail"),
        ("Wireframes", "chargeback du_1 (fraudulent): the card network took the money back"),
    ]:
        assert line in said
    by_what = {row.what: row.balances.values() for row in found.rows}
    released = by_what[
        "released to provider-1 (the buyer released part), less the platform fee of 5.00 USD"
    ]
    assert (released["in_escrow"], released["paid_to_date"], released["fees"]) == (
        20_000,
        55_000,
        2_750,
    )


def test_another_tenant_s_contract_is_not_found(tranche) -> None:
    contract = tranche.create_contract(
        buyer_id=BUYER.id,
        provider_id=PROVIDER.id,
        currency="USD",
        agreed_amount=100,
        title="t",
        tenant="acme",
    )
    assert tranche.statement(contract.id, "acme").rows == ()
    with pytest.raises(NotFoundError):
        tranche.statement(contract.id, "globex")
