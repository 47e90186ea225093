"""What both parties always see: agreed, funded, in escrow, paid to date, refunded, remaining.

Figures are sums of ledger postings (one grouped query), never a stored total, so
they cannot drift from the ledger. Invariant 4 holds by construction:
funded = released + refunded + in escrow; paid = released + direct; remaining = agreed - paid.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.ledger import BUYER_FUNDING, DIRECT, ESCROW, PLATFORM_FEES
from engine.models import LedgerEntry, Posting
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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

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


def _totals(session: Session, *where: Any) -> dict[tuple[str, str], int]:
    rows = session.execute(
        select(Posting.account, LedgerEntry.kind, func.sum(Posting.amount))
        .join(LedgerEntry, LedgerEntry.id == Posting.entry_id)
        .where(*where)
        .group_by(Posting.account, LedgerEntry.kind)
    )
    return {(account, kind): int(total) for account, kind, total in rows}


def summarize(session: Session, currency: str, agreed: int, *where: Any) -> Summary:
    t = _totals(session, *where)
    escrow = {kind: total for (account, kind), total in t.items() if account == ESCROW}
    released = -escrow.get(RELEASE, 0)
    direct = -t.get((BUYER_FUNDING, DIRECT), 0)
    fees = sum(total for (account, _), total in t.items() if account == PLATFORM_FEES)
    paid = released + direct
    return Summary(
        currency=currency,
        agreed=agreed,
        funded=escrow.get(HOLD, 0),
        in_escrow=sum(escrow.values()),
        released=released,
        direct_payments=direct,
        paid_to_date=paid,
        refunded=-escrow.get(REFUND, 0),
        fees=fees,
        remaining=agreed - paid,
    )


def contract_summary(session: Session, contract: Any) -> Summary:
    return summarize(
        session, contract.currency, contract.agreed_amount, Posting.contract_id == contract.id
    )


def milestone_summary(session: Session, milestone: Any, currency: str) -> Summary:
    return summarize(session, currency, milestone.amount, Posting.milestone_id == milestone.id)
