"""Console sessions kept server-side, and sign-in throttling per account and per address.

`staff_sessions` lets sign-out, a password reset or deactivation end a session whose
cookie is still valid; `login_throttles` counts failed sign-ins per email typed and per
client address, locked row by row. They replace the staff row's own counter
(`failed_logins`, `locked_until`), which parallel attempts raced past.

Revision ID: 0012_staff_sessions
Revises: 0003_arbitration
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_staff_sessions"
down_revision = "0003_arbitration"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.String(length=40), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_staff_sessions_staff_id"), "staff_sessions", ["staff_id"])
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    # Plain ALTER TABLE on both backends (SQLite 3.35+ drops a column in place).
    op.drop_column("staff", "failed_logins")
    op.drop_column("staff", "locked_until")


def downgrade() -> None:
    op.add_column(
        "staff", sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("staff", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.drop_table("login_throttles")
    op.drop_index(op.f("ix_staff_sessions_staff_id"), table_name="staff_sessions")
    op.drop_table("staff_sessions")
