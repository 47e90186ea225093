"""SQL statements per transition over HTTP: a regression in round trips shows here.

The counts are exact on purpose. If a change adds a statement to the hot path this
fails; if it removes one, lower the number (bench/transition_cost.py measures time).
"""

from __future__ import annotations

import pytest
from sqlalchemy import event

from api.helpers import BUYER, PROVIDER

# Per command: SQLite's BEGIN IMMEDIATE, the milestone+contract load, the ledger entry and
# its postings, timers, the milestone's row (which carries the money figures, so the
# view's summary needs no query), the event, the idempotency record. On PostgreSQL the
# load also draws the ledger entry's id, and every write after it leaves in one statement
# at the commit (engine.store.batch). The view's next deadline costs no query after a
# command: it knows the timers the command scheduled. The event's feed row and the
# contract's hash-chain head cost no statement: triggers on the event's INSERT write them
# (see web.api.feed). A payment to the provider adds one upsert of their balance
# (engine.store.balances), sent at once: it answers with the provider's debt.
EXPECTED = {
    "sqlite": {"fund": 7, "submit": 6, "approve": 9},
    "postgres": {"fund": 2, "submit": 2, "approve": 3},
}


@pytest.fixture
def statements(app):
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    engine = app.extensions["tranche"].database.engine
    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


def test_statements_per_transition(client, app, statements):
    backend = app.extensions["tranche"].database.engine.dialect.name
    milestone = client.milestone(client.contract()["id"])["id"]
    counted = {}
    for name, actor in (("fund", BUYER), ("submit", PROVIDER), ("approve", BUYER)):
        statements.clear()
        response = client.fire(milestone, name, actor, headers={"Idempotency-Key": f"k-{name}"})
        assert response.status_code == 200, response.json
        counted[name] = len(statements)
    assert counted == EXPECTED["postgres" if backend == "postgresql" else "sqlite"], statements


# Creating a contract: SQLite's BEGIN IMMEDIATE, the policy's newest version, the contract,
# its event. Adding a milestone: BEGIN IMMEDIATE, the contract (locked on PostgreSQL) with
# its policy's newest version, the milestones it has (what they claim of the agreed
# amount), then the milestone and its event (a trigger moves the contract's chain head).
# On PostgreSQL the writes leave in one statement (engine.store.batch).
SETUP = {"sqlite": {"contract": 4, "milestone": 5}, "postgres": {"contract": 2, "milestone": 3}}


def test_statements_to_create_a_contract_and_a_milestone(client, app, statements):
    backend = app.extensions["tranche"].database.engine.dialect.name
    client.milestone(client.contract()["id"])  # the first milestone of a process reads the policy
    statements.clear()
    contract = client.contract()
    created = len(statements)
    statements.clear()
    client.milestone(contract["id"])
    counted = {"contract": created, "milestone": len(statements)}
    assert counted == SETUP["postgres" if backend == "postgresql" else "sqlite"], statements
    # The new contract's figures, given without a query, are what a read finds.
    assert client.get(f"/v1/contracts/{contract['id']}").json["summary"] == contract["summary"]


def test_statements_to_create_a_contract_with_its_milestones(client, app, statements):
    """A contract created with its milestones reads nothing back for them: it is new in the
    transaction, so it is locked by nature and what its milestones claim is known. Each
    milestone costs its INSERT and its event's (on PostgreSQL they join the batch: no
    statement), and every figure the answer gives is what a read finds (a column left out
    of the INSERT would cost a query, or show null)."""
    backend = app.extensions["tranche"].database.engine.dialect.name
    client.milestone(client.contract()["id"])  # the first milestone of a process reads the policy
    parts = [{"title": "Design", "amount": 30_000}, {"title": "Build", "amount": 70_000}]
    body = {
        "buyer_id": BUYER,
        "provider_id": PROVIDER,
        "currency": "USD",
        "agreed_amount": 100_000,
        "title": "Site redesign",
        "milestones": parts,
    }
    statements.clear()
    created = client.post("/v1/contracts", body, actor=BUYER)
    assert created.status_code == 201, created.json
    postgres = backend == "postgresql"
    expected = SETUP["postgres" if postgres else "sqlite"]["contract"] + (0 if postgres else 2 * 2)
    assert len(statements) == expected, statements
    for shown in created.json["milestones"]:
        assert shown == client.get(f"/v1/milestones/{shown['id']}", actor=BUYER).json


# A feed read: SQLite's BEGIN IMMEDIATE, the check for unnumbered rows, the page. Numbering
# adds PostgreSQL's advisory lock, the UPDATE that numbers, the deliveries owed (and their
# INSERT when there are some), and on SQLite a BEGIN IMMEDIATE for the page after its commit.
READS = {"sqlite": {"quiet": 3, "numbering": 6}, "postgres": {"quiet": 2, "numbering": 5}}


def test_statements_to_read_the_feed(client, app, statements):
    backend = app.extensions["tranche"].database.engine.dialect.name
    client.contract()
    assert len(client.get("/v1/events").json["data"]) == 1  # numbers the contract's event
    statements.clear()
    assert len(client.get("/v1/events").json["data"]) == 1
    quiet = len(statements)
    client.contract()
    statements.clear()
    assert len(client.get("/v1/events").json["data"]) == 2
    counted = {"quiet": quiet, "numbering": len(statements)}
    assert counted == READS["postgres" if backend == "postgresql" else "sqlite"], statements
