"""What both parties always see: agreed, funded, in escrow, paid to date, refunded, remaining.

Figures are sums of ledger postings (one grouped query), never a stored total, so
they cannot drift from the ledger. Invariant 4 holds by construction:
funded = released + refunded + in escrow; paid = released + direct; remaining = agreed - paid.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import bindparam, func, select
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

    @classmethod
    def opening(cls, currency: str, agreed: int) -> Summary:
        """The figures of a contract or milestone created by this very command: no money yet."""
        return cls(currency, agreed, 0, 0, 0, 0, 0, 0, 0, agreed)

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


def _grouped(column: Any) -> Any:
    """Totals by account and entry kind for one owner (built once: building costs more)."""
    return (
        select(Posting.account, LedgerEntry.kind, func.sum(Posting.amount))
        .join(LedgerEntry, LedgerEntry.id == Posting.entry_id)
        .where(column == bindparam("owner"))
        .group_by(Posting.account, LedgerEntry.kind)
    )


_BY_CONTRACT = _grouped(Posting.contract_id)
_BY_MILESTONE = _grouped(Posting.milestone_id)


def summarize(session: Session, currency: str, agreed: int, by: Any, owner: str) -> Summary:
    """The figures of one contract (`by` _BY_CONTRACT) or milestone (_BY_MILESTONE)."""
    t = {
        (account, kind): int(total)
        for account, kind, total in session.execute(by, {"owner": owner})
    }
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
    return summarize(session, contract.currency, contract.agreed_amount, _BY_CONTRACT, contract.id)


def milestone_summary(session: Session, milestone: Any, currency: str) -> Summary:
    return summarize(session, currency, milestone.amount, _BY_MILESTONE, milestone.id)
