"""`allowed_events` reads the machine's conds directly: it must answer exactly what
python-statemachine's own `enabled_events` answers, events and order alike."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from engine.domain.policy.loader import load_policy_file
from engine.domain.policy.machine import Command, MilestoneMachine
from engine.domain.policy.vocabulary import Facts

ROOT = Path(__file__).resolve().parent.parent
POLICIES = [
    load_policy_file(path)
    for path in sorted(
        [*(ROOT / "policies").glob("*.yaml"), *(ROOT / "tests/policies").glob("*.yaml")]
    )
]
ROLES = ["buyer", "provider", "staff", "system", "stranger"]
MAYBE_ROLE = st.sampled_from([None, "buyer", "provider"])


@st.composite
def situations(draw: st.DrawFn) -> tuple:
    policy = draw(st.sampled_from(POLICIES))
    names = [s.name for s in policy.states]
    row = SimpleNamespace(
        state=draw(st.sampled_from(names)), previous_state=draw(st.sampled_from([None, *names]))
    )

    amount = draw(st.integers(1, 50_000))
    facts = Facts(
        milestone_amount=amount,
        escrow=draw(st.sampled_from([0, amount, amount // 2])),
        actor_role=draw(st.sampled_from(ROLES)),
        revisions=draw(st.integers(0, 4)),
        revision_limit=policy.revision_limit,
        opener_role=draw(MAYBE_ROLE),
    )
    return policy, row, facts


@given(situations())
def test_allowed_events_are_the_machines_enabled_events(situation) -> None:
    policy, row, facts = situation
    machine = MilestoneMachine(policy, row.state, row.previous_state)
    machine.slot.state = row.state
    cmd = Command(facts, row.previous_state, listing=True)
    expected = [event.id for event in machine.sm.enabled_events(cmd=cmd)]
    assert machine.allowed_events(facts) == expected


def test_the_policies_compared_are_the_bundled_ones_and_more() -> None:
    names = {policy.name for policy in POLICIES}
    assert {"fixed-price", "express", "deposit-upfront"} <= names
    assert len(POLICIES) > 3
