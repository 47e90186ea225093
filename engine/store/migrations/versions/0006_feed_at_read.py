"""Number the event feed at read time: `api_feed.position` stays NULL until numbered.

Writers append feed rows without a position, so they take no global lock at commit;
readers and the webhook worker number them later (see web.api.feed). `event_id`
becomes the primary key (it was already unique) and `position` a nullable unique
index, which also finds the unnumbered rows (`position IS NULL`) and the highest
position on both databases, so they need no partial index of their own. The
append-only guard now lets a row be numbered once, and nothing else.

Revision ID: 0006_feed_at_read
Revises: 0005_escrow_cache
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_feed_at_read"
down_revision = "0005_escrow_cache"
branch_labels = None
depends_on = "0002_api"  # api_feed comes from there (0005 branches off 0001_core)

# SQLite's constraints are unnamed; batch mode names them as PostgreSQL did.
NAMES = {"pk": "%(table_name)s_pkey", "uq": "%(table_name)s_%(column_0_name)s_key"}
TAMPERED = (
    "OLD.position IS NOT NULL OR NEW.position IS NULL OR NEW.event_id <> OLD.event_id"
    " OR NEW.tenant <> OLD.tenant OR NEW.contract_id <> OLD.contract_id"
)
"""An UPDATE that does more than give an unnumbered row its position."""


def upgrade() -> None:
    if _postgres():
        _drop_triggers("api_feed_append_only")
    else:  # batch mode rebuilds the table below: say so rather than lose them silently
        _drop_triggers("api_feed_no_update", "api_feed_no_delete")
    with op.batch_alter_table("api_feed", naming_convention=NAMES) as batch:
        batch.drop_constraint("api_feed_pkey", type_="primary")
        batch.drop_constraint("api_feed_event_id_key", type_="unique")
        batch.alter_column("position", existing_type=sa.BigInteger(), nullable=True)
        batch.create_primary_key("api_feed_pkey", ["event_id"])
        batch.create_index("ix_api_feed_position", ["position"], unique=True)
    _refuse("api_feed_no_delete", "DELETE")
    _refuse("api_feed_number_once", "UPDATE", when=TAMPERED)


def downgrade() -> None:
    """Number what is pending (no webhook deliveries for it), then restore 0002's table."""
    _drop_triggers("api_feed_number_once", "api_feed_no_delete")
    op.execute(
        "UPDATE api_feed SET position = numbered.position FROM ("
        " SELECT event_id, (SELECT COALESCE(MAX(position), 0) FROM api_feed)"
        "   + ROW_NUMBER() OVER (ORDER BY event_id) AS position"
        " FROM api_feed WHERE position IS NULL) AS numbered"
        " WHERE api_feed.event_id = numbered.event_id"
    )
    with op.batch_alter_table("api_feed", naming_convention=NAMES) as batch:
        batch.drop_index("ix_api_feed_position")
        batch.drop_constraint("api_feed_pkey", type_="primary")
        batch.alter_column("position", existing_type=sa.BigInteger(), nullable=False)
        batch.create_primary_key("api_feed_pkey", ["position"])
        batch.create_unique_constraint("api_feed_event_id_key", ["event_id"])
    if _postgres():
        _refuse("api_feed_append_only", "UPDATE OR DELETE")
    else:
        _refuse("api_feed_no_update", "UPDATE")
        _refuse("api_feed_no_delete", "DELETE")


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _drop_triggers(*names: str) -> None:
    for name in names:
        op.execute(f"DROP TRIGGER {name} ON api_feed" if _postgres() else f"DROP TRIGGER {name}")


def _refuse(name: str, action: str, when: str | None = None) -> None:
    """A trigger that refuses `action` on api_feed (only where `when` holds, if given)."""
    if _postgres():  # tranche_append_only() comes with 0001_core
        condition = f"WHEN ({when}) " if when else ""
        op.execute(
            f"CREATE TRIGGER {name} BEFORE {action} ON api_feed FOR EACH ROW {condition}"
            "EXECUTE FUNCTION tranche_append_only()"
        )
        return
    condition = f"WHEN {when} " if when else ""
    op.execute(
        f"CREATE TRIGGER {name} BEFORE {action} ON api_feed {condition}"
        "BEGIN SELECT RAISE(ABORT, 'tranche: api_feed is append-only; "
        "its rows are numbered once, never changed'); END"
    )
