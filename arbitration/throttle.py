"""Sign-in throttling per account and per client address, with exponential back-off.

Each failed sign-in counts against two keys: the email typed (staff or not, so the
answers never tell which emails have an account) and the client's address. A key has
a few free failures; each failure past them blocks the key for `backoff_base * 2**n`,
up to a cap, and a key left alone for `forget_failures_after` past its block starts
afresh. An address has fewer free failures and a far longer cap than an account: one
stranger is stopped at their own address long before they can block an account, and an
account's block (there against guessing spread over many addresses) stays short.

The keys' rows are locked before they are read (created first if new; FOR UPDATE on
PostgreSQL, and SQLite's writer holds the whole database), so attempts sent at once are
counted one after the other: none slips past the count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from arbitration.models import LoginThrottle
from arbitration.settings import Settings
from engine.service.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Rule:
    free: int
    cap: timedelta


@dataclass(slots=True)
class Keys:
    """The locked rows of one attempt: the account's, then the address's."""

    account: LoginThrottle
    address: LoginThrottle

    def blocked_until(self, now: datetime) -> datetime | None:
        ends = [r.blocked_until for r in (self.account, self.address) if r.blocked_until]
        latest = max(ends, default=None)
        return latest if latest is not None and latest > now else None


def account_key(email: str) -> str:
    return f"account:{email}"[:300]


def lock(uow: UnitOfWork, email: str, address: str, settings: Settings) -> Keys:
    """Both rows of this attempt, locked, created if new, forgotten if long quiet."""
    names = (account_key(email), f"address:{address}"[:300])
    insert = postgres_insert if uow.database.is_postgres else sqlite_insert
    uow.session.execute(
        insert(LoginThrottle).on_conflict_do_nothing(),
        [{"key": name, "failures": 0} for name in names],
    )
    query = select(LoginThrottle).where(LoginThrottle.key.in_(names)).order_by(LoginThrottle.key)
    if uow.database.is_postgres:
        query = query.with_for_update()
    found = uow.session.scalars(query.execution_options(populate_existing=True))
    rows = {row.key: row for row in found}
    now = uow.clock.now()
    for row in rows.values():
        quiet_since = max(filter(None, (row.last_failure_at, row.blocked_until)), default=None)
        if quiet_since is not None and now - quiet_since > settings.forget_failures_after:
            row.failures, row.blocked_until = 0, None
    return Keys(rows[names[0]], rows[names[1]])


def failed(keys: Keys, settings: Settings, now: datetime) -> None:
    """Count a failure against both keys; past the free ones, block them for a while."""
    for row, rule in (
        (keys.account, Rule(settings.account_free_failures, settings.account_backoff_cap)),
        (keys.address, Rule(settings.address_free_failures, settings.address_backoff_cap)),
    ):
        row.failures += 1
        row.last_failure_at = now
        past = row.failures - rule.free
        if past >= 0:
            row.blocked_until = now + min(settings.backoff_base * 2 ** min(past, 30), rule.cap)


def forgive_account(keys: Keys) -> None:
    """A right password clears the account's count (not the address's: its back-off stays)."""
    keys.account.failures, keys.account.blocked_until = 0, None


def clear_account(uow: UnitOfWork, email: str) -> bool:
    """Forget an account's failures and end its block (staff unlocking it); True if any."""
    result = uow.session.execute(
        delete(LoginThrottle).where(LoginThrottle.key == account_key(email))
    )
    return bool(getattr(result, "rowcount", 0))


def purge(uow: UnitOfWork, settings: Settings) -> int:
    """Forget keys with nothing left to remember (run by `tranche sweep`)."""
    cutoff = uow.clock.now() - settings.forget_failures_after
    result = uow.session.execute(
        delete(LoginThrottle).where(
            or_(LoginThrottle.last_failure_at.is_(None), LoginThrottle.last_failure_at < cutoff),
            or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until < cutoff),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
