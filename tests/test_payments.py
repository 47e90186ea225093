"""Contract-level money: direct payments at any time, and payment requests by the provider."""

import pytest

from conftest import BUYER, PROVIDER
from engine.domain.errors import ForbiddenEventError, InvalidAmountError, NotFoundError


def test_the_buyer_may_pay_any_amount_at_any_time(tranche, contract):
    tranche.pay_directly(contract.id, actor=BUYER, amount=1_234, note="bonus")
    summary = tranche.summary(contract.id)
    assert (summary.direct_payments, summary.paid_to_date, summary.funded) == (1_234, 1_234, 0)
    assert summary.fees == 61  # 5% of 12.34, rounded down
    assert summary.remaining == 100_000 - 1_234
    assert tranche.events_of(contract.id)[-1].type == "payment_made"


@pytest.mark.parametrize("amount", [0, -1, 0.5])
def test_a_direct_payment_must_be_positive_whole_units(tranche, contract, amount):
    with pytest.raises(InvalidAmountError):
        tranche.pay_directly(contract.id, actor=BUYER, amount=amount)


def test_only_the_buyer_pays_directly(tranche, contract):
    with pytest.raises(ForbiddenEventError, match="only the buyer"):
        tranche.pay_directly(contract.id, actor=PROVIDER, amount=100)
    assert tranche.summary(contract.id).paid_to_date == 0


def test_a_payment_request_is_paid_once(tranche, contract):
    request = tranche.request_payment(contract.id, actor=PROVIDER, amount=5_000, note="upfront")
    assert request.status == "requested"
    with pytest.raises(ForbiddenEventError):
        tranche.decide_payment_request(request.id, actor=PROVIDER, pay=True)
    paid = tranche.decide_payment_request(request.id, actor=BUYER, pay=True)
    assert paid.status == "paid"
    with pytest.raises(ForbiddenEventError, match="already paid"):
        tranche.decide_payment_request(request.id, actor=BUYER, pay=True)
    assert tranche.summary(contract.id).paid_to_date == 5_000


def test_a_declined_request_moves_no_money(tranche, contract):
    request = tranche.request_payment(contract.id, actor=PROVIDER, amount=5_000)
    assert tranche.decide_payment_request(request.id, actor=BUYER, pay=False).status == "declined"
    assert tranche.summary(contract.id).paid_to_date == 0
    types = [e.type for e in tranche.events_of(contract.id)]
    assert types[-2:] == ["payment_requested", "payment_request_declined"]


def test_only_the_provider_requests_and_unknown_requests_are_not_found(tranche, contract):
    with pytest.raises(ForbiddenEventError, match="only the provider"):
        tranche.request_payment(contract.id, actor=BUYER, amount=5_000)
    with pytest.raises(NotFoundError):
        tranche.decide_payment_request("pr_nope", actor=BUYER, pay=True)
