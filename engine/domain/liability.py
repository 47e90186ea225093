"""Money held for others, and how long it has been owed: pure, no database.

*Liability* is what the platform holds that belongs to someone else, per currency, as
of an instant: the escrow of every milestone, and what is owed to each party (in the
security hold, available, in flight to them). A party whose `payable` went negative
owes the platform instead: that *debt* is shown on its own line, never netted against
what others are owed, and a pending funding (the rail has not confirmed the charge) is
shown beside escrow, never counted as held. The figures are sums of postings
(engine.domain.ledger_legs), as engine.store.liability reads them.

*Aging* says how long what each party is owed has been owed, first in, first out: every
debit of the party (a payout, a chargeback) pays their oldest credits first, so what
they are owed now is their newest credits; each is aged from its entry to the instant.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from engine.domain.clock import as_utc
from engine.domain.errors import ValidationError

AGE_BUCKETS = ((7, "0-7"), (30, "8-30"), (60, "31-60"), (90, "61-90"), (None, ">90"))
"""Upper bound (whole days, inclusive) and label of each age bucket, youngest first."""


class InvalidInstantError(ValidationError):
    """A report is as of a precise, past instant: ISO 8601 with its zone."""

    code = "invalid_as_of"


def parse_instant(text: str, now: datetime) -> datetime:
    """The instant `text` names (ISO 8601 with a zone, like 2026-10-31T23:59:59Z), in UTC.

    A date alone, a moment without its zone, or an instant after `now` (whose postings
    may still come) is refused, naming what is wrong."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInstantError(
            f"{text!r} is not an ISO 8601 instant (like 2026-10-31T23:59:59Z)", field="as_of"
        ) from None
    if moment.tzinfo is None:
        raise InvalidInstantError(
            f"{text!r} has no time zone: add Z or an offset like +02:00", field="as_of"
        )
    moment = as_utc(moment)
    if moment > now:
        raise InvalidInstantError(
            f"{text!r} is in the future (now is {now.isoformat()}): later postings may still come",
            field="as_of",
        )
    return moment


@dataclass(frozen=True, slots=True)
class Liability:
    """What the platform holds for others in one currency (minor units), as of an instant.

    `total` = in escrow + held (the security hold) + available + in flight; pending
    funding and debts are shown beside it, not in it."""

    currency: str
    in_escrow: int = 0
    pending_funding: int = 0
    held: int = 0
    available: int = 0
    in_flight: int = 0
    debts: int = 0

    @property
    def total(self) -> int:
        return self.in_escrow + self.held + self.available + self.in_flight

    def as_dict(self) -> dict[str, int | str]:
        return asdict(self) | {"total": self.total}


FIGURES = tuple(name for name in Liability.__dataclass_fields__ if name != "currency")
"""The figures of a liability line, in order (its total aside)."""


@dataclass(frozen=True, slots=True)
class Credit:
    """The part `amount` of one credit to a party that is still owed, and when it came."""

    tenant: str
    party_id: str
    currency: str
    at: datetime
    amount: int


@dataclass(slots=True)
class Aging:
    """What one party is owed in one currency, by age bucket (labels of AGE_BUCKETS)."""

    tenant: str
    party_id: str
    currency: str
    buckets: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys((label for _, label in AGE_BUCKETS), 0)
    )

    @property
    def owed(self) -> int:
        return sum(self.buckets.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "tenant": self.tenant,
            "party_id": self.party_id,
            "currency": self.currency,
            "owed": self.owed,
            "buckets": dict(self.buckets),
        }


def bucket_of(age: timedelta) -> str:
    """The label of the bucket an age (counted in whole days) falls in."""
    days = age.days
    return next(label for top, label in AGE_BUCKETS if top is None or days <= top)


def aged(credits: Iterable[Credit], as_of: datetime) -> list[Aging]:
    """Each party's still-owed credits summed by age, in the order the credits come."""
    found: dict[tuple[str, str, str], Aging] = {}
    for credit in credits:
        key = (credit.tenant, credit.party_id, credit.currency)
        row = found.setdefault(key, Aging(*key))
        row.buckets[bucket_of(as_of - credit.at)] += credit.amount
    return list(found.values())
