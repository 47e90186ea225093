"""Full-text search over disputes: one document per title+parties+reason, statement, text.

Triggers write the documents as the rows they come from are inserted; existing rows
are indexed here. SQLite keeps them in an FTS5 virtual table, PostgreSQL in a table
with a stored `tsvector` and a GIN index (see arbitration/search.py, which alone
queries them). Staff notes are never indexed.

Revision ID: 0013_dispute_search
Revises: 0003_arbitration
"""

from alembic import op

revision = "0013_dispute_search"
down_revision = "0003_arbitration"  # the arbitration branch: its tables, its search
branch_labels = None
depends_on = None

# (trigger name, table, condition, SELECT of (dispute_id, body) from NEW)
SOURCES = (
    (
        "disputes_search",
        "disputes",
        "TRUE",
        "SELECT NEW.id, COALESCE(c.title, '') || ' ' || NEW.buyer_id || ' '"
        " || NEW.provider_id || ' ' || NEW.reason FROM contracts c WHERE c.id = NEW.contract_id",
    ),
    (
        "statements_search",
        "dispute_statements",
        "NOT NEW.staff_only",
        "SELECT NEW.dispute_id, NEW.body",
    ),
    (
        "evidence_search",
        "dispute_evidence",
        "NEW.text IS NOT NULL",
        "SELECT NEW.dispute_id, COALESCE(NEW.description, '') || ' ' || NEW.text",
    ),
)
BACKFILL = (
    "INSERT INTO dispute_search (dispute_id, body)"
    " SELECT d.id, COALESCE(c.title, '') || ' ' || d.buyer_id || ' ' || d.provider_id"
    " || ' ' || d.reason"
    " FROM disputes d JOIN contracts c ON c.id = d.contract_id"
    " UNION ALL SELECT dispute_id, body FROM dispute_statements WHERE NOT staff_only"
    " UNION ALL SELECT dispute_id, COALESCE(description, '') || ' ' || text FROM dispute_evidence"
    " WHERE text IS NOT NULL"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TABLE dispute_search (id BIGSERIAL PRIMARY KEY,"
            " dispute_id VARCHAR(40) NOT NULL, body TEXT NOT NULL,"
            " doc TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED)"
        )
        op.execute("CREATE INDEX dispute_search_doc ON dispute_search USING GIN (doc)")
        for name, table, condition, source in SOURCES:
            op.execute(
                f"CREATE FUNCTION tranche_{name}() RETURNS trigger LANGUAGE plpgsql AS $$"
                f" BEGIN IF {condition} THEN INSERT INTO dispute_search (dispute_id, body)"
                f" {source}; END IF; RETURN NULL; END $$"
            )
            op.execute(
                f"CREATE TRIGGER {name} AFTER INSERT ON {table}"
                f" FOR EACH ROW EXECUTE FUNCTION tranche_{name}()"
            )
    else:
        op.execute(
            "CREATE VIRTUAL TABLE dispute_search USING fts5(dispute_id UNINDEXED, body,"
            " tokenize = 'unicode61')"
        )
        for name, table, condition, source in SOURCES:
            when = "" if condition == "TRUE" else f" WHEN {condition}"
            op.execute(
                f"CREATE TRIGGER {name} AFTER INSERT ON {table}{when}"
                f" BEGIN INSERT INTO dispute_search (dispute_id, body) {source}; END"
            )
    op.execute(BACKFILL)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, table, _, _ in SOURCES:
        op.execute(f"DROP TRIGGER {name} ON {table}" if postgres else f"DROP TRIGGER {name}")
        if postgres:
            op.execute(f"DROP FUNCTION tranche_{name}()")
    op.execute("DROP TABLE dispute_search")
