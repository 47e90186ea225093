"""SQL statements per transition over HTTP: a regression in round trips shows here.

The counts are exact on purpose. If a change adds a statement to the hot path this
fails; if it removes one, lower the number (bench/transition_cost.py measures time).
"""

from __future__ import annotations

import pytest
from sqlalchemy import event

from api.helpers import BUYER, PROVIDER

# Per command: the transaction's statements (SQLite's BEGIN IMMEDIATE, PostgreSQL's feed
# advisory lock), the idempotency record (one INSERT), milestone+contract load, ledger entry
# and its postings, timers, hash-chain head, event, milestone row (which carries the money
# figures, so the view's summary needs no query), the view's next deadline where the state
# has timers, the feed's position+subscriptions and entry.
EXPECTED = {
    "sqlite": {"fund": 10, "submit": 10, "approve": 11},
    "postgres": {"fund": 10, "submit": 10, "approve": 11},
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


SETUP = {"sqlite": {"contract": 6, "milestone": 11}, "postgres": {"contract": 6, "milestone": 11}}


def test_statements_to_create_a_contract_and_a_milestone(client, app, statements):
    backend = app.extensions["tranche"].database.engine.dialect.name
    client.contract()  # the first command of a process reads the policy once
    statements.clear()
    contract = client.contract()
    created = len(statements)
    statements.clear()
    client.milestone(contract["id"])
    counted = {"contract": created, "milestone": len(statements)}
    assert counted == SETUP["postgres" if backend == "postgresql" else "sqlite"], statements
    # The new contract's figures, given without a query, are what a read finds.
    assert client.get(f"/v1/contracts/{contract['id']}").json["summary"] == contract["summary"]
