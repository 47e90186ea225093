"""The parties' figures summed from the ledger: a contract's, and the audit of every milestone's.

`engine.domain.summary` defines each figure once; these queries feed it postings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from engine.domain.summary import CACHED, Mismatch, Summary, figures, milestone_summary
from engine.store.models import LedgerEntry, Milestone, Posting

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


_BY_MILESTONE = (
    select(Posting.milestone_id, Posting.account, LedgerEntry.kind, func.sum(Posting.amount))
    .join(LedgerEntry, LedgerEntry.id == Posting.entry_id)
    .where(Posting.milestone_id.is_not(None))
    .group_by(Posting.milestone_id, Posting.account, LedgerEntry.kind)
)
_ROWS = select(
    Milestone.id,
    Milestone.contract_id,
    Milestone.amount,
    Milestone.escrow,
    Milestone.funded,
    Milestone.released,
    Milestone.refunded,
    Milestone.fees,
    Milestone.pending_funding,
    Milestone.charged_back,
).order_by(Milestone.id)


def cached_mismatches(session: Session) -> list[Mismatch]:
    """Every milestone figure whose row differs from its postings: empty unless a posting
    went uncounted or the row was edited behind the engine's back."""
    return [mismatch for _, mismatch in mismatches(session)]


def mismatches(
    session: Session, contract_ids: Collection[str] | None = None
) -> Iterator[tuple[str, Mismatch]]:
    """(contract id, mismatch) for the milestones of `contract_ids` (or all): the audit
    asks a chunk of contracts at a time, so it never holds every milestone's sums."""
    by_milestone, rows = _BY_MILESTONE, _ROWS
    if contract_ids is not None:
        by_milestone = by_milestone.where(Posting.contract_id.in_(contract_ids))
        rows = rows.where(Milestone.contract_id.in_(contract_ids))
    totals: dict[str | None, dict[tuple[str, str], int]] = defaultdict(dict)
    for milestone_id, account, kind, total in session.execute(by_milestone):
        totals[milestone_id][(account, kind)] = int(total)
    for row in session.execute(rows):
        cached = milestone_summary(row, "")
        ledger = figures("", row.amount, totals.get(row.id, {}))
        for name in CACHED:
            if getattr(cached, name) != getattr(ledger, name):
                yield (
                    row.contract_id,
                    Mismatch(row.id, name, getattr(cached, name), getattr(ledger, name)),
                )
