"""Party pages and notices: links, contacts, per-tenant page settings, notices.

Each event whose data names parties under `notify` gets its notices from a trigger, in
the event's own INSERT, whichever program wrote it (as the feed row and the chain head
do): the "party was notified" record cannot be forgotten by an entry point, and costs a
command no statement. A party with an email address (party_contacts) gets its notice
queued for mail at once; one without is marked `no_address`.

Revision ID: 0015_party_pages
Revises: 0013_dispute_search
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_party_pages"
down_revision = "0013_dispute_search"
branch_labels = None
depends_on = None

NOTICES = """
INSERT INTO notices (tenant, contract_id, milestone_id, event_id, event_type, role, party_id,
                     created_at, email_to, email_status, email_attempts, email_next_at)
SELECT c.tenant, NEW.contract_id, NEW.milestone_id, NEW.id, NEW.type, r.role,
       CASE r.role WHEN 'buyer' THEN c.buyer_id ELSE c.provider_id END,
       NEW.created_at, pc.email,
       CASE WHEN pc.email IS NULL THEN 'no_address' ELSE 'pending' END, 0,
       CASE WHEN pc.email IS NULL THEN NULL ELSE NEW.created_at END
FROM (SELECT DISTINCT value AS role FROM {roles} WHERE value IN ('buyer', 'provider')) AS r
JOIN contracts AS c ON c.id = NEW.contract_id
LEFT JOIN party_contacts AS pc ON pc.contract_id = NEW.contract_id AND pc.role = r.role;
"""
SQLITE_ROLES = "json_each(NEW.data, '$.notify')"
POSTGRES_ROLES = (
    "jsonb_array_elements_text(CASE WHEN jsonb_typeof(NEW.data::jsonb -> 'notify') = 'array'"
    " THEN NEW.data::jsonb -> 'notify' ELSE '[]'::jsonb END) AS value"
)


def upgrade() -> None:
    op.create_table(
        "party_links",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("contract_id", sa.String(40), sa.ForeignKey("contracts.id"), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("locale", sa.String(35), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_party_links_contract_id", "party_links", ["contract_id"])
    op.create_table(
        "party_contacts",
        sa.Column("contract_id", sa.String(40), sa.ForeignKey("contracts.id"), primary_key=True),
        sa.Column("role", sa.String(16), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("locale", sa.String(35), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "party_settings",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("mail_from", sa.String(254), nullable=True),
        sa.Column("embed_origins", sa.Text(), nullable=False),
        sa.Column("theme", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("contract_id", sa.String(40), sa.ForeignKey("contracts.id"), nullable=False),
        sa.Column("milestone_id", sa.String(40), sa.ForeignKey("milestones.id"), nullable=True),
        sa.Column("event_id", sa.Integer(), sa.ForeignKey("events.id"), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("party_id", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("email_to", sa.String(254), nullable=True),
        sa.Column("email_status", sa.String(16), nullable=False),
        sa.Column("email_attempts", sa.Integer(), nullable=False),
        sa.Column("email_next_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("email_error", sa.String(64), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_notices_event_id", "notices", ["event_id"])
    op.create_index("ix_notices_contract_role", "notices", ["contract_id", "role"])
    op.create_index("ix_notices_email_due", "notices", ["email_status", "email_next_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION tranche_notices() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN {NOTICES.format(roles=POSTGRES_ROLES)} RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER events_notices AFTER INSERT ON events FOR EACH ROW"
            " WHEN (NEW.data LIKE '%\"notify\"%') EXECUTE FUNCTION tranche_notices()"
        )
    else:
        op.execute(
            "CREATE TRIGGER events_notices AFTER INSERT ON events"
            " WHEN json_type(NEW.data, '$.notify') = 'array'"
            f" BEGIN {NOTICES.format(roles=SQLITE_ROLES)} END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER events_notices ON events")
        op.execute("DROP FUNCTION tranche_notices()")
    else:
        op.execute("DROP TRIGGER events_notices")
    for table in ("notices", "party_settings", "party_contacts", "party_links"):
        op.drop_table(table)
