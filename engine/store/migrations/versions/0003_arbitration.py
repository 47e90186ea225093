"""Arbitration: disputes, statements, evidence, offers, rulings, staff and their audit trail.

Revision ID: 0003_arbitration
Revises: 0001_core
Create Date: 2026-11-24 23:34:22.896562
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_arbitration"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _tables()
    _append_only_audit()


def _tables() -> None:
    op.create_table(
        "staff",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "staff_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("staff_id", sa.String(length=40), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("dispute_id", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_staff_audit_dispute_id"), "staff_audit", ["dispute_id"], unique=False)
    op.create_index(op.f("ix_staff_audit_staff_id"), "staff_audit", ["staff_id"], unique=False)
    op.create_table(
        "disputes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("milestone_id", sa.String(length=40), nullable=False),
        sa.Column("contract_id", sa.String(length=40), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("buyer_id", sa.String(length=128), nullable=False),
        sa.Column("provider_id", sa.String(length=128), nullable=False),
        sa.Column("opened_by", sa.String(length=128), nullable=False),
        sa.Column("opener_role", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("claim_to_provider", sa.BigInteger(), nullable=False),
        sa.Column("claim_to_buyer", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("respond_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assignee_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["staff.id"],
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["milestone_id"],
            ["milestones.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_disputes_assignee_status_due",
        "disputes",
        ["assignee_id", "status", "due_at", "id"],
        unique=False,
    )
    op.create_index(op.f("ix_disputes_buyer_id"), "disputes", ["buyer_id"], unique=False)
    op.create_index(op.f("ix_disputes_contract_id"), "disputes", ["contract_id"], unique=False)
    op.create_index(op.f("ix_disputes_created_at"), "disputes", ["created_at"], unique=False)
    op.create_index("ix_disputes_due", "disputes", ["due_at", "id"], unique=False)
    op.create_index(op.f("ix_disputes_milestone_id"), "disputes", ["milestone_id"], unique=False)
    op.create_index(op.f("ix_disputes_provider_id"), "disputes", ["provider_id"], unique=False)
    op.create_index("ix_disputes_status_due", "disputes", ["status", "due_at", "id"], unique=False)
    op.create_table(
        "dispute_evidence",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dispute_id", sa.String(length=40), nullable=False),
        sa.Column("author_id", sa.String(length=128), nullable=False),
        sa.Column("author_role", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("filename", sa.String(length=200), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dispute_id"],
            ["disputes.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_dispute_evidence_dispute_id"), "dispute_evidence", ["dispute_id"], unique=False
    )
    op.create_table(
        "dispute_statements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dispute_id", sa.String(length=40), nullable=False),
        sa.Column("author_id", sa.String(length=128), nullable=False),
        sa.Column("author_role", sa.String(length=16), nullable=False),
        sa.Column("staff_only", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dispute_id"],
            ["disputes.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_dispute_statements_dispute_id"), "dispute_statements", ["dispute_id"], unique=False
    )
    op.create_table(
        "rulings",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("dispute_id", sa.String(length=40), nullable=False),
        sa.Column("staff_id", sa.String(length=40), nullable=False),
        sa.Column("to_provider", sa.BigInteger(), nullable=False),
        sa.Column("to_buyer", sa.BigInteger(), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=40), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dispute_id"],
            ["disputes.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_rulings_dispute_id"), "rulings", ["dispute_id"], unique=False)
    op.create_index(op.f("ix_rulings_status"), "rulings", ["status"], unique=False)
    op.create_table(
        "settlement_offers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("dispute_id", sa.String(length=40), nullable=False),
        sa.Column("offered_by", sa.String(length=128), nullable=False),
        sa.Column("offered_by_role", sa.String(length=16), nullable=False),
        sa.Column("to_provider", sa.BigInteger(), nullable=False),
        sa.Column("to_buyer", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["dispute_id"],
            ["disputes.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_settlement_offers_dispute_id"), "settlement_offers", ["dispute_id"], unique=False
    )


def _append_only_audit() -> None:
    """Staff actions are history: the database refuses to change or delete them."""
    if op.get_bind().dialect.name == "postgresql":
        # tranche_append_only() is created by 0001_core.
        op.execute(
            "CREATE TRIGGER staff_audit_append_only BEFORE UPDATE OR DELETE ON staff_audit "
            "FOR EACH ROW EXECUTE FUNCTION tranche_append_only()"
        )
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER staff_audit_no_{action.lower()} BEFORE {action} ON staff_audit "
            "BEGIN SELECT RAISE(ABORT, 'tranche: staff_audit is append-only'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER staff_audit_append_only ON staff_audit")
    else:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER staff_audit_no_{action}")
    op.drop_index(op.f("ix_settlement_offers_dispute_id"), table_name="settlement_offers")
    op.drop_table("settlement_offers")
    op.drop_index(op.f("ix_rulings_status"), table_name="rulings")
    op.drop_index(op.f("ix_rulings_dispute_id"), table_name="rulings")
    op.drop_table("rulings")
    op.drop_index(op.f("ix_dispute_statements_dispute_id"), table_name="dispute_statements")
    op.drop_table("dispute_statements")
    op.drop_index(op.f("ix_dispute_evidence_dispute_id"), table_name="dispute_evidence")
    op.drop_table("dispute_evidence")
    op.drop_index("ix_disputes_status_due", table_name="disputes")
    op.drop_index(op.f("ix_disputes_provider_id"), table_name="disputes")
    op.drop_index(op.f("ix_disputes_milestone_id"), table_name="disputes")
    op.drop_index("ix_disputes_due", table_name="disputes")
    op.drop_index(op.f("ix_disputes_created_at"), table_name="disputes")
    op.drop_index(op.f("ix_disputes_contract_id"), table_name="disputes")
    op.drop_index(op.f("ix_disputes_buyer_id"), table_name="disputes")
    op.drop_index("ix_disputes_assignee_status_due", table_name="disputes")
    op.drop_table("disputes")
    op.drop_index(op.f("ix_staff_audit_staff_id"), table_name="staff_audit")
    op.drop_index(op.f("ix_staff_audit_dispute_id"), table_name="staff_audit")
    op.drop_table("staff_audit")
    op.drop_table("staff")
