"""A contract's statement for its parties: every movement in order, with running balances.

Pure: the store hands over the contract's ledger entries in id order (the ledger is
append-only, so that is the order they happened in), each with its legs, its
milestone's title and the rail's record that explains it; `build` turns them into rows.
The balances after each row are the contract summary's own figures
(`engine.domain.summary.figures`) over the postings so far, so the last row's are, by
construction, what the contract's summary shows; beside them, what the rail paid out to
the parties on this contract and what they owe on it (a debt: a negative `payable`,
left by a chargeback the provider bore beyond what they had).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.domain.errors import ValidationError
from engine.domain.ledger_legs import (
    CHARGEBACK,
    DEBT_OFFSET,
    DIRECT,
    FUNDING_CLOSED,
    FUNDING_OPENED,
    MATURED,
    PAID_OUT,
    PAYABLE,
    PAYOUT,
    PAYOUT_FAILED,
    PAYOUT_PAID,
    PAYOUT_REVERSED,
    PLATFORM_FEES,
    Leg,
)
from engine.domain.money import Money
from engine.domain.policy.vocabulary import HOLD, PARTIES, REFUND, RELEASE
from engine.domain.summary import Summary, figures

COLUMNS = (
    ("agreed", "agreed"),
    ("funded", "funded"),
    ("pending_funding", "pending funding"),
    ("in_escrow", "in escrow"),
    ("paid_to_date", "paid to date"),
    ("refunded", "refunded"),
    ("fees", "fees"),
    ("paid_out", "paid out by the rail"),
    ("debt", "debts"),
)
"""The running balances of every row, by name and label, in the order they are shown."""


@dataclass(frozen=True, slots=True)
class Record:
    """The rail's record behind an entry: a funding, a payout (or refund) or a chargeback."""

    kind: str  # "funding", "payout", "refund" or "chargeback"
    label: str  # the rail's reference, else the record's own id
    status: str
    party_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """One ledger entry of the contract: its legs name party accounts by role."""

    id: int
    at: datetime
    kind: str
    memo: str
    legs: tuple[Leg, ...]
    milestone: str | None = None  # the milestone's title
    record: Record | None = None
    reverses_id: int | None = None

    @property
    def amount(self) -> int:
        """What moved: the sum of the legs on one side (they balance)."""
        return sum(leg.amount for leg in self.legs if leg.amount > 0)


@dataclass(frozen=True, slots=True)
class Balances:
    """The figures after a movement: the contract summary's, what the rail paid out to the
    parties on this contract, and what they owe on it."""

    summary: Summary
    paid_out: int = 0
    debt: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Every figure of the summary, and the rail's."""
        return self.summary.as_dict() | {"paid_out": self.paid_out, "debt": self.debt}

    def labelled(self) -> list[tuple[str, int]]:
        """The summary's labelled figures, with the rail's before what remains."""
        *figures, remaining = self.summary.labelled()
        rail = [(label, self.as_dict()[name]) for name, label in COLUMNS[-2:]]
        return [*figures, *rail, remaining]

    def values(self) -> dict[str, int]:
        """Each of COLUMNS by name."""
        figures = self.as_dict()
        return {name: figures[name] for name, _ in COLUMNS}


@dataclass(frozen=True, slots=True)
class Row:
    entry_id: int
    at: datetime
    milestone: str | None
    what: str
    amount: int
    balances: Balances


@dataclass(frozen=True, slots=True)
class Statement:
    """A contract's statement, as of `generated_at`, optionally prepared for one party."""

    contract_id: str
    title: str
    buyer_id: str
    provider_id: str
    currency: str
    agreed: int
    opened_at: datetime
    generated_at: datetime
    rows: tuple[Row, ...]
    party: str | None = None  # "buyer" or "provider": whom it is prepared for

    @property
    def closing(self) -> Balances:
        """The balances after the last movement (the opening figures if nothing moved)."""
        if self.rows:
            return self.rows[-1].balances
        return Balances(Summary.opening(self.currency, self.agreed))

    @property
    def party_id(self) -> str | None:
        return {"buyer": self.buyer_id, "provider": self.provider_id}.get(self.party or "")

    def money(self, minor: int, grouped: bool = True) -> str:
        """An amount in the contract's currency and its decimals, without the code."""
        return Money(minor, self.currency).decimal(grouped)


def running(currency: str, agreed: int, entries: Iterable[Entry]) -> Iterator[Balances]:
    """The balances after each entry, in order."""
    totals: dict[tuple[str, str], int] = defaultdict(int)
    payable: dict[str | None, int] = defaultdict(int)
    paid_out = 0
    for entry in entries:
        for leg in entry.legs:
            totals[(leg.account, entry.kind)] += leg.amount
            if leg.account == PAYABLE:
                payable[leg.party] += leg.amount
            elif leg.account == PAID_OUT:
                paid_out += leg.amount
        debt = sum(-owed for owed in payable.values() if owed < 0)
        yield Balances(figures(currency, agreed, totals), paid_out, debt)


def build(
    *,
    contract_id: str,
    title: str,
    buyer_id: str,
    provider_id: str,
    currency: str,
    agreed: int,
    opened_at: datetime,
    generated_at: datetime,
    entries: Iterable[Entry],
    party: str | None = None,
) -> Statement:
    if party is not None and party not in PARTIES:
        raise ValidationError(
            f"party must be buyer or provider, not {party!r}", field="party", party=party
        )
    entries = list(entries)
    parties = {"buyer": buyer_id, "provider": provider_id}
    rows = tuple(
        Row(
            entry.id,
            entry.at,
            entry.milestone,
            describe(entry, currency, parties),
            entry.amount,
            balances,
        )
        for entry, balances in zip(entries, running(currency, agreed, entries), strict=True)
    )
    return Statement(
        contract_id,
        title,
        buyer_id,
        provider_id,
        currency,
        agreed,
        opened_at,
        generated_at,
        rows,
        party,
    )


WHY = {
    "approve": "the buyer approved",
    "release": "the buyer released part",
    "review_period_elapsed": "the review period elapsed",
    "refund": "the provider refunded",
    "accept_refund": "the provider accepted the refund request",
    "refund_deadline_passed": "the refund request went unanswered",
    "accept_offer": "a settlement was accepted",
    "rule": "a staff ruling",
}
"""Why escrow moved, by the bundled policies' events; another policy's event is named."""


def describe(entry: Entry, currency: str, parties: Mapping[str, str]) -> str:
    """What happened, in plain words."""
    kind, memo, record = entry.kind, entry.memo, entry.record
    why = WHY.get(memo, memo.replace("_", " "))
    if kind == HOLD:
        return f"{parties['buyer']} funded the milestone into escrow"
    if kind == RELEASE:
        fee = sum(leg.amount for leg in entry.legs if leg.account == PLATFORM_FEES)
        text = f"released to {parties['provider']} ({why})"
        return text + (f", less the platform fee of {Money(fee, currency)}" if fee else "")
    if kind == REFUND:
        return f"refunded to {parties['buyer']} from escrow ({why})"
    if kind == DIRECT:
        return f"{parties['buyer']} paid {parties['provider']} directly" + (
            f": {memo}" if memo else ""
        )
    if kind == MATURED:
        role = next((leg.party for leg in entry.legs if leg.party), None)
        return f"security hold ended: available to pay out to {parties.get(str(role), role)}"
    if kind == DEBT_OFFSET:
        return f"debt offset: {memo}"
    if record is None:
        return f"{kind.replace('_', ' ')}" + (f": {memo}" if memo else "")
    return _rail_words(kind, record, entry.reverses_id is not None)


def _rail_words(kind: str, record: Record, reversal: bool) -> str:
    label = record.label
    if kind == FUNDING_OPENED:
        return f"funding {label} opened: pending until the rail confirms the charge"
    if kind == FUNDING_CLOSED:
        if record.status == "confirmed":
            return f"the rail confirmed funding {label}"
        reason = f": {record.reason}" if record.reason else ""
        return f"funding {label} {record.status}{reason}; nothing was held"
    if kind == CHARGEBACK:
        if reversal:
            return f"chargeback {label} won: what it took is given back"
        reason = f" ({record.reason})" if record.reason else ""
        return f"chargeback {label}{reason}: the card network took the money back"
    what = f"{record.kind} {label} to {record.party_id}"
    if kind == PAYOUT:
        return f"{what} recorded: in flight at the rail"
    if kind == PAYOUT_PAID:
        return f"{what} paid by the rail"
    if kind == PAYOUT_FAILED:
        reason = f": {record.reason}" if record.reason else ""
        return f"{what} failed{reason}; available again"
    if kind == PAYOUT_REVERSED:
        return f"{what} reversed by the rail; owed again"
    return f"{kind.replace('_', ' ')} ({label})"
