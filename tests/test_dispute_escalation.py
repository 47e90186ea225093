"""The bundled policies' version 2 on the real engine: a dispute can no longer be held open
by withdrawing and reopening it, because the respondent may escalate it to staff."""

from __future__ import annotations

import pytest
from arb_helpers import PASSWORD, arbitration_for, funded

from conftest import BUYER, PROVIDER
from engine.domain.errors import TrancheError


@pytest.fixture
def arb(tranche, tmp_path):
    return arbitration_for(tranche, tmp_path)


def test_the_respondent_escalates_and_the_opener_can_no_longer_withdraw(
    tranche, contract, arb
) -> None:
    reviewer = arb.create_staff("rita@example.com", "reviewer", PASSWORD)
    mid = funded(tranche, contract, amount=10_000)
    assert tranche.milestone(mid).policy_version == 2
    first = arb.open(mid, BUYER, "Not what we agreed.")
    arb.withdraw(first.id, BUYER)
    dispute = arb.open(mid, BUYER, "Not what we agreed, again.")

    with pytest.raises(TrancheError):
        tranche.fire(mid, "escalate", BUYER)  # the respondent escalates, not the opener
    tranche.fire(mid, "escalate", PROVIDER)
    assert tranche.milestone(mid).state == "escalated"
    with pytest.raises(TrancheError):
        arb.withdraw(dispute.id, BUYER)

    arb.claim(dispute.id, reviewer, "10.0.0.1")
    arb.rule(dispute.id, reviewer, 10_000, 0, "Delivered as agreed.", "10.0.0.1")
    assert tranche.milestone(mid).state == "approved"
    assert tranche.summary(contract.id).in_escrow == 0
