"""Finance reports over the ledger: money held for others, and how long it has been owed.

Each is as of an instant (ISO 8601 with its zone; now when none is given), for one
tenant or, from the command line, every tenant (engine.domain.liability says what the
figures mean, engine.store.liability how they are read).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from engine.domain.liability import Aging, Liability, aged, parse_instant
from engine.service.uow import UnitOfWork
from engine.store import liability as store

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Report(Generic[T]):
    """A report's lines, as of the instant, for the tenant (None: every tenant)."""

    as_of: datetime
    tenant: str | None
    lines: list[T]

    def as_dict(self) -> dict[str, Any]:
        lines = [line.as_dict() for line in self.lines]  # type: ignore[attr-defined]
        return {"as_of": self.as_of.isoformat(), "tenant": self.tenant, "data": lines}


def _as_of(uow: UnitOfWork, as_of: str | None) -> datetime:
    now = uow.clock.now()
    return now if as_of is None else parse_instant(as_of, now)


def liability(uow: UnitOfWork, as_of: str | None, tenant: str | None) -> Report[Liability]:
    """Held for others per currency, as of the instant (None: now)."""
    moment = _as_of(uow, as_of)
    return Report(moment, tenant, store.liability(uow.session, moment, tenant))


def aging(uow: UnitOfWork, as_of: str | None, tenant: str | None) -> Report[Aging]:
    """What each party is owed, by age, as of the instant (None: now)."""
    moment = _as_of(uow, as_of)
    return Report(moment, tenant, aged(store.owed_credits(uow.session, moment, tenant), moment))
