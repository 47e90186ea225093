"""The event hash chain: tampering with any row is found and named."""

import pytest
from sqlalchemy import text

from conftest import BUYER, PROVIDER


@pytest.fixture
def history(tranche, contract, milestone):
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.fire(milestone.id, "submit", PROVIDER)
    tranche.fire(milestone.id, "approve", BUYER)
    return tranche.events_of(contract.id)


def forge(tranche, sql: str) -> None:
    """What an attacker with database access would do: drop the guard, then edit (and
    remove what refers to an event they delete: its notices)."""
    with tranche.database.engine.begin() as connection:
        if sql.startswith("DELETE FROM events WHERE "):
            where = sql.removeprefix("DELETE FROM events WHERE ")
            connection.execute(
                text(f"DELETE FROM notices WHERE event_id IN (SELECT id FROM events WHERE {where})")
            )
        if tranche.database.is_postgres:
            connection.execute(text("ALTER TABLE events DISABLE TRIGGER USER"))
            connection.execute(text(sql))
            connection.execute(text("ALTER TABLE events ENABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER IF EXISTS events_no_update"))
            connection.execute(text("DROP TRIGGER IF EXISTS events_no_delete"))
            connection.execute(text(sql))


def test_an_untouched_chain_verifies(tranche, history):
    assert [e.seq for e in history] == [1, 2, 3, 4, 5]
    assert history[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in zip(history, history[1:], strict=False))
    assert tranche.verify() == []


def test_an_altered_amount_is_named(tranche, history):
    approve = history[-1]
    forge(tranche, f"UPDATE events SET amount = 1 WHERE id = {approve.id}")
    (found,) = tranche.verify()
    assert (found.event_id, found.reason) == (approve.id, "was altered after it was written")


def test_a_deleted_event_is_named(tranche, history):
    forge(tranche, f"DELETE FROM events WHERE id = {history[2].id}")
    (found,) = tranche.verify()
    assert found.event_id == history[3].id
    assert "missing" in found.reason


def test_the_contract_head_follows_every_event_whoever_writes_it(tranche, contract, history):
    """A trigger on `events` moves the head (migration 0009): the engine's own commands
    send no UPDATE for it, and a row written by plain SQL moves it too."""
    head = tranche.contract(contract.id)
    assert (head.event_seq, head.last_event_hash) == (5, history[-1].hash)
    with tranche.database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO events (contract_id, milestone_id, seq, type, actor_id, actor_role,"
                " amount, currency, from_state, to_state, policy_name, policy_version, data,"
                " created_at, prev_hash, hash) SELECT contract_id, milestone_id, 6, 'note',"
                " actor_id, actor_role, NULL, currency, NULL, NULL, policy_name, policy_version,"
                " '{}', created_at, hash, :hash FROM events WHERE id = :last"
            ),
            {"hash": "f" * 64, "last": history[-1].id},
        )
    head = tranche.contract(contract.id)
    assert (head.event_seq, head.last_event_hash) == (6, "f" * 64)
