"""`tranche apikey create` prints a working key once and stores only its hash; a revocation
acts once."""

from __future__ import annotations

import hashlib

import pytest
from click.testing import CliRunner
from racing import WON, race
from sqlalchemy import select

from api.helpers import ENCRYPTION_KEYS
from engine.domain.errors import ConflictError
from engine.store.db import Database
from web.api.auth import create_key, revoke_key
from web.api.models import ApiKey
from web.app import create_app
from web.cli import main


def test_created_key_authenticates_and_is_stored_hashed(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    runner = CliRunner()
    assert runner.invoke(main, ["--database-url", url, "db", "upgrade"]).exit_code == 0
    result = runner.invoke(main, ["--database-url", url, "apikey", "create", "acme"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("tr_")
    database = Database(url)
    with database.session() as session:
        row = session.scalars(select(ApiKey)).one()
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in (row.key_hash, row.prefix)
    auth = {"Authorization": f"Bearer {key}"}
    client = create_app({"DATABASE_URL": url, "AUTO_UPGRADE": False}).test_client()
    assert client.get("/v1/contracts", headers=auth).status_code == 200
    revoked = runner.invoke(main, ["--database-url", url, "apikey", "revoke", row.id])
    assert revoked.exit_code == 0
    fresh = create_app({"DATABASE_URL": url, "AUTO_UPGRADE": False}).test_client()
    assert fresh.get("/v1/contracts", headers=auth).status_code == 401
    empty = runner.invoke(main, ["--database-url", url, "apikey", "create", " "])
    assert empty.exit_code == 2
    keys = {"TRANCHE_ENCRYPTION_KEYS": ENCRYPTION_KEYS}  # `deliver` refuses to start without
    delivered = runner.invoke(main, ["--database-url", url, "deliver", "--once"], env=keys)
    assert delivered.exit_code == 0, delivered.output
    database.dispose()


def test_a_key_revoked_by_many_at_once_is_revoked_once(database: Database) -> None:
    row, _ = create_key(database, "acme")
    results = race([lambda: revoke_key(database, row.id) or refuse() for _ in range(8)])
    assert sorted(results) == [ConflictError.code] * 7 + [WON]
    with database.session() as session:
        assert session.get(ApiKey, row.id).revoked_at is not None


def test_a_rotated_key_joins_a_tenant_that_exists(database: Database) -> None:
    first, _ = create_key(database, "acme")
    second, _ = create_key(database, "acme, rotated", tenant=first.tenant)
    assert second.tenant == first.tenant
    with pytest.raises(ValueError, match="no key has tenant 'key_typo'"):
        create_key(database, "acme, typo", tenant="key_typo")


def refuse() -> None:
    """What a racer that found the key revoked already reports."""
    raise ConflictError("already revoked")


def test_a_test_key_starts_a_sandbox_and_never_joins_a_live_tenant(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    runner = CliRunner()
    assert runner.invoke(main, ["--database-url", url, "db", "upgrade"]).exit_code == 0
    made = runner.invoke(main, ["--database-url", url, "apikey", "create", "try", "--test"])
    assert made.exit_code == 0, made.output
    assert made.output.strip().splitlines()[-1].startswith("tr_test_")
    live = runner.invoke(main, ["--database-url", url, "apikey", "create", "prod"])
    tenant = live.output.split("tenant ", 1)[1].split(";", 1)[0]
    refused = runner.invoke(
        main, ["--database-url", url, "apikey", "create", "x", "--test", "--tenant", tenant]
    )
    assert refused.exit_code == 2
    assert f"tenant {tenant!r} is a live tenant" in refused.output
