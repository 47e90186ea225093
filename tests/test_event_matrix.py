"""Every event, by every kind of actor, in every state of the default policy.

The expectation is computed from the policy document itself (who each transition
names, which guards it has), not from the compiled machine, so a compiler bug or
a policy edit that the machine does not honour shows up here. A refused event
must change nothing and must tell the actor what they may do instead.
"""

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import BUYER, PROVIDER, START, STRANGER
from engine.domain.actors import Actor
from engine.domain.clock import FixedClock
from engine.domain.decision import EventArgs
from engine.domain.errors import ForbiddenEventError, NotAPartyError, UnknownEventError
from engine.domain.policy.document import PREVIOUS, SAME
from engine.domain.policy.loader import load_policy_file
from engine.domain.policy.vocabulary import GUARDS, PARTIES, Facts
from engine.service.tranche import Tranche
from engine.store.db import Database

POLICY = load_policy_file(Path(__file__).resolve().parent.parent / "policies" / "fixed-price.yaml")
STAFF = Actor.staff("staff-1")
ACTORS = {"buyer": BUYER, "provider": PROVIDER, "staff": STAFF, "system": Actor.system()}
AMOUNT = 25_000
SPLIT = {"to_provider": 15_000, "to_buyer": 10_000}
# The shortest way to each state; the dispute is opened by the buyer from `funded`.
PATHS = {
    "proposed": [],
    "funded": [("fund", BUYER, {})],
    "submitted": [("fund", BUYER, {}), ("submit", PROVIDER, {})],
    "refund_requested": [("fund", BUYER, {}), ("request_refund", BUYER, {})],
    "disputed": [("fund", BUYER, {}), ("dispute", BUYER, {})],
    "escalated": [("fund", BUYER, {}), ("dispute", BUYER, {}), ("escalate", PROVIDER, {})],
    "approved": [("fund", BUYER, {}), ("approve", BUYER, {})],
    "refunded": [("fund", BUYER, {}), ("refund", PROVIDER, {})],
    "settled": [("fund", BUYER, {}), ("dispute", BUYER, {}), ("rule", STAFF, SPLIT)],
    "cancelled": [("cancel", BUYER, {})],
}
LATER = START + timedelta(days=8)
"""Staff rule only once the respondent was heard: rulings (and the event under test) come
after the dispute's 7-day answer period."""
OPENER = {"disputed": "buyer", "escalated": "provider"}
PREVIOUS_STATE = {"disputed": "funded"}
ESCROW = {"proposed": 0, "cancelled": 0, "approved": 0, "refunded": 0, "settled": 0}


def args_for(event: str, role: str) -> dict:
    """Representative arguments: part of the escrow, a shared split, an offer by the other side."""
    if event == "release":
        return {"amount": 5_000}
    if event in ("rule", "accept_offer"):
        other = next((p for p in PARTIES if p != role), "buyer")
        return {**SPLIT, "offer_by": other}
    return {}


def may(spec, role: str, state: str) -> bool:
    if role in spec.actors:
        return True
    opener = OPENER.get(state)
    return role in PARTIES and (
        ("opener" in spec.actors and role == opener)
        or ("other_party" in spec.actors and opener is not None and role != opener)
    )


def expected_target(
    state: str, event: str, role: str, args: dict, listing: bool = False
) -> str | None:
    facts = Facts(
        milestone_amount=AMOUNT,
        escrow=ESCROW.get(state, AMOUNT),
        actor_role=role,
        revision_limit=POLICY.revision_limit,
        opener_role=OPENER.get(state),
        **args,
    )
    for spec in POLICY.transitions:
        if spec.event != event or state not in spec.sources or not may(spec, role, state):
            continue
        guards = [GUARDS[g] for g in spec.guards]
        if all(g.test(facts) for g in guards if not (listing and g.on_arguments)):
            if spec.target == PREVIOUS:
                return PREVIOUS_STATE[state]
            return state if spec.target == SAME else spec.target
    return None


def expected_allowed(state: str, role: str) -> list[str]:
    """What the actor may do, given suitable arguments: guards on arguments are not judged."""
    return [e for e in POLICY.events if expected_target(state, e, role, {}, True) is not None]


CASES = [
    (state, event, role)
    for state in PATHS
    for event in (*POLICY.events, "teleport")
    for role in (*ACTORS, "stranger")
]


def test_the_paths_cover_every_state_of_the_policy():
    assert set(PATHS) == {s.name for s in POLICY.states}


@pytest.fixture(scope="module")
def shared(sqlite_template, tmp_path_factory):
    """One database for the whole matrix: every case works on a contract of its own."""
    path = tmp_path_factory.mktemp("matrix") / "matrix.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    yield Tranche(database, FixedClock(START))
    database.dispose()


@pytest.mark.parametrize(("state", "event", "role"), CASES)
def test_event_by_actor_in_state(shared, state, event, role):
    tranche = shared
    contract = tranche.create_contract(
        buyer_id=BUYER.id,
        provider_id=PROVIDER.id,
        currency="USD",
        agreed_amount=AMOUNT,
        title="Matrix",
    )
    milestone = tranche.add_milestone(contract.id, title="Only", amount=AMOUNT)
    for step, actor, args in PATHS[state]:
        tranche.fire(
            milestone.id, step, actor, EventArgs(**args), now=LATER if step == "rule" else START
        )
    before = tranche.milestone(milestone.id)
    assert before.state == state
    events_before = len(tranche.events_of(contract.id))

    actor = ACTORS.get(role, STRANGER)
    args = args_for(event, role)
    target = None if event == "teleport" else expected_target(state, event, role, args)
    if role == "stranger":
        with pytest.raises(NotAPartyError):
            tranche.fire(milestone.id, event, actor, EventArgs(**args), now=LATER)
    elif target is None:
        error = UnknownEventError if event == "teleport" else ForbiddenEventError
        with pytest.raises(error) as refused:
            tranche.fire(milestone.id, event, actor, EventArgs(**args), now=LATER)
        assert refused.value.fields["state"] == state
        assert refused.value.fields["allowed_events"] == expected_allowed(state, role)
    else:
        recorded = tranche.fire(milestone.id, event, actor, EventArgs(**args), now=LATER)
        assert (recorded.from_state, recorded.to_state) == (state, target)
        assert tranche.milestone(milestone.id).state == target
        return
    after = tranche.milestone(milestone.id)
    assert (after.state, after.version, after.summary) == (state, before.version, before.summary)
    assert len(tranche.events_of(contract.id)) == events_before
