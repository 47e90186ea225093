"""Chargebacks after release: booked in the stated order, a debt repaid by later credits."""

import pytest

from conftest import BUYER, PROVIDER
from engine.domain.actors import Actor
from engine.domain.errors import (
    AlreadySettledError,
    DuplicateReferenceError,
    InvalidAmountError,
    NotFoundError,
)
from engine.service.fundings import Charge
from rail.conftest import assert_books_match, balance, publish_variant, released
from rail.test_payouts import pay


def charge_back(
    tranche, funding_reference, amount, reference="du_1", tenant="default", currency="usd"
):
    return tranche.report_chargeback(
        tenant=tenant,
        funding_reference=funding_reference,
        reference=reference,
        amount=amount,
        currency=currency,
        reason="fraudulent",
    )


def split(chargeback) -> dict:
    return chargeback.shares


def test_a_chargeback_after_payout_leaves_the_provider_in_debt_until_the_next_release(
    tranche, contract, milestone
):
    released(tranche, milestone.id, "pi_1")
    tranche.settle_payout(pay(tranche, contract, 23_750, "tr_1").id, True)
    chargeback = charge_back(tranche, "pi_1", 25_000)
    assert split(chargeback) == {
        "amount": 25_000,
        "from_escrow": 0,
        "from_available": 0,
        "from_pending": 0,
        "provider_debt": 23_750,  # what the provider was paid from this funding
        "platform_loss": 1_250,  # the fee the platform kept
        "from_provider": 23_750,
    }
    owed = balance(tranche, PROVIDER.id)
    assert (owed["available"], owed["debt"], owed["due"], owed["paid_out"]) == (
        -23_750,
        23_750,
        0,
        23_750,
    )
    summary = tranche.milestone(milestone.id).summary
    assert (summary.charged_back, summary.released) == (25_000, 25_000)
    second = tranche.add_milestone(contract.id, title="Second", amount=30_000)
    released(tranche, second.id, "pi_2")  # 28,500 to the provider, net of the 5% fee
    owed = balance(tranche, PROVIDER.id)
    assert (owed["available"], owed["debt"], owed["due"]) == (4_750, 0, 4_750)
    with pytest.raises(Exception, match="available"):
        pay(tranche, contract, 4_751, "tr_2")
    pay(tranche, contract, 4_750, "tr_2")
    assert_books_match(tranche)


def test_the_debt_is_repaid_from_a_release_on_another_contract(tranche, contract, milestone):
    released(tranche, milestone.id, "pi_1")
    tranche.settle_payout(pay(tranche, contract, 23_750, "tr_1").id, True)
    charge_back(tranche, "pi_1", 25_000)
    other = tranche.create_contract(
        buyer_id="buyer-2",
        provider_id=PROVIDER.id,
        currency="USD",
        agreed_amount=10_000,
        title="Other work",
    )
    later = tranche.add_milestone(other.id, title="Only", amount=10_000)
    amount = 10_000
    tranche.fund_confirmed(later.id, "fund", Actor("buyer-2"), Charge("pi_o", amount, "USD"))
    tranche.fire(later.id, "submit", PROVIDER)
    tranche.fire(later.id, "approve", Actor("buyer-2"))
    owed = balance(tranche, PROVIDER.id)
    assert (owed["available"], owed["debt"]) == (-23_750 + 9_500, 23_750 - 9_500)
    with pytest.raises(Exception, match="available"):
        pay(tranche, other, 1, "tr_o")  # all of it went to repay the debt
    assert_books_match(tranche)


def test_a_chargeback_before_payout_takes_the_unpaid_balance_first(tranche, contract, milestone):
    released(tranche, milestone.id, "pi_1")
    chargeback = charge_back(tranche, "pi_1", 10_000)
    assert (split(chargeback)["from_available"], split(chargeback)["provider_debt"]) == (10_000, 0)
    assert balance(tranche, PROVIDER.id)["available"] == 13_750


def test_a_chargeback_while_the_money_is_in_escrow_takes_it_back_from_escrow(tranche, milestone):
    tranche.fund_confirmed(milestone.id, "fund", BUYER, Charge("pi_1", 25_000, "USD"))
    chargeback = charge_back(tranche, "pi_1", 25_000)
    assert split(chargeback)["from_escrow"] == 25_000
    summary = tranche.milestone(milestone.id).summary
    assert (summary.in_escrow, summary.refunded, summary.charged_back) == (0, 25_000, 25_000)
    assert summary.funded == summary.released + summary.refunded + summary.in_escrow
    assert balance(tranche, PROVIDER.id) == {}


def test_a_won_chargeback_gives_back_what_it_took(tranche, contract, milestone):
    released(tranche, milestone.id, "pi_1")
    tranche.settle_payout(pay(tranche, contract, 23_750, "tr_1").id, True)
    chargeback = charge_back(tranche, "pi_1", 25_000)
    won = tranche.close_chargeback(chargeback.id, True)
    assert won.status == "won"
    owed = balance(tranche, PROVIDER.id)
    assert (owed["available"], owed["debt"], owed["paid_out"]) == (0, 0, 23_750)
    assert tranche.milestone(milestone.id).summary.charged_back == 0
    with pytest.raises(AlreadySettledError):
        tranche.close_chargeback(chargeback.id, False)
    types = [e.type for e in tranche.events_of(contract.id)]
    assert types[-2:] == ["chargeback_booked", "chargeback_won"]
    assert_books_match(tranche)


def test_a_lost_chargeback_keeps_the_booking(tranche, contract, milestone):
    released(tranche, milestone.id, "pi_1")
    chargeback = charge_back(tranche, "pi_1", 25_000)
    tranche.close_chargeback(chargeback.id, False)
    assert split(chargeback)["from_available"] == 23_750
    assert balance(tranche, PROVIDER.id)["available"] == 0
    assert tranche.milestone(milestone.id).summary.charged_back == 25_000


def test_a_policy_may_leave_the_providers_debt_out(tranche, database):
    name = publish_variant(database, "no-debt", "  chargeback_order: [provider_unpaid, platform]\n")
    contract = tranche.create_contract(
        buyer_id=BUYER.id,
        provider_id=PROVIDER.id,
        currency="USD",
        agreed_amount=25_000,
        title="No debt",
        policy=name,
    )
    milestone = tranche.add_milestone(contract.id, title="All", amount=25_000)
    released(tranche, milestone.id, "pi_1")
    tranche.settle_payout(pay(tranche, contract, 20_000, "tr_1").id, True)
    chargeback = charge_back(tranche, "pi_1", 25_000)
    assert (split(chargeback)["from_available"], split(chargeback)["provider_debt"]) == (3_750, 0)
    assert split(chargeback)["platform_loss"] == 21_250
    assert balance(tranche, PROVIDER.id)["debt"] == 0


def test_what_a_chargeback_may_not_be(tranche, milestone):
    released(tranche, milestone.id, "pi_1")
    with pytest.raises(NotFoundError):
        charge_back(tranche, "pi_unknown", 100)
    with pytest.raises(InvalidAmountError):
        charge_back(tranche, "pi_1", 25_001)
    charge_back(tranche, "pi_1", 20_000)
    with pytest.raises(DuplicateReferenceError):
        charge_back(tranche, "pi_1", 100)
    with pytest.raises(InvalidAmountError):  # 5,000 of the funding is left to take back
        charge_back(tranche, "pi_1", 5_001, reference="du_2")
    charge_back(tranche, "pi_1", 5_000, reference="du_2")
