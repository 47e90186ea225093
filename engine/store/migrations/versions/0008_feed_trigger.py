"""Every event enters the feed by a database trigger, not a session hook.

An AFTER INSERT trigger on `events` adds the event's `api_feed` row (unnumbered,
with its contract's tenant) in the same statement. So the row exists exactly when
the event does, whoever wrote it (the API, the CLI, the sweep, a program using the
engine alone) and whatever became of the transaction or a savepoint around it; and
a command pays no extra round trip for it.

Revision ID: 0008_feed_trigger
Revises: 0006_feed_at_read
"""

from alembic import op

revision = "0008_feed_trigger"
down_revision = "0006_feed_at_read"
branch_labels = None
depends_on = None

APPEND = (
    "INSERT INTO api_feed (event_id, tenant, contract_id, position)"
    " SELECT NEW.id, contracts.tenant, NEW.contract_id, NULL"
    " FROM contracts WHERE contracts.id = NEW.contract_id;"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION tranche_feed_append() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN {APPEND} RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER events_feed AFTER INSERT ON events"
            " FOR EACH ROW EXECUTE FUNCTION tranche_feed_append()"
        )
    else:
        op.execute(f"CREATE TRIGGER events_feed AFTER INSERT ON events BEGIN {APPEND} END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER events_feed ON events")
        op.execute("DROP FUNCTION tranche_feed_append()")
    else:
        op.execute("DROP TRIGGER events_feed")
