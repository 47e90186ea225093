"""Cache each milestone's escrow on its row, and index postings by milestone.

Commands read the escrow from the row instead of summing the ledger; the index
keeps per-milestone sums (summaries, audit) fast as the ledger grows.

Revision ID: 0005_escrow_cache
Revises: 0001_core
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_escrow_cache"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("milestones") as batch:
        batch.add_column(sa.Column("escrow", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_index("ix_postings_milestone_account", "postings", ["milestone_id", "account"])
    op.execute(
        "UPDATE milestones SET escrow = (SELECT COALESCE(SUM(amount), 0) FROM postings "
        "WHERE postings.milestone_id = milestones.id AND postings.account = 'escrow')"
    )


def downgrade() -> None:
    op.drop_index("ix_postings_milestone_account", table_name="postings")
    with op.batch_alter_table("milestones") as batch:
        batch.drop_column("escrow")
