"""Cache each milestone's funded, released, refunded and fees on its row, beside its escrow.

A milestone's summary is then arithmetic on its row instead of a grouped query
over the ledger; `tranche audit verify` proves the row agrees with the postings.
Existing milestones are backfilled from their postings.

Revision ID: 0007_milestone_totals
Revises: 0005_escrow_cache
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_milestone_totals"
down_revision = "0005_escrow_cache"
branch_labels = None
depends_on = None

FIGURES = ("funded", "released", "refunded", "fees")


def _total(sign: str, account: str, kind: str | None = None) -> str:
    """This milestone's sum over one account (and one entry kind), as a scalar subquery."""
    by_kind = f"AND ledger_entries.kind = '{kind}'" if kind else ""
    return (
        f"(SELECT {sign}COALESCE(SUM(postings.amount), 0) FROM postings "
        "JOIN ledger_entries ON ledger_entries.id = postings.entry_id "
        f"WHERE postings.milestone_id = milestones.id AND postings.account = '{account}' "
        f"{by_kind})"
    )


# The same definitions as engine.domain.summary: money held into escrow is funded, money
# released or refunded out of it is released or refunded; fees are the fee postings.
BACKFILL = (
    f"UPDATE milestones SET funded = {_total('', 'escrow', 'hold')}, "
    f"released = {_total('-', 'escrow', 'release')}, "
    f"refunded = {_total('-', 'escrow', 'refund')}, "
    f"fees = {_total('', 'platform_fees')}"
)


# Plain ALTER TABLE on both backends (SQLite 3.35+ drops a column in place): a batch
# copy of the table would have to drop `milestones`, which its references refuse.
def upgrade() -> None:
    for name in FIGURES:
        op.add_column(
            "milestones", sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")
        )
    op.execute(BACKFILL)


def downgrade() -> None:
    for name in FIGURES:
        op.drop_column("milestones", name)
