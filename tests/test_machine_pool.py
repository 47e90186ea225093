"""The pooled library instance (the reference `choose` is held to) survives a milestone
reaching a final state: no rebuild, and it stays strict."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.domain.errors import ForbiddenEventError
from engine.domain.policy.loader import load_policy_file
from engine.domain.policy.machine import MilestoneMachine
from engine.domain.policy.vocabulary import Facts

POLICY = load_policy_file(Path(__file__).resolve().parent.parent / "policies/fixed-price.yaml")


def facts(role: str) -> Facts:
    return Facts(milestone_amount=10_000, escrow=10_000, actor_role=role)


def test_final_state_keeps_the_pooled_instance_and_its_strictness() -> None:
    first = MilestoneMachine(POLICY, "funded")
    machine = first.library()
    spec, target = first.apply("approve", facts("buyer"))
    assert (spec.event, target) == ("approve", "approved")
    assert MilestoneMachine(POLICY, "approved").library() is machine  # not rebuilt
    assert not machine.is_terminated

    # The same instance serves the next milestone, from another state.
    second = MilestoneMachine(POLICY, "proposed")
    assert second.apply("fund", facts("buyer"))[1] == "funded"
    assert second.library() is machine

    # Still strict: a final milestone refuses every event, and so does a wrong actor.
    with pytest.raises(ForbiddenEventError):
        MilestoneMachine(POLICY, "approved").apply("approve", facts("buyer"))
    with pytest.raises(ForbiddenEventError):
        MilestoneMachine(POLICY, "funded").apply("approve", facts("provider"))
