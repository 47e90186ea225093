"""Each milestone names its live dispute case.

A dispute case is open while its milestone is in the state the dispute entered;
the milestone's own commands now open and close it. Releases before this one
left a case open when a milestone left the dispute by a plain event (`withdraw`
through the generic event route), and a later deadline could then grant that
stale case's claim. This migration links each milestone to the one case that is
really live (the dispute whose event last moved the milestone) and closes every
other open case as withdrawn.

Revision ID: 0010_live_case
Revises: 0009_chain_head_trigger
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0010_live_case"
down_revision = "0009_chain_head_trigger"
branch_labels = None
depends_on = "0003_arbitration"  # the disputes table comes from there

OPEN = ("awaiting_response", "under_review", "pending_approval")


# Plain ALTER TABLE on both backends, as in 0007: a batch copy of `milestones` would have
# to drop the table, which its references refuse.
def upgrade() -> None:
    op.add_column("milestones", sa.Column("dispute_id", sa.String(40), nullable=True))
    bind = op.get_bind()
    disputes = bind.execute(
        sa.text(
            "SELECT id, milestone_id, updated_at FROM disputes WHERE status IN "
            "('awaiting_response', 'under_review', 'pending_approval')"
        )
    ).all()
    for dispute_id, milestone_id, updated_at in disputes:
        last = bind.execute(
            sa.text(
                "SELECT type, data FROM events WHERE milestone_id = :m "
                "AND to_state IS NOT NULL AND (from_state IS NULL OR to_state <> from_state) "
                "ORDER BY seq DESC LIMIT 1"
            ),
            {"m": milestone_id},
        ).first()
        opened = None if last is None or last[0] != "dispute" else json.loads(last[1] or "{}")
        if opened is not None and opened.get("dispute_id") == dispute_id:
            bind.execute(
                sa.text("UPDATE milestones SET dispute_id = :d WHERE id = :m"),
                {"d": dispute_id, "m": milestone_id},
            )
        else:
            bind.execute(
                sa.text(
                    "UPDATE disputes SET status = 'withdrawn', closed_at = :at, "
                    "version = version + 1 WHERE id = :d"
                ),
                {"d": dispute_id, "at": updated_at},
            )


def downgrade() -> None:
    op.drop_column("milestones", "dispute_id")
