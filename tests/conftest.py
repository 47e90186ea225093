"""Shared fixtures: a fresh database per test on SQLite and, where reachable, PostgreSQL.

PostgreSQL tests use a throwaway database created for this test session on the
server named by TRANCHE_TEST_POSTGRES_URL (default: the local server's `test`
database as user postgres). Without a reachable server they skip, with the
reason; with TRANCHE_REQUIRE_POSTGRES=1 (set by .ci/run) they fail instead.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from argon2 import PasswordHasher, profiles
from hypothesis import HealthCheck, settings
from sqlalchemy import text

import arbitration.models  # noqa: F401  (truncated between PostgreSQL tests too)
from arbitration import staff
from engine.domain.actors import Actor
from engine.domain.clock import FixedClock
from engine.service.tranche import Tranche
from engine.store import notice_models as _notice_models  # noqa: F401  (truncated too)
from engine.store import reconciliation as _reconciliation  # noqa: F401  (truncated too)
from engine.store.db import Database
from engine.store.models import Base
from web.api import models as _api_models  # noqa: F401  (their tables are truncated too)

pytest_plugins = ["arb_helpers"]  # the `arb` and `people` fixtures of arbitration stories

settings.register_profile(
    "ci", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "dev", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

PG_URL = os.environ.get("TRANCHE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
needs_graphviz = pytest.mark.skipif(
    shutil.which("dot") is None and os.environ.get("CI") != "true",
    reason="Graphviz's `dot` is not installed (apt-get install graphviz; .ci/run installs it)",
)
"""For tests of SVG/PNG drawings; in CI (CI=true) they run, and fail if `dot` is missing."""
BUYER, PROVIDER, STRANGER = Actor("buyer-1"), Actor("provider-1"), Actor("stranger-1")
KEEP = {"policy_versions", "alembic_version"}


CHEAP_HASHER = PasswordHasher.from_parameters(profiles.CHEAPEST)
CHEAP_DUMMY = CHEAP_HASHER.hash("an unguessable dummy password for timing")


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at its cheapest parameters: tests check who may sign in, not what a guess
    costs (about 0.3 s a hash here at the real parameters, and sign-in tests make dozens)."""
    monkeypatch.setattr(staff, "_hasher", CHEAP_HASHER)
    monkeypatch.setattr(staff, "_DUMMY", CHEAP_DUMMY)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy (much faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    database = Database(f"sqlite:///{path}")
    database.upgrade()
    database.dispose()
    return path


@pytest.fixture
def sqlite_database(sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "tranche.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped at the end."""
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL not reachable at {PG_URL} ({exc.__class__.__name__}); set "
        reason += "TRANCHE_TEST_POSTGRES_URL to a server where the user may CREATE DATABASE"
        if os.environ.get("TRANCHE_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"tranche_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    database = Database(url)
    database.upgrade()
    database.dispose()
    try:
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


TABLES = [t.name for t in Base.metadata.sorted_tables if t.name not in KEEP]
# The tables a test wrote to, then the sequences of all of them that moved (a rolled-back
# INSERT moves one and leaves its table empty). TRUNCATE costs ~100 ms for all 36 tables,
# and most tests touch a few: emptying only those keeps ~500 tests a minute faster.
USED_TABLES = text(
    " UNION ALL ".join(f"SELECT '{t}' WHERE EXISTS (SELECT FROM {t})" for t in TABLES)
)
MOVED_SEQUENCES = text(
    "SELECT s.schemaname || '.' || s.sequencename FROM pg_sequences AS s"
    " JOIN pg_class AS q ON q.relname = s.sequencename"
    " JOIN pg_depend AS d ON d.objid = q.oid AND d.deptype IN ('a', 'i')"
    " JOIN pg_class AS t ON t.oid = d.refobjid"
    " WHERE s.last_value IS NOT NULL AND t.relname = ANY(:tables)"
).bindparams(tables=TABLES)


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[Database]:
    """The session's database, every table emptied and every id sequence back at 1."""
    database = Database(postgres_url)
    with database.engine.begin() as connection:
        used = connection.execute(USED_TABLES).scalars().all()
        if used:
            connection.execute(text(f"TRUNCATE {', '.join(used)} RESTART IDENTITY CASCADE"))
        for sequence in connection.execute(MOVED_SEQUENCES).scalars().all():
            connection.execute(text(f"ALTER SEQUENCE {sequence} RESTART"))
    database.policy_cache.clear()
    yield database
    database.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> Database:
    """Integration tests take this one: they run once per backend."""
    return request.getfixturevalue(f"{request.param}_database")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def tranche(database: Database, clock: FixedClock) -> Tranche:
    return Tranche(database, clock)


@pytest.fixture
def contract(tranche: Tranche):
    """A USD contract of 1,000.00 between BUYER and PROVIDER on the default policy."""
    return tranche.create_contract(
        buyer_id=BUYER.id,
        provider_id=PROVIDER.id,
        currency="USD",
        agreed_amount=100_000,
        title="Test work",
    )


@pytest.fixture
def milestone(tranche: Tranche, contract):
    """A proposed milestone of 250.00 USD."""
    return tranche.add_milestone(contract.id, title="First part", amount=25_000)
