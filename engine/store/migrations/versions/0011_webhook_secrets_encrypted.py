"""Webhook secrets are stored encrypted, and delivery errors as codes.

`webhook_subscriptions.secret` (the signing secret in clear) becomes `secret_token`,
a Fernet token under the first of `TRANCHE_ENCRYPTION_KEYS` (engine.store.keyring). Rows
that exist are encrypted here, so the upgrade needs the keys when there are any; it
refuses, changing nothing, without them. Deliveries' `last_error` held raw exception
text (which made the deliveries listing a port scanner); what was recorded so far
becomes `unclassified`.

Revision ID: 0011_webhook_secrets_encrypted
Revises: 0008_feed_trigger
"""

import os
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from engine.store.keyring import SETTING, Keyring, KeyringError

revision = "0011_webhook_secrets_encrypted"
down_revision = "0008_feed_trigger"
branch_labels = None
depends_on = None

TABLE = "webhook_subscriptions"
INDEX = "ix_webhook_subscriptions_tenant"


def upgrade() -> None:
    keyring = _keyring("must be encrypted")
    _replace_secret(
        "secret", sa.Column("secret_token", sa.String(400)), lambda s: _present(keyring).encrypt(s)
    )
    op.execute(
        "UPDATE webhook_deliveries SET last_error = 'unclassified' WHERE last_error IS NOT NULL"
    )


def downgrade() -> None:
    keyring = _keyring("must be decrypted")
    _replace_secret(
        "secret_token", sa.Column("secret", sa.String(80)), lambda t: _present(keyring).decrypt(t)
    )


def _present(keyring: Keyring | None) -> Keyring:
    assert keyring is not None, "no key is needed only when there is no row to convert"
    return keyring


def _keyring(why: str) -> Keyring | None:
    """The Keyring from the environment; None only when there is no row to convert."""
    found = Keyring.from_environment(os.environ)
    rows = op.get_bind().scalar(sa.text(f"SELECT COUNT(*) FROM {TABLE}"))
    if found is None and rows:
        raise KeyringError(
            f"{rows} webhook secret(s) {why}: set {SETTING} "
            "(`tranche secrets new-key` makes a key) and run the migration again"
        )
    return found


def _replace_secret(old: str, new: sa.Column, convert: Callable[[str], str]) -> None:
    """Swap column `old` for `new` (NOT NULL), holding convert(old) in every row."""
    bind = op.get_bind()
    rows = [dict(r) for r in bind.execute(sa.text(f"SELECT * FROM {TABLE}")).mappings()]
    for row in rows:
        row[new.name] = convert(row.pop(old))
    if bind.dialect.name == "sqlite":
        _rebuild_on_sqlite(new, rows)
        return
    op.add_column(TABLE, new)
    table = sa.table(TABLE, sa.column("id", sa.String), sa.column(new.name, sa.String))
    for row in rows:
        bind.execute(
            table.update().where(table.c.id == row["id"]).values({new.name: row[new.name]})
        )
    op.alter_column(TABLE, new.name, existing_type=new.type, nullable=False)
    op.drop_column(TABLE, old)


def _rebuild_on_sqlite(new: sa.Column, rows: list[dict[str, object]]) -> None:
    """SQLite changes a column by rebuilding the table, and with foreign keys on (a pragma
    that cannot change inside the migration's transaction) dropping a table that
    deliveries refer to counts each of them as a violation; Alembic's batch mode then
    fails at commit. So the rows are deleted with the check deferred to commit, the
    table is made again under its name, and the rows inserted back, which settles each
    delivery's reference before the commit checks them."""
    op.execute("PRAGMA defer_foreign_keys = ON")
    op.execute(f"DELETE FROM {TABLE}")
    op.drop_index(INDEX, TABLE)
    op.drop_table(TABLE)
    op.create_table(
        TABLE,
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column(new.name, new.type, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(INDEX, TABLE, ["tenant"])
    if rows:  # the values as they were read, so SQLite stores them as they were
        names = list(rows[0])
        op.get_bind().execute(
            sa.text(
                f"INSERT INTO {TABLE} ({', '.join(names)})"
                f" VALUES ({', '.join(':' + n for n in names)})"
            ),
            rows,
        )
