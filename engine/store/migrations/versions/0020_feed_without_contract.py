"""A feed row no longer repeats its event's contract: `api_feed.contract_id` goes.

Nothing reads it (a feed page joins the event, which has it); it cost about a third of
each feed row. The feed's trigger on `events` and its numbered-once guard are written
again without it. Downgrading adds the column back, filled from the events (empty for
a row whose event is gone), and nullable.

Revision ID: 0020_feed_without_contract
Revises: 0011_webhook_secrets_encrypted
"""

from alembic import op

revision = "0020_feed_without_contract"
down_revision = "0011_webhook_secrets_encrypted"
branch_labels = None
depends_on = "0016_scale_indexes"  # the feed's indexes as they stand

TAMPERED = (
    "OLD.position IS NOT NULL OR NEW.position IS NULL OR NEW.event_id <> OLD.event_id"
    " OR NEW.tenant <> OLD.tenant"
)
"""An UPDATE that does more than give an unnumbered row its position (as 0006, less the column)."""
OLD_TAMPERED = TAMPERED + " OR NEW.contract_id <> OLD.contract_id"
APPEND = (
    "INSERT INTO api_feed (event_id, tenant, position)"
    " SELECT NEW.id, contracts.tenant, NULL FROM contracts WHERE contracts.id = NEW.contract_id;"
)
OLD_APPEND = (
    "INSERT INTO api_feed (event_id, tenant, contract_id, position)"
    " SELECT NEW.id, contracts.tenant, NEW.contract_id, NULL"
    " FROM contracts WHERE contracts.id = NEW.contract_id;"
)


def upgrade() -> None:
    _guards_down()
    op.execute("ALTER TABLE api_feed DROP COLUMN contract_id")
    _guards_up(APPEND, TAMPERED)


def downgrade() -> None:
    _guards_down()
    op.execute("ALTER TABLE api_feed ADD COLUMN contract_id VARCHAR(40)")
    op.execute(
        "UPDATE api_feed SET contract_id = COALESCE("
        "(SELECT events.contract_id FROM events WHERE events.id = api_feed.event_id), '')"
    )
    _guards_up(OLD_APPEND, OLD_TAMPERED)


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _guards_down() -> None:
    """The feed trigger and the numbered-once guard name the column: both go first."""
    if _postgres():
        op.execute("DROP TRIGGER api_feed_number_once ON api_feed")
    else:
        op.execute("DROP TRIGGER api_feed_number_once")
        op.execute("DROP TRIGGER events_feed")


def _guards_up(append: str, tampered: str) -> None:
    if _postgres():
        op.execute(
            "CREATE OR REPLACE FUNCTION tranche_feed_append() RETURNS trigger LANGUAGE plpgsql"
            f" AS $$ BEGIN {append} RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER api_feed_number_once BEFORE UPDATE ON api_feed FOR EACH ROW"
            f" WHEN ({tampered}) EXECUTE FUNCTION tranche_append_only()"
        )
        return
    op.execute(f"CREATE TRIGGER events_feed AFTER INSERT ON events BEGIN {append} END")
    op.execute(
        f"CREATE TRIGGER api_feed_number_once BEFORE UPDATE ON api_feed WHEN {tampered} "
        "BEGIN SELECT RAISE(ABORT, 'tranche: api_feed is append-only; "
        "its rows are numbered once, never changed'); END"
    )
