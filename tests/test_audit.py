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
    """What an attacker with database access would do: drop the guard, then edit."""
    with tranche.database.engine.begin() as connection:
        if tranche.database.is_postgres:
            connection.execute(text("ALTER TABLE events DISABLE TRIGGER USER"))
            connection.execute(text(sql))
            connection.execute(text("ALTER TABLE events ENABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER events_no_update"))
            connection.execute(text("DROP TRIGGER events_no_delete"))
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
