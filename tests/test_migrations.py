"""Migrations: they build exactly the schema the models describe, fill what they add, and
keep the feed's rules."""

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from arbitration.search import modelled
from conftest import BUYER, PROVIDER
from engine.domain.decision import EventArgs
from engine.store.db import Database
from engine.store.models import Base


def test_models_and_migrations_agree(database):
    with database.engine.connect() as connection:
        opts = {"compare_server_default": True, "include_name": modelled}
        context = MigrationContext.configure(connection, opts=opts)
        assert compare_metadata(context, Base.metadata) == []


def test_the_migration_fills_the_figures_of_existing_milestones(tranche, contract, milestone):
    other = tranche.add_milestone(contract.id, title="Second", amount=30_000)
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.fire(milestone.id, "release", BUYER, EventArgs(amount=10_000))
    tranche.fire(other.id, "fund", BUYER)
    tranche.fire(other.id, "refund", PROVIDER)
    tranche.pay_directly(contract.id, actor=BUYER, amount=2_000)
    expected = {m: tranche.milestone(m).summary for m in (milestone.id, other.id)}
    migrations = tranche.database.migrations()
    command.downgrade(migrations, "0005_escrow_cache")  # as before 0007 added columns
    try:
        with tranche.database.engine.connect() as connection:
            columns = connection.execute(text("SELECT * FROM milestones")).keys()
        assert "escrow" in columns
        assert "funded" not in columns
    finally:
        command.upgrade(migrations, "heads")
    assert {m: tranche.milestone(m).summary for m in expected} == expected
    assert tranche.cached_mismatches() == []


FEED_ROW = "INSERT INTO api_feed (event_id, position, tenant) VALUES (:e, :p, 't')"
OLD_FEED_ROW = (  # before 0020_feed_without_contract
    "INSERT INTO api_feed (event_id, position, tenant, contract_id) VALUES (:e, :p, 't', 'c')"
)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE api_feed SET position = 9 WHERE event_id = 1",  # renumbered
        "UPDATE api_feed SET position = NULL WHERE event_id = 1",
        "UPDATE api_feed SET tenant = 'x', position = 9 WHERE event_id = 2",
        "DELETE FROM api_feed WHERE event_id = 2",
    ],
)
def test_a_feed_row_is_numbered_once_and_never_changed(database: Database, statement) -> None:
    with database.engine.begin() as connection:
        connection.execute(text(FEED_ROW), [{"e": 1, "p": 1}, {"e": 2, "p": None}])
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(text(statement))
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE api_feed SET position = 2 WHERE event_id = 2"))
        rows = connection.execute(text("SELECT event_id, position FROM api_feed ORDER BY 1"))
        assert rows.all() == [(1, 1), (2, 2)]


def test_feed_at_read_keeps_positions_and_downgrades(tmp_path: Path) -> None:
    """0006 on SQLite (batch mode rebuilds the table): positions kept, guards back, reversible."""
    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    migrations = database.migrations()
    for revision in ("0002_api", "0003_arbitration", "0005_escrow_cache"):
        command.upgrade(migrations, revision)
    with database.engine.begin() as connection:
        connection.execute(text(OLD_FEED_ROW), [{"e": 5, "p": 1}, {"e": 3, "p": 2}])
    command.upgrade(migrations, "heads")
    with database.engine.begin() as connection:
        connection.execute(text(FEED_ROW), [{"e": 7, "p": None}, {"e": 6, "p": None}])
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(text("UPDATE api_feed SET position = 3 WHERE event_id = 5"))
    command.downgrade(migrations, "0006_feed_at_read")  # 0008's feed trigger goes first
    command.downgrade(migrations, "0006_feed_at_read@-1")
    with database.engine.begin() as connection:
        rows = connection.execute(text("SELECT event_id, position FROM api_feed ORDER BY 2"))
        assert rows.all() == [(5, 1), (3, 2), (6, 3), (7, 4)]
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(text("UPDATE api_feed SET position = 9 WHERE event_id = 5"))
    database.dispose()


def test_the_feed_without_its_contract_column_downgrades_with_it_filled(tranche, contract):
    """0020 drops `api_feed.contract_id` (a feed page joins the event); going back fills it
    from the events, and the feed trigger writes it again for new events."""
    migrations = tranche.database.migrations()
    command.downgrade(migrations, "0011_webhook_secrets_encrypted")
    try:
        tranche.add_milestone(contract.id, title="After", amount=10_000)
        with tranche.database.engine.connect() as connection:
            rows = connection.execute(text("SELECT DISTINCT contract_id FROM api_feed")).all()
        assert rows == [(contract.id,)]
    finally:
        command.upgrade(migrations, "heads")
    with tranche.database.engine.connect() as connection:
        columns = connection.execute(text("SELECT * FROM api_feed")).keys()
    assert "contract_id" not in columns
    tranche.add_milestone(contract.id, title="Again", amount=10_000)
