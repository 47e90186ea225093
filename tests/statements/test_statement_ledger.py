"""A statement read from the ledger, on SQLite and PostgreSQL: its closing balances are the
contract's summary, the rail's records and the party balances."""

from __future__ import annotations

import pytest
from rail.conftest import assert_books_match

from conftest import PROVIDER
from engine.domain.errors import NotFoundError
from statements.conftest import tell_story


def test_closing_balances_are_the_contract_summary(tranche, clock) -> None:
    story = tell_story(tranche, clock)
    assert_books_match(tranche)
    found = tranche.statement(story.contract_id)
    summary = tranche.summary(story.contract_id)
    assert found.closing.summary == summary
    # every movement shows up once, in the order it happened
    assert [row.entry_id for row in found.rows] == sorted(row.entry_id for row in found.rows)
    assert [row.at for row in found.rows] == sorted(row.at for row in found.rows)
    assert len(found.rows) == 14
    # the rail paid 200.00 to the provider and refunded 200.00 to the buyer
    assert found.closing.paid_out == 40_000
    # the chargeback after the payout left the provider owing what the balance says
    (provider,) = tranche.balances("default", PROVIDER.id)
    assert found.closing.debt == provider.debt == 5_750


def test_each_row_explains_its_movement(tranche, clock) -> None:
    story = tell_story(tranche, clock)
    rows = tranche.statement(story.contract_id).rows
    said = [(row.milestone, row.what) for row in rows]
    assert said[0] == (
        "Wireframes",
        "funding pi_1 opened: pending until the rail confirms the charge",
    )
    assert ("Wireframes", "the rail confirmed funding pi_1") in said
    assert (
        "Wireframes",
        "released to provider-1 (approve), less the platform fee of 20.00 USD",
    ) in said
    assert (None, "buyer-1 paid provider-1 directly: =a bonus") in said
    assert ("Visual design", "refunded to buyer-1 from escrow (refund)") in said
    assert (None, "refund re_1 to buyer-1 paid by the rail") in said
    assert (
        "Wireframes",
        "chargeback du_1 (fraudulent): the card network took the money back",
    ) in said
    by_what = {row.what: row.balances.values() for row in rows}
    released = by_what["released to provider-1 (release), less the platform fee of 5.00 USD"]
    assert (released["in_escrow"], released["paid_to_date"], released["fees"]) == (
        20_000,
        55_000,
        2_750,
    )


def test_after_every_step_the_last_row_is_the_contract_summary(tranche, clock) -> None:
    closings = []

    def check(contract_id: str) -> None:
        found = tranche.statement(contract_id)
        assert found.closing.summary == tranche.summary(contract_id)
        closings.append(len(found.rows))

    tell_story(tranche, clock, after=check)
    assert closings == [1, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]


def test_another_tenant_s_contract_is_not_found(tranche, clock) -> None:
    story = tell_story(tranche, clock, tenant="acme")
    assert tranche.statement(story.contract_id, "acme").rows
    with pytest.raises(NotFoundError):
        tranche.statement(story.contract_id, "globex")
