"""Reconciliation with the rail's report: imported reports and their staged lines.

A report is one row per tenant, file (SHA-256) and column mapping, so importing the same
file again writes nothing; its lines (and the records the report lacks) are rows of
`rail_report_lines`, matched by SQL (engine.store.reconciliation).

Revision ID: 0017_reconciliation
Revises: 0014_money_rail
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_reconciliation"
down_revision = "0014_money_rail"
branch_labels = None
depends_on = None

MOMENT = sa.DateTime(timezone=True)
MINOR = sa.BigInteger()
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rail_reports",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("mapping", sa.String(500), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("first_at", MOMENT),
        sa.Column("last_at", MOMENT),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.UniqueConstraint("tenant", "digest", "mapping", name="uq_rail_reports_file"),
    )
    op.create_table(
        "rail_report_lines",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("report_id", sa.String(40), sa.ForeignKey("rail_reports.id"), nullable=False),
        sa.Column("line", sa.Integer()),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16)),
        sa.Column("ref1", sa.String(255)),
        sa.Column("ref2", sa.String(255)),
        sa.Column("ref3", sa.String(255)),
        sa.Column("rail_amount", MINOR),
        sa.Column("rail_currency", sa.String(3)),
        sa.Column("fee", MINOR, nullable=False),
        sa.Column("at", MOMENT, nullable=False),
        sa.Column("reference", sa.String(255)),
        sa.Column("record_id", sa.String(40)),
        sa.Column("contract_id", sa.String(40)),
        sa.Column("milestone_id", sa.String(40)),
        sa.Column("tranche_amount", MINOR),
        sa.Column("tranche_currency", sa.String(3)),
        sa.Column("tranche_status", sa.String(16)),
        sa.Column("outcome", sa.String(24)),
    )
    op.create_index("ix_rail_report_lines_line", "rail_report_lines", ["report_id", "line"])
    op.create_index("ix_rail_report_lines_record", "rail_report_lines", ["report_id", "record_id"])


def downgrade() -> None:
    op.drop_table("rail_report_lines")
    op.drop_table("rail_reports")
