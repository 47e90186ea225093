"""API keys and the caller of a request: tenant (the key) and actor (Tranche-Actor).

A key is `tr_<id>_<secret>` (`tr_test_<id>_<secret>` in test mode, whose tenant is a
sandbox: engine.domain.sandbox); only the SHA-256 of the whole key is stored, so a
leaked database does not leak usable keys. SHA-256 (not a slow password hash)
is enough because the secret is 256 random bits, never a human password.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from flask import g, request
from sqlalchemy import select, update

from engine.domain.actors import Actor, check_party_id
from engine.domain.clock import SystemClock
from engine.domain.errors import ValidationError
from engine.domain.sandbox import TEST_PREFIX, is_test_tenant
from engine.store.db import Database
from engine.store.sandbox import open_sandbox
from web.api.models import ApiKey
from web.api.problems import ProblemError

CACHE_SECONDS = 30.0
"""A key looked up once is trusted this long by this process (revocation takes effect after)."""


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    database: Database, name: str, tenant: str | None = None, test: bool = False
) -> tuple[ApiKey, str]:
    """A new key; the plain key is returned once and never stored.

    A `tenant` given must be one an existing key has (rotation), so a typo does not
    silently start a new tenant, and of the key's own mode: a test key never joins a
    live tenant, nor the reverse. A new test tenant gets its sandbox, its clock at now.
    Keys are never deleted, so the tenant's read needs no lock.
    """
    name = name.strip()
    if not name or len(name) > 100:
        raise ValueError("a key's name must be 1 to 100 characters")
    if tenant is not None:
        if is_test_tenant(tenant) != test:
            mode = "a sandbox (test)" if is_test_tenant(tenant) else "a live"
            raise ValueError(f"tenant {tenant!r} is {mode} tenant: use a key of its mode")
        with database.session(read_only=True) as session:
            if session.scalar(select(ApiKey.id).where(ApiKey.tenant == tenant).limit(1)) is None:
                raise ValueError(f"no key has tenant {tenant!r}")
    hexid = secrets.token_hex(8)
    plain = f"tr_{'test_' if test else ''}{hexid}_{secrets.token_urlsafe(32)}"
    now = SystemClock().now()
    row = ApiKey(
        id="key_" + hexid,
        name=name,
        tenant=tenant or (TEST_PREFIX + hexid if test else "key_" + hexid),
        key_hash=digest(plain),
        prefix=plain[: 16 if test else 11],
        created_at=now,
    )
    with database.session() as session, session.begin():
        session.add(row)
        if test:
            open_sandbox(session, row.tenant, now)
    return row, plain


def revoke_key(database: Database, key_id: str) -> bool:
    """True if this call revoked the key; False if it is unknown or was revoked already.

    One UPDATE that only matches an active key: of revocations sent at once, the others
    wait for the first (PostgreSQL re-reads the row) and match nothing.
    """
    with database.session() as session, session.begin():
        result = session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=SystemClock().now())
        )
        return getattr(result, "rowcount", 0) == 1


@dataclass(frozen=True, slots=True)
class Caller:
    tenant: str
    key_id: str


class KeyCache:
    """hash -> (caller, expiry); saves a query per request under load."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[Caller, float]] = {}

    def lookup(self, database: Database, key: str) -> Caller | None:
        hashed = digest(key)
        hit = self.entries.get(hashed)
        if hit and hit[1] > time.monotonic():
            return hit[0]
        with database.session(read_only=True) as session:
            row = session.scalars(
                select(ApiKey).where(ApiKey.key_hash == hashed, ApiKey.revoked_at.is_(None))
            ).first()
        if row is None:
            self.entries.pop(hashed, None)
            return None
        caller = Caller(row.tenant, row.id)
        if len(self.entries) > 10_000:
            self.entries.clear()
        self.entries[hashed] = (caller, time.monotonic() + CACHE_SECONDS)
        return caller


def authenticate(database: Database, cache: KeyCache) -> Caller:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ProblemError("unauthorized", "send 'Authorization: Bearer <API key>'")
    caller = cache.lookup(database, key.strip())
    if caller is None:
        raise ProblemError("unauthorized", "the API key is unknown or revoked")
    g.caller = caller
    return caller


def tenant() -> str:
    return g.caller.tenant


def actor(required: bool = True) -> Actor | None:
    """The acting user named by Tranche-Actor; the contract decides their role.

    Party ids are printable ASCII (engine.actors.PARTY_ID), the only text a header
    carries unchanged; anything else could never match the id the contract stores.
    """
    name = request.headers.get("Tranche-Actor")
    if name is None or not name.strip():
        if required:
            raise ProblemError(
                "validation",
                "name the acting user in the Tranche-Actor header",
                errors={"Tranche-Actor": ["Missing header."]},
            )
        return None
    try:
        return Actor(check_party_id(name.strip(), "Tranche-Actor"))
    except ValidationError as exc:
        raise ProblemError(
            "validation", exc.message, errors={"Tranche-Actor": [exc.message]}
        ) from None
