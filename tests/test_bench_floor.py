"""The load benchmark's floor (bench/bare_app.py) writes every row a transition writes.

bench/api_load.py compares Tranche with the cheapest code that writes a lifecycle's
rows; if the floor wrote fewer rows than it claims, the comparison would flatter it.
Its own PostgreSQL statement is hand-written SQL, so it runs on both backends here.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bench.bare_app import create_app


@pytest.fixture
def floor_client(database, monkeypatch):
    monkeypatch.setenv("BENCH_DATABASE_URL", database.url)
    app = create_app()  # the floor needs Tranche's tables only, not the bare endpoint's
    app.testing = True  # a database error reaches the test, not a 500 page
    return app.test_client()


def counts(database) -> dict[str, object]:
    queries = {
        "events": "SELECT count(*) FROM events",
        "feed": "SELECT count(*) FROM api_feed",
        "entries": "SELECT count(*) FROM ledger_entries",
        "postings": "SELECT count(*) FROM postings",
        "records": "SELECT count(*) FROM api_idempotency",
        "version": "SELECT version FROM milestones",
        "head": "SELECT event_seq FROM contracts",
        "head_hash_is_last": "SELECT count(*) FROM contracts c JOIN events e"
        " ON e.contract_id = c.id AND e.seq = c.event_seq AND e.hash = c.last_event_hash",
    }
    with database.engine.connect() as connection:
        return {name: connection.execute(text(sql)).scalar_one() for name, sql in queries.items()}


def test_a_floor_lifecycle_writes_a_lifecycles_rows(floor_client, database):
    created = floor_client.post("/floor/contracts", json={})
    assert created.status_code == 200, created.data
    milestone = created.json["milestone_id"]
    for step in range(3):
        done = floor_client.post(
            f"/floor/{milestone}", json={}, headers={"Idempotency-Key": f"floor-{step}"}
        )
        assert done.status_code == 200, done.data
        assert done.json["version"] == 2 + step
    assert counts(database) == {
        "events": 4,  # the contract's, then one per transition, hash-chained
        "feed": 4,  # the events' trigger wrote their feed rows
        "entries": 3,
        "postings": 6,
        "records": 3,
        "version": 4,
        "head": 4,  # the events' trigger moved the contract's chain head
        "head_hash_is_last": 1,
    }


def test_a_floor_transition_refuses_a_reused_idempotency_key(floor_client, database):
    """Its record is a real primary key, as Tranche's is: the unique check is paid too."""
    milestone = floor_client.post("/floor/contracts", json={}).json["milestone_id"]
    headers = {"Idempotency-Key": "same"}
    assert floor_client.post(f"/floor/{milestone}", json={}, headers=headers).status_code == 200
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        floor_client.post(f"/floor/{milestone}", json={}, headers=headers)
    assert counts(database)["version"] == 2  # the refused one changed nothing
