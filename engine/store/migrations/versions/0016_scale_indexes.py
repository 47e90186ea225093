"""Partial indexes on the few rows the hot queries look for among many.

Open dispute cases (the console queue's first page), cases awaiting an answer (the
deadline sweep), pending timers (the timer sweep), pending rulings and unnumbered feed rows stay few
while closed cases, finished timers and numbered rows grow without bound; an index over
the whole table made those queries walk the closed ones (or scan the table) before
finding the first live row.

Revision ID: 0016_scale_indexes
Revises: 0013_dispute_search
"""

from alembic import op

revision = "0016_scale_indexes"
down_revision = "0013_dispute_search"
branch_labels = None
depends_on = "0006_feed_at_read"  # api_feed in its present shape (the API branch)

OPEN = "status IN ('awaiting_response', 'under_review', 'pending_approval')"
AWAITING = "status = 'awaiting_response'"
PENDING = "position IS NULL"
TIMER_PENDING = RULING_PENDING = "status = 'pending'"
# (name, table, columns, predicate); the models declare the same (engine.store.models,
# web.api.models), frozen here as they stood.
INDEXES = (
    ("ix_disputes_open_due", "disputes", "due_at, id", OPEN),
    ("ix_disputes_awaiting_respond_by", "disputes", "status, respond_by, id", AWAITING),
    ("ix_api_feed_pending", "api_feed", "event_id", PENDING),
    ("ix_timers_pending_due", "timers", "due_at, id", TIMER_PENDING),
    ("ix_rulings_pending", "rulings", "created_at", RULING_PENDING),
)
REPLACED = (
    ("ix_timers_status_due", "timers", "status, due_at"),
    ("ix_rulings_status", "rulings", "status"),
)
"""Their pending rows are the new partial indexes. On SQLite these whole-table status
indexes drew a command's "this milestone's pending timers" (or "this case's pending
rulings") through every pending one, instead of the milestone's (case's) own index."""


def upgrade() -> None:
    for name, table, columns, predicate in INDEXES:
        op.execute(f"CREATE INDEX {name} ON {table} ({columns}) WHERE {predicate}")
    for name, _, _ in REPLACED:
        op.execute(f"DROP INDEX {name}")


def downgrade() -> None:
    for name, table, columns in REPLACED:
        op.execute(f"CREATE INDEX {name} ON {table} ({columns})")
    for name, _, _, _ in INDEXES:
        op.execute(f"DROP INDEX {name}")
