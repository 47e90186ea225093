"""Sandboxes of test-mode tenants: a test clock and the pretend rail's orders.

Revision ID: 0019_sandboxes
Revises: 0014_money_rail
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_sandboxes"
down_revision = "0014_money_rail"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sandboxes",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("now", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fail_next_funding", sa.Text(), nullable=True),
        sa.Column("fail_next_payout", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sandboxes")
