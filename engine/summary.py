"""What both parties always see: agreed, funded, in escrow, paid to date, refunded, remaining.

Every figure is defined once, over the ledger's postings (`figures`). A contract's
figures are summed from its postings by one grouped query. A milestone's are read
from its own row, which keeps them so a command can answer without a query: that
is safe because the row is changed by the same call, in the same transaction, as
the postings it counts (engine.ledger.post), so both commit or neither does, and
`tranche audit verify` (`cached_mismatches`) recomputes every milestone's figures
from its postings and names any row that disagrees. Invariant 4:
funded = released + refunded + in escrow; paid = released + direct; remaining = agreed - paid.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from engine.ledger_legs import BUYER_FUNDING, DIRECT, ESCROW, PLATFORM_FEES
from engine.models import LedgerEntry, Milestone, Posting
from engine.money import Money
from engine.rules import HOLD, REFUND, RELEASE


@dataclass(frozen=True, slots=True)
class Summary:
    currency: str
    agreed: int
    funded: int
    in_escrow: int
    released: int
    direct_payments: int
    paid_to_date: int
    refunded: int
    fees: int
    remaining: int

    @classmethod
    def of(
        cls,
        currency: str,
        agreed: int,
        *,
        funded: int,
        in_escrow: int,
        released: int,
        direct: int,
        refunded: int,
        fees: int,
    ) -> Summary:
        """The figures from the money that moved; paid to date and remaining follow from it."""
        paid = released + direct
        remaining = agreed - paid
        return cls(
            currency, agreed, funded, in_escrow, released, direct, paid, refunded, fees, remaining
        )

    @classmethod
    def opening(cls, currency: str, agreed: int) -> Summary:
        """The figures of a contract or milestone created by this very command: no money yet."""
        return cls.of(
            currency, agreed, funded=0, in_escrow=0, released=0, direct=0, refunded=0, fees=0
        )

    def as_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies every field, and every response has one.
        return {name: getattr(self, name) for name in self.__slots__}

    def lines(self) -> list[str]:
        """Human-readable lines, amounts in the currency's own decimals."""
        labels = [
            ("agreed", self.agreed),
            ("funded", self.funded),
            ("in escrow", self.in_escrow),
            ("paid to date", self.paid_to_date),
            ("refunded", self.refunded),
            ("platform fees", self.fees),
            ("remaining", self.remaining),
        ]
        return [f"{label:>14}: {Money(v, self.currency).format():>16}" for label, v in labels]


def figures(currency: str, agreed: int, totals: Mapping[tuple[str, str], int]) -> Summary:
    """The figures from postings totalled by (account, entry kind): what each figure means."""
    escrow = {kind: total for (account, kind), total in totals.items() if account == ESCROW}
    return Summary.of(
        currency,
        agreed,
        funded=escrow.get(HOLD, 0),
        in_escrow=sum(escrow.values()),
        released=-escrow.get(RELEASE, 0),
        direct=-totals.get((BUYER_FUNDING, DIRECT), 0),
        refunded=-escrow.get(REFUND, 0),
        fees=sum(total for (account, _), total in totals.items() if account == PLATFORM_FEES),
    )


_BY_CONTRACT = (
    select(Posting.account, LedgerEntry.kind, func.sum(Posting.amount))
    .join(LedgerEntry, LedgerEntry.id == Posting.entry_id)
    .where(Posting.contract_id == bindparam("contract_id"))
    .group_by(Posting.account, LedgerEntry.kind)
)


def contract_summary(session: Session, contract: Any) -> Summary:
    """A contract's figures, summed from its postings (direct payments belong to no milestone)."""
    rows = session.execute(_BY_CONTRACT, {"contract_id": contract.id})
    totals = {(account, kind): int(total) for account, kind, total in rows}
    return figures(contract.currency, contract.agreed_amount, totals)


def milestone_summary(milestone: Any, currency: str) -> Summary:
    """A milestone's figures from its row, no query (a direct payment is never a milestone's)."""
    return Summary.of(
        currency,
        milestone.amount,
        funded=milestone.funded,
        in_escrow=milestone.escrow,
        released=milestone.released,
        direct=0,
        refunded=milestone.refunded,
        fees=milestone.fees,
    )


CACHED = ("funded", "in_escrow", "released", "refunded", "fees", "direct_payments")
"""The figures a milestone's row gives; the others are arithmetic on these."""


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A milestone figure whose row disagrees with the milestone's postings."""

    milestone_id: str
    figure: str
    cached: int
    ledger: int

    def __str__(self) -> str:
        return (
            f"milestone {self.milestone_id}: {self.figure} is {self.cached} on its row, "
            f"{self.ledger} by its postings"
        )


_BY_MILESTONE = (
    select(Posting.milestone_id, Posting.account, LedgerEntry.kind, func.sum(Posting.amount))
    .join(LedgerEntry, LedgerEntry.id == Posting.entry_id)
    .where(Posting.milestone_id.is_not(None))
    .group_by(Posting.milestone_id, Posting.account, LedgerEntry.kind)
)
_ROWS = select(
    Milestone.id,
    Milestone.amount,
    Milestone.escrow,
    Milestone.funded,
    Milestone.released,
    Milestone.refunded,
    Milestone.fees,
).order_by(Milestone.id)


def cached_mismatches(session: Session) -> list[Mismatch]:
    """Every milestone figure whose row differs from its postings: empty unless a posting
    went uncounted or the row was edited behind the engine's back."""
    totals: dict[str | None, dict[tuple[str, str], int]] = defaultdict(dict)
    for milestone_id, account, kind, total in session.execute(_BY_MILESTONE):
        totals[milestone_id][(account, kind)] = int(total)
    found = []
    for row in session.execute(_ROWS):
        cached = milestone_summary(row, "")
        ledger = figures("", row.amount, totals.get(row.id, {}))
        found += [
            Mismatch(row.id, name, getattr(cached, name), getattr(ledger, name))
            for name in CACHED
            if getattr(cached, name) != getattr(ledger, name)
        ]
    return found
