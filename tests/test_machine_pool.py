"""The pooled machine instance survives a milestone reaching a final state (no rebuild)."""

from __future__ import annotations

import pytest

from conftest import BUYER, PROVIDER
from engine.domain.errors import ForbiddenEventError
from engine.domain.policy.machine import _pooled


def test_final_state_keeps_the_pooled_instance_and_its_strictness(tranche, contract, milestone):
    tranche.fire(milestone.id, "fund", BUYER)
    with tranche.unit_of_work() as uow:
        policy = uow.policy(milestone.policy_name, milestone.policy_version)
    machine, _ = _pooled(policy)
    tranche.fire(milestone.id, "approve", BUYER)
    assert tranche.milestone(milestone.id).state == "approved"
    assert _pooled(policy)[0] is machine  # revived after entering `approved`, not rebuilt
    assert not machine.is_terminated

    second = tranche.add_milestone(contract.id, title="Second", amount=10_000)
    tranche.fire(second.id, "fund", BUYER)
    assert _pooled(policy)[0] is machine  # the same instance served the next milestone
    assert tranche.milestone(second.id).state == "funded"

    # Still strict: a final milestone refuses every event, and so does a wrong actor.
    with pytest.raises(ForbiddenEventError):
        tranche.fire(milestone.id, "approve", BUYER)
    with pytest.raises(ForbiddenEventError):
        tranche.fire(second.id, "approve", PROVIDER)
    assert tranche.milestone(second.id).state == "funded"
