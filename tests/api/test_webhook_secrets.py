"""Webhook secrets at rest: stored only as Fernet tokens under TRANCHE_ENCRYPTION_KEYS,
rotatable, migrated from clear text, and never stored at all without a key."""

from __future__ import annotations

import json

import pytest
from alembic import command
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import text

from api.helpers import ENCRYPTION_KEYS, Client
from api.webhook_receivers import serving
from engine.domain.clock import FixedClock
from engine.store.db import Database
from engine.store.keyring import Keyring, KeyringError, new_key
from web.api.auth import create_key
from web.api.webhooks import WebhookSettings, deliver_due, verify
from web.app import create_app
from web.cli import main

WEBHOOK_ALLOW_HOSTS = "127.0.0.1"
"""The operator's allow-list in these tests' app: the receivers listen on 127.0.0.1."""
BEFORE = "0008_feed_trigger"
"""The revision before 0011_webhook_secrets_encrypted."""


def stored_rows(database: Database) -> list[dict]:
    with database.engine.connect() as connection:
        return [
            dict(r)
            for r in connection.execute(text("SELECT * FROM webhook_subscriptions")).mappings()
        ]


def tranche_cli(database: Database, *args: str, keys: str | None = None) -> Result:
    """The `tranche` command with these keys in its environment (None: no keys at all)."""
    env = {"TRANCHE_ENCRYPTION_KEYS": keys}
    return CliRunner().invoke(main, ["--database-url", database.url, *args], env=env)


def test_the_secret_is_not_stored_in_clear(client: Client, app: Flask) -> None:
    hook = client.post("/v1/webhooks", {"url": "https://hooks.example.com/x"}).json
    (row,) = stored_rows(app.extensions["tranche"].database)
    assert all(hook["secret"] not in str(value) for value in row.values())
    keyring = Keyring.from_setting(ENCRYPTION_KEYS)
    assert keyring is not None
    assert keyring.decrypt(row["secret_token"]) == hook["secret"]


def test_without_a_key_no_subscription_is_made(database: Database, clock: FixedClock) -> None:
    app = create_app({"DATABASE_URL": database.url, "AUTO_UPGRADE": False}, clock)
    client = Client(app, create_key(database, "acme")[1])
    response = client.post("/v1/webhooks", {"url": "https://hooks.example.com/x"})
    assert response.status_code == 503
    assert response.json["code"] == "encryption_unconfigured"
    assert "TRANCHE_ENCRYPTION_KEYS" in response.json["detail"]
    assert stored_rows(database) == []
    result = tranche_cli(database, "deliver", "--once")
    assert result.exit_code == 1
    assert "TRANCHE_ENCRYPTION_KEYS is not set" in result.output


def test_a_bad_key_is_named_by_its_place_not_shown(database: Database) -> None:
    bad = "not-a-fernet-key"
    with pytest.raises(KeyringError, match="key 2 of 2 is not a Fernet key") as caught:
        create_app({"DATABASE_URL": database.url, "ENCRYPTION_KEYS": f"{new_key()},{bad}"})
    assert bad not in str(caught.value)
    result = tranche_cli(database, "deliver", "--once", keys=bad)
    assert result.exit_code == 1
    assert "key 1 of 1 is not a Fernet key" in result.output
    assert bad not in result.output


def test_a_replayed_creation_keeps_its_secret_encrypted(client: Client, app: Flask) -> None:
    """The response kept for an Idempotency-Key carries the secret: it is sealed too."""
    key = {"Idempotency-Key": "hook-1"}
    first = client.post("/v1/webhooks", {"url": "https://hooks.example.com/x"}, headers=key)
    again = client.post("/v1/webhooks", {"url": "https://hooks.example.com/x"}, headers=key)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    with app.extensions["tranche"].database.engine.connect() as connection:
        (kept,) = connection.execute(text("SELECT body FROM api_idempotency")).scalars()
    assert first.json["secret"] not in kept
    assert kept.startswith("sealed:")


def test_rotation_re_encrypts_with_the_first_key(client: Client, app: Flask) -> None:
    """The runbook: put a new key first, rotate, drop the old key; deliveries still sign
    with the same secret. A key missing from the list changes nothing and says so."""
    database = app.extensions["tranche"].database
    with serving() as receiver:
        created = client.post(
            "/v1/webhooks", {"url": receiver.url}, headers={"Idempotency-Key": "hook-1"}
        )
        hook = created.json
        newer = new_key()
        refused = tranche_cli(database, "secrets", "rotate", keys=newer)
        assert refused.exit_code == 1
        assert f"no configured key reads the secret of {hook['id']}" in refused.output
        before = stored_rows(database)[0]["secret_token"]

        rotated = tranche_cli(database, "secrets", "rotate", keys=f"{newer},{ENCRYPTION_KEYS}")
        assert rotated.exit_code == 0, rotated.output
        assert "2 stored secret(s) encrypted with the first key" in rotated.output
        token = stored_rows(database)[0]["secret_token"]
        assert token != before
        only_new = Keyring.from_setting(newer)
        assert only_new is not None
        assert only_new.decrypt(token) == hook["secret"]
        with database.engine.connect() as connection:
            (kept,) = connection.execute(text("SELECT body FROM api_idempotency")).scalars()
        assert json.loads(only_new.decrypt(kept.removeprefix("sealed:"))) == hook

        client.contract()
        settings = WebhookSettings.from_config(
            {"ENCRYPTION_KEYS": newer, "WEBHOOK_ALLOW_HOSTS": "127.0.0.1"}
        )
        (outcome,) = deliver_due(app.extensions["tranche"], settings)
    assert outcome.status == "delivered"
    ((headers, body),) = receiver.received
    assert verify(hook["secret"], headers["Tranche-Signature"], body)


def test_a_secret_no_key_reads_is_a_classified_failure(client: Client, app: Flask) -> None:
    client.post("/v1/webhooks", {"url": "https://hooks.example.com/x"})
    client.contract()
    settings = WebhookSettings.from_config({"ENCRYPTION_KEYS": new_key()})
    (outcome,) = deliver_due(app.extensions["tranche"], settings)
    assert (outcome.status, outcome.error) == ("pending", "secret_unreadable")


def test_new_key_prints_a_usable_key(database: Database) -> None:
    result = tranche_cli(database, "secrets", "new-key")
    assert result.exit_code == 0
    assert Keyring.from_setting(result.output.strip()) is not None


CLEAR_ROW = (
    "INSERT INTO webhook_subscriptions (id, tenant, url, secret, created_at)"
    " VALUES ('wh_old', 't1', 'https://hooks.example.com/', 'whsec_in_clear', :at)"
)
RAW_ERROR = (
    "INSERT INTO webhook_deliveries (id, subscription_id, tenant, event_id, position, status,"
    " attempts, next_attempt_at, last_error, created_at) VALUES ('dl_old', 'wh_old', 't1', 1, 1,"
    " 'pending', 1, :at, 'URLError: <urlopen error [Errno 111] Connection refused>', :at)"
)


def test_the_migration_encrypts_existing_secrets(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0011 on a database holding a secret in clear and a raw error: refused (changing
    nothing) without a key; with one, the secret is a token and the error a code; and
    the downgrade gives the secret back."""
    migrations = database.migrations()
    command.downgrade(migrations, BEFORE)
    try:
        with database.engine.begin() as connection:
            at = {"at": "2026-11-24 09:00:00+00:00"}
            connection.execute(text(CLEAR_ROW), at)
            connection.execute(text(RAW_ERROR), at)
        monkeypatch.delenv("TRANCHE_ENCRYPTION_KEYS", raising=False)
        refused = tranche_cli(database, "db", "upgrade")
        assert refused.exit_code == 1
        assert "1 webhook secret(s) must be encrypted: set TRANCHE_ENCRYPTION_KEYS" in (
            refused.output
        )
        assert stored_rows(database)[0]["secret"] == "whsec_in_clear"

        monkeypatch.setenv("TRANCHE_ENCRYPTION_KEYS", ENCRYPTION_KEYS)
        command.upgrade(migrations, "heads")
        (row,) = stored_rows(database)
        assert "secret" not in row
        keyring = Keyring.from_setting(ENCRYPTION_KEYS)
        assert keyring is not None
        assert keyring.decrypt(row["secret_token"]) == "whsec_in_clear"
        with database.engine.connect() as connection:
            error = connection.scalar(text("SELECT last_error FROM webhook_deliveries"))
        assert error == "unclassified"

        command.downgrade(migrations, BEFORE)
        assert stored_rows(database)[0]["secret"] == "whsec_in_clear"
    finally:
        monkeypatch.setenv("TRANCHE_ENCRYPTION_KEYS", ENCRYPTION_KEYS)
        command.upgrade(migrations, "heads")
