"""`allowed_events` reads the machine's conds directly: it must answer exactly what
python-statemachine's own `enabled_events` answers, events and order alike."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from engine.domain.errors import TrancheError
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
    cmd = Command(facts, row.previous_state, listing=True)
    expected = [event.id for event in machine.library().enabled_events(cmd=cmd)]
    assert machine.allowed_events(facts) == expected


def test_the_policies_compared_are_the_bundled_ones_and_more() -> None:
    names = {policy.name for policy in POLICIES}
    assert {"fixed-price", "express", "deposit-upfront"} <= names
    assert len(POLICIES) > 3


@st.composite
def sends(draw: st.DrawFn) -> tuple:
    """Mostly one of a policy's transitions, from one of its sources, by an actor it names,
    with arguments right and wrong for its checks; sometimes any event by anyone."""
    policy, row, facts = draw(situations())
    escrow = facts.escrow
    part = escrow // 2
    amount = draw(st.sampled_from([None, 0, 1, part, escrow, escrow + 1]))
    split = draw(
        st.sampled_from([(None, None), (escrow, 0), (0, escrow), (part, escrow - part), (1, 1)])
    )
    offer_by = draw(st.sampled_from([None, "buyer", "provider"]))
    facts = replace(
        facts, amount=amount, to_provider=split[0], to_buyer=split[1], offer_by=offer_by
    )
    if draw(st.integers(0, 4)):
        spec = draw(st.sampled_from(policy.transitions))
        row.state = draw(st.sampled_from(spec.sources))
        role = draw(st.sampled_from(spec.actors))
        role = {"opener": facts.opener_role, "other_party": "buyer"}.get(role, role) or "buyer"
        return policy, row, replace(facts, actor_role=role), spec.event
    return policy, row, facts, draw(st.sampled_from([*policy.events, "teleport"]))


def _outcome(how, event: str, facts: Facts) -> tuple:
    try:
        spec, target = how(event, facts)
    except TrancheError as exc:
        return type(exc), exc.message, exc.fields
    return spec.index, target


@given(sends())
def test_the_checkers_choice_is_the_librarys_send(send) -> None:
    """`choose` (the checker's, from the conditions) answers exactly what `apply` (the
    library's `send`) answers: the same transition and target, or the same refusal."""
    policy, row, facts, event = send
    machine = MilestoneMachine(policy, row.state, row.previous_state)
    assert _outcome(machine.choose, event, facts) == _outcome(machine.apply, event, facts)
