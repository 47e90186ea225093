"""Invariant 8: a milestone stays on the policy version it was created under."""

from __future__ import annotations

from datetime import timedelta

from conftest import BUYER, PROVIDER
from engine.domain.policy.checker import check_policy
from engine.domain.policy.loader import BUNDLED, load_policy_text
from engine.store.policy_store import publish

# Its own name: published versions outlive a test on PostgreSQL (that table is kept).
TEXT = (BUNDLED / "fixed-price.yaml").read_text().replace("name: fixed-price", "name: versioned")
V1 = load_policy_text(TEXT.replace("\nversion: 2\n", "\nversion: 1\n"), "versioned-v1.yaml")
V2 = load_policy_text(
    TEXT.replace("after: 14d", "after: 3d"),
    "versioned-v2.yaml",
)


def _publish(database, policy) -> None:
    assert check_policy(policy).ok
    with database.session() as session, session.begin():
        publish(session, policy)


def test_existing_milestones_keep_their_version_after_a_new_one_is_published(
    tranche, database, clock
) -> None:
    _publish(database, V1)
    contract = tranche.create_contract(
        buyer_id=BUYER.id,
        provider_id=PROVIDER.id,
        currency="USD",
        agreed_amount=100_000,
        title="Versioned work",
        policy="versioned",
    )
    older = tranche.add_milestone(contract.id, title="First part", amount=25_000)
    tranche.fire(older.id, "fund", BUYER)
    tranche.fire(older.id, "submit", PROVIDER)

    _publish(database, V2)
    newer = tranche.add_milestone(contract.id, title="Second part", amount=25_000)
    assert (newer.policy_name, newer.policy_version) == ("versioned", 2)
    assert tranche.milestone(older.id).policy_version == 1

    # The older milestone still runs under v1's 14-day review, not v2's 3 days.
    tranche.fire(newer.id, "fund", BUYER)
    tranche.fire(newer.id, "submit", PROVIDER)
    fired = tranche.sweep(now=clock.now() + timedelta(days=3))
    assert [(f.milestone_id, f.outcome) for f in fired] == [(newer.id, "approved")]
    assert tranche.milestone(older.id).state == "submitted"
    fired = tranche.sweep(now=clock.now() + timedelta(days=14))
    assert [(f.milestone_id, f.outcome) for f in fired] == [(older.id, "approved")]
    assert tranche.milestone(older.id).policy_version == 1
