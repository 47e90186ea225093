"""The contract's hash-chain head follows its events by a database trigger.

An AFTER INSERT trigger on `events` sets `contracts.event_seq` and
`contracts.last_event_hash` to the new event's, in the event's own INSERT. The
engine used to send that UPDATE itself, one more statement (and on PostgreSQL one
more round trip) in every command; now the head cannot disagree with the last
event, whoever wrote it. The engine still computes each hash, from the head it
loaded with the contract; older releases, which also write the head, write the
same values.

Revision ID: 0009_chain_head_trigger
Revises: 0007_milestone_totals
"""

from alembic import op

revision = "0009_chain_head_trigger"
down_revision = "0007_milestone_totals"
branch_labels = None
depends_on = None

FOLLOW = (
    "UPDATE contracts SET event_seq = NEW.seq, last_event_hash = NEW.hash"
    " WHERE id = NEW.contract_id;"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION tranche_chain_head() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN {FOLLOW} RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER events_chain_head AFTER INSERT ON events"
            " FOR EACH ROW EXECUTE FUNCTION tranche_chain_head()"
        )
    else:
        op.execute(f"CREATE TRIGGER events_chain_head AFTER INSERT ON events BEGIN {FOLLOW} END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER events_chain_head ON events")
        op.execute("DROP FUNCTION tranche_chain_head()")
    else:
        op.execute("DROP TRIGGER events_chain_head")
