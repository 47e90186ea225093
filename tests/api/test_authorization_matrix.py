"""Tenant x actor x event x state over HTTP, the expectation computed from the policy document.

Refused commands must answer with the right problem type and change nothing; the
events a party may fire are exactly those the milestone lists as allowed_events.
Arguments over HTTP are only `amount` and `note`, so events that need a settlement
offer or a staff split (accept_offer, rule) are always refused here: the generic
route is no way around arbitration.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from api.helpers import BUYER, PROVIDER, STRANGER, Client
from engine.domain.policy.document import PREVIOUS, SAME
from engine.domain.policy.loader import load_policy_file
from engine.domain.policy.vocabulary import GUARDS, PARTIES, Facts
from engine.store.db import Database

ROOT = Path(__file__).resolve().parents[2]
POLICY = load_policy_file(ROOT / "policies" / "fixed-price.yaml")
AMOUNT = 25_000
PATHS = {
    "proposed": [],
    "funded": [("fund", BUYER)],
    "submitted": [("fund", BUYER), ("submit", PROVIDER)],
    "refund_requested": [("fund", BUYER), ("request_refund", BUYER)],
    "disputed": [("fund", BUYER), ("dispute", BUYER)],
    "escalated": [("fund", BUYER), ("dispute", BUYER), ("escalate", PROVIDER)],
    "approved": [("fund", BUYER), ("approve", BUYER)],
    "refunded": [("fund", BUYER), ("refund", PROVIDER)],
    "cancelled": [("cancel", BUYER)],
}
OPENER = {"disputed": "buyer", "escalated": "provider"}
BACK_TO = {"disputed": "funded"}
FINAL = {s.name for s in POLICY.states if s.final}
ACTORS = {"buyer": BUYER, "provider": PROVIDER, "stranger": STRANGER}


@pytest.fixture
def database(sqlite_database: Database) -> Database:
    """The matrix runs on SQLite; the races and the feed cover PostgreSQL."""
    return sqlite_database


def body_for(event: str) -> dict:
    return {"amount": 5_000} if event == "release" else {}


def expected(state: str, event: str, role: str) -> str | None:
    """The state the event leads to, or None if the policy refuses it."""
    facts = Facts(
        milestone_amount=AMOUNT,
        escrow=0 if state in FINAL or state == "proposed" else AMOUNT,
        actor_role=role,
        revision_limit=POLICY.revision_limit,
        opener_role=OPENER.get(state),
        amount=body_for(event).get("amount"),
    )
    for spec in POLICY.transitions:
        if spec.event != event or state not in spec.sources:
            continue
        opener = OPENER.get(state)
        named = role in spec.actors or (
            role in PARTIES
            and (
                ("opener" in spec.actors and role == opener)
                or ("other_party" in spec.actors and opener is not None and role != opener)
            )
        )
        if named and all(GUARDS[g].test(facts) for g in spec.guards):
            if spec.target == PREVIOUS:
                return BACK_TO[state]
            return state if spec.target == SAME else spec.target
    return None


def milestone_in(client: Client, state: str) -> str:
    contract = client.contract(amount=AMOUNT)
    milestone = client.milestone(contract["id"], amount=AMOUNT)["id"]
    for event, actor in PATHS[state]:
        assert client.fire(milestone, event, actor).status_code == 200
    return milestone


def test_paths_cover_every_state_a_party_can_reach() -> None:
    assert set(PATHS) == {s.name for s in POLICY.states} - {"settled"}


@pytest.mark.parametrize("state", PATHS)
def test_matrix(client: Client, other: Client, state: str) -> None:
    shared = milestone_in(client, state)
    before = client.get(f"/v1/milestones/{shared}").json
    for event in (*POLICY.events, "teleport"):
        outsider = other.fire(shared, event, BUYER, body=body_for(event))
        assert outsider.status_code == 404, (state, event)
        for role, actor in ACTORS.items():
            case = (state, event, role)
            target = None if event == "teleport" or role == "stranger" else expected(*case)
            if target is None:
                response = client.fire(shared, event, actor, body=body_for(event))
                want = 403 if role == "stranger" else 404 if event == "teleport" else 409
                assert response.status_code == want, (case, response.json)
                if want == 409:
                    allowed = response.json["allowed_events"]
                    listed = client.get(f"/v1/milestones/{shared}", actor=actor).json
                    assert allowed == listed["allowed_events"], case
                    assert event not in allowed or event in ("accept_offer", "release"), case
                continue
            fresh = milestone_in(client, state)
            listed = client.get(f"/v1/milestones/{fresh}", actor=actor).json["allowed_events"]
            assert event in listed, case
            response = client.fire(fresh, event, actor, body=body_for(event))
            assert response.status_code == 200, (case, response.json)
            assert response.json["state"] == target, case
    after = client.get(f"/v1/milestones/{shared}").json
    assert (after["state"], after["version"]) == (before["state"], before["version"])
