"""Payouts and refunds: owed per party, available after the hold, paid or failed exactly once."""

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from conftest import BUYER, PROVIDER
from engine.domain.errors import (
    AlreadySettledError,
    DuplicateReferenceError,
    InsufficientBalanceError,
    NotFoundError,
    ValidationError,
)
from rail.conftest import assert_books_match, balance, released
from web.cli import main


def pay(tranche, contract, amount, reference, party=PROVIDER.id, currency="USD"):
    return tranche.record_payout(
        tenant=contract.tenant,
        contract_id=contract.id,
        party_id=party,
        amount=amount,
        currency=currency,
        reference=reference,
    )


def test_a_release_is_owed_to_the_provider_net_of_fees_and_paid_out_once(
    tranche, contract, milestone
):
    released(tranche, milestone.id, "pi_1")
    assert balance(tranche, PROVIDER.id) | {} == {
        "party_id": PROVIDER.id,
        "currency": "USD",
        "pending": 0,
        "available": 23_750,
        "in_flight": 0,
        "paid_out": 0,
        "owed": 23_750,
        "debt": 0,
        "due": 23_750,
    }
    assert [b.party_id for b in tranche.due_now("default")] == [PROVIDER.id]
    with pytest.raises(InsufficientBalanceError):
        pay(tranche, contract, 23_751, "tr_too_much")
    payout = pay(tranche, contract, 20_000, "tr_1")
    assert (payout.kind, payout.status) == ("payout", "in_flight")
    assert balance(tranche, PROVIDER.id)["available"] == 3_750
    assert balance(tranche, PROVIDER.id)["in_flight"] == 20_000
    with pytest.raises(DuplicateReferenceError):
        pay(tranche, contract, 1_000, "tr_1")
    tranche.settle_payout(payout.id, True)
    assert balance(tranche, PROVIDER.id)["paid_out"] == 20_000
    with pytest.raises(AlreadySettledError):
        tranche.settle_payout(payout.id, True)
    with pytest.raises(AlreadySettledError):
        tranche.settle_payout(payout.id, False, reason="too late")
    assert balance(tranche, PROVIDER.id)["owed"] == 23_750
    assert_books_match(tranche)


def test_a_failed_payout_is_available_again(tranche, contract, milestone):
    released(tranche, milestone.id, "pi_1")
    payout = pay(tranche, contract, 23_750, "tr_1")
    failed = tranche.settle_payout(payout.id, False, reason="account_closed")
    assert (failed.status, failed.failure_reason) == ("failed", "account_closed")
    assert balance(tranche, PROVIDER.id)["available"] == 23_750
    events = [e.type for e in tranche.events_of(contract.id)]
    assert events[-2:] == ["payout_recorded", "payout_failed"]


def test_a_refund_is_owed_to_the_buyer(tranche, contract, milestone):
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.fire(milestone.id, "request_refund", BUYER)
    tranche.fire(milestone.id, "accept_refund", PROVIDER)
    assert balance(tranche, BUYER.id)["available"] == 25_000
    refund = pay(tranche, contract, 25_000, "re_1", party=BUYER.id)
    assert refund.kind == "refund"
    tranche.settle_payout(refund.id, True)
    assert balance(tranche, BUYER.id)["paid_out"] == 25_000


def test_a_paid_payout_the_rail_reverses_is_owed_again(tranche, contract, milestone):
    released(tranche, milestone.id, "pi_1")
    payout = pay(tranche, contract, 23_750, "tr_1")
    tranche.settle_payout(payout.id, True)
    tranche.reverse_payout(payout.id, 5_000)
    assert balance(tranche, PROVIDER.id)["available"] == 5_000
    assert balance(tranche, PROVIDER.id)["paid_out"] == 18_750
    tranche.reverse_payout(payout.id, 23_750)  # the rail reports the total reversed
    assert balance(tranche, PROVIDER.id)["available"] == 23_750
    with pytest.raises(AlreadySettledError):
        tranche.reverse_payout(payout.id, 23_750)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"party_id": "stranger-1"}, NotFoundError),
        ({"currency": "EUR"}, ValidationError),
        ({"amount": 0}, ValidationError),
        ({"amount": -5}, ValidationError),
    ],
)
def test_a_payout_names_a_party_of_the_contract_in_its_currency(
    tranche, contract, milestone, fields, error
):
    released(tranche, milestone.id, "pi_1")
    values = {"amount": 100, "party": PROVIDER.id, "currency": "USD"} | {
        ("party" if k == "party_id" else k): v for k, v in fields.items()
    }
    with pytest.raises(error):
        pay(tranche, contract, values["amount"], "tr_x", values["party"], values["currency"])
    assert balance(tranche, PROVIDER.id)["in_flight"] == 0


def test_the_policys_hold_keeps_a_release_pending_until_it_runs_out(tranche, clock, held_contract):
    milestone = tranche.add_milestone(held_contract.id, title="Held", amount=10_000)
    released(tranche, milestone.id, "pi_h")
    assert (balance(tranche, PROVIDER.id)["pending"], balance(tranche, PROVIDER.id)["due"]) == (
        9_500,
        0,
    )
    with pytest.raises(InsufficientBalanceError):
        pay(tranche, held_contract, 1, "tr_early")
    clock.advance(timedelta(days=5) - timedelta(seconds=1))
    assert tranche.settle_rail()[1] == []
    clock.advance(timedelta(seconds=1))
    assert len(tranche.settle_rail()[1]) == 1
    assert tranche.settle_rail()[1] == []  # once
    assert (balance(tranche, PROVIDER.id)["pending"], balance(tranche, PROVIDER.id)["due"]) == (
        0,
        9_500,
    )
    assert tranche.events_of(held_contract.id)[-1].type == "payable_available"
    pay(tranche, held_contract, 9_500, "tr_h")


def test_the_audit_finds_a_balance_edited_behind_the_ledgers_back(tranche, contract, milestone):
    released(tranche, milestone.id, "pi_1")
    payout = pay(tranche, contract, 1_000, "tr_1")
    assert_books_match(tranche)
    with tranche.database.engine.begin() as connection:
        connection.execute(text("UPDATE party_balances SET available = available + 500"))
        connection.execute(text(f"UPDATE payouts SET status = 'paid' WHERE id = '{payout.id}'"))
    findings = tranche.rail_findings()
    assert any("available is 23250 on its balance, 22750 by its postings" in f for f in findings)
    assert any("paid_out is 0 on the ledger, 1000 by the payout records" in f for f in findings)


def invoke(url: str, *args: str):
    return CliRunner().invoke(main, ["--database-url", url, *args], catch_exceptions=False)


def test_tranche_audit_verify_names_a_forged_balance(tranche, contract, milestone):
    released(tranche, milestone.id, "pi_1")
    url = tranche.database.url
    assert invoke(url, "audit", "verify").exit_code == 0
    with tranche.database.engine.begin() as connection:
        connection.execute(text("UPDATE party_balances SET paid_out = 7"))
    result = invoke(url, "audit", "verify")
    assert result.exit_code == 1
    assert f"MISMATCH: party {PROVIDER.id} of tenant default in USD: paid_out is 7" in result.output
