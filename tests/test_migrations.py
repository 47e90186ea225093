"""Migrations: they build exactly the schema the models describe, and fill what they add."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from conftest import BUYER, PROVIDER
from engine.milestones import EventArgs
from engine.models import Base


def test_models_and_migrations_agree(database):
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_server_default": True})
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
    command.downgrade(migrations, "0007_milestone_totals@-1")  # as before the columns existed
    try:
        with tranche.database.engine.connect() as connection:
            columns = connection.execute(text("SELECT * FROM milestones")).keys()
        assert "escrow" in columns
        assert "funded" not in columns
    finally:
        command.upgrade(migrations, "heads")
    assert {m: tranche.milestone(m).summary for m in expected} == expected
    assert tranche.cached_mismatches() == []
