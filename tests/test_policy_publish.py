"""Invariant 10, whichever way a policy is published: no version is stored unproven.

The CLI, `engine.policy_store.publish` and the bundled policies published at
upgrade all go through the checker; an unsafe policy is refused with an
`UnsafePolicyError` that carries its violations and counterexamples.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import engine.store.policy_store as policy_store
from engine.domain.errors import UnsafePolicyError
from engine.domain.policy.loader import BUNDLED, load_policy_file
from engine.store.db import Database
from engine.store.models import PolicyVersion
from engine.store.policy_store import publish

LOOP = Path(__file__).parent / "policies" / "dispute-withdraw-loop.yaml"


def test_the_engine_api_refuses_an_unsafe_policy_with_its_counterexample(sqlite_database) -> None:
    policy = load_policy_file(LOOP)
    with sqlite_database.session() as session, session.begin():
        with pytest.raises(UnsafePolicyError) as caught:
            publish(session, policy)
    error = caught.value
    assert error.code == "policy_unsafe"
    assert {v["property"] for v in error.violations} == {"no_stranded_money"}
    assert error.details()["violations"] == error.violations
    story = [(s["actor"], s["event"]) for s in error.violations[0]["counterexample"]]
    assert story == [("buyer", "fund"), ("provider", "dispute")]
    assert [(s["actor"], s["event"]) for s in error.violations[0]["loop"]] == [
        ("provider", "withdraw"),
        ("provider", "dispute"),
    ]
    with sqlite_database.session() as session:
        assert session.get(PolicyVersion, (policy.name, policy.version)) is None


def test_upgrade_refuses_an_unsafe_bundled_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundled = [BUNDLED / "fixed-price.yaml", LOOP]
    monkeypatch.setattr(policy_store, "bundled_policy_files", lambda: bundled)
    database = Database(f"sqlite:///{tmp_path / 'upgrade.db'}")
    try:
        with pytest.raises(UnsafePolicyError) as caught:
            database.upgrade()
        assert caught.value.fields["name"] == "dispute-withdraw-loop"
        with database.session() as session:
            assert session.get(PolicyVersion, ("dispute-withdraw-loop", 1)) is None
    finally:
        database.dispose()


def test_the_bundled_policies_are_published_at_upgrade(sqlite_database) -> None:
    with sqlite_database.session() as session:
        for name in ("fixed-price", "express", "deposit-upfront"):
            assert session.get(PolicyVersion, (name, 2)) is not None


def test_a_version_stored_before_the_checker_grew_stays_as_it_is(sqlite_database) -> None:
    """Milestones live on it: publishing the same content again changes nothing."""
    policy = load_policy_file(LOOP)
    with sqlite_database.session() as session, session.begin():
        session.add(
            PolicyVersion(
                name=policy.name,
                version=policy.version,
                digest=policy.digest,
                document=policy.text,
                published_at=session.get(PolicyVersion, ("fixed-price", 2)).published_at,
            )
        )
    with sqlite_database.session() as session, session.begin():
        assert publish(session, policy) is False
