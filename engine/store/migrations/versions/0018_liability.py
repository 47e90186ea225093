"""Reports as of an instant: an index on when each ledger entry was made.

A liability or aging report as of T takes the figures now and subtracts the postings
of the entries made after T (engine.store.liability); this index finds those entries
without reading the ledger.

Revision ID: 0018_liability
Revises: 0014_money_rail
"""

from alembic import op

revision = "0018_liability"
down_revision = "0014_money_rail"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ledger_entries_created_at", "ledger_entries", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_created_at", table_name="ledger_entries")
