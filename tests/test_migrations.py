"""The migrations build the schema the models describe, and keep the feed's rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from engine.db import MIGRATIONS, Database
from engine.models import Base


def test_migrations_match_the_models(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


FEED_ROW = (
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
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = database.engine
    for revision in ("0002_api", "0003_arbitration", "0005_escrow_cache"):
        command.upgrade(config, revision)
    with database.engine.begin() as connection:
        connection.execute(text(FEED_ROW), [{"e": 5, "p": 1}, {"e": 3, "p": 2}])
    command.upgrade(config, "heads")
    with database.engine.begin() as connection:
        connection.execute(text(FEED_ROW), [{"e": 7, "p": None}, {"e": 6, "p": None}])
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(text("UPDATE api_feed SET position = 3 WHERE event_id = 5"))
    command.downgrade(config, "0005_escrow_cache")
    with database.engine.begin() as connection:
        rows = connection.execute(text("SELECT event_id, position FROM api_feed ORDER BY 2"))
        assert rows.all() == [(5, 1), (3, 2), (6, 3), (7, 4)]
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(text("UPDATE api_feed SET position = 9 WHERE event_id = 5"))
    database.dispose()
