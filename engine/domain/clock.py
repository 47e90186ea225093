"""Time as a dependency, so tests and rehearsals move it without sleeping."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until told to move: tests, `sweep --now`, the demo."""

    def __init__(self, at: datetime) -> None:
        self._at = as_utc(at)

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        self._at += delta

    def set(self, at: datetime) -> None:
        self._at = as_utc(at)


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes (SQLite gives those back) are UTC by convention here."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_TENANT_NOW: ContextVar[datetime | None] = ContextVar("tenant_now", default=None)
"""A sandbox tenant's frozen time for the work in hand (engine.domain.sandbox)."""


@contextmanager
def tenant_time(moment: datetime | None) -> Iterator[None]:
    """Inside this block every unit of work tells `moment` (a sandbox tenant's test
    clock); None leaves the clock alone (a live tenant)."""
    token = _TENANT_NOW.set(None if moment is None else as_utc(moment))
    try:
        yield
    finally:
        _TENANT_NOW.reset(token)


def effective(clock: Clock) -> Clock:
    """`clock`, or the sandbox tenant's frozen time when one is in force (tenant_time)."""
    moment = _TENANT_NOW.get()
    return clock if moment is None else FixedClock(moment)
