"""What last happened in a case, in words: for a staff member whose page is out of date.

A form carries the case's version; when the case moved on meanwhile, the refusal
names the last change (taken by whom, a party's new statement, a ruling sent back)
and when, rather than a bare "conflict".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from arbitration.errors import StaleCaseError
from arbitration.models import Evidence, Offer, Staff, StaffAudit, Statement
from engine.domain.clock import as_utc
from engine.service.uow import UnitOfWork
from engine.store.models import Dispute

_STAFF_WORDS = {
    "claim": "taken by {who}",
    "assign": "reassigned by {who}",
    "rule": "ruled on by {who}",
    "approve": "ruling approved by {who}",
    "decline": "ruling sent back by {who}",
}


@dataclass(frozen=True, slots=True)
class Change:
    what: str
    at: datetime

    def __str__(self) -> str:
        return f"{self.what} at {as_utc(self.at).strftime('%H:%M UTC on %Y-%m-%d')}"


def _staff_change(uow: UnitOfWork, dispute_id: str) -> Change | None:
    row = uow.session.scalars(
        select(StaffAudit)
        .where(StaffAudit.dispute_id == dispute_id, StaffAudit.action.in_(_STAFF_WORDS))
        .order_by(StaffAudit.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    names = {s.id: s.email for s in uow.session.scalars(select(Staff))}
    who = names.get(row.staff_id or "", row.staff_id or "the platform")
    what = _STAFF_WORDS[row.action].format(who=who)
    if row.action == "assign":
        after = json.loads(row.detail or "{}").get("after")
        what += f" to {names.get(after, after)}" if after else " (now unassigned)"
    return Change(what, row.created_at)


def _party_change(uow: UnitOfWork, dispute_id: str) -> Change | None:
    latest: list[Change] = []
    for model, when, role, noun in (
        (Statement, Statement.created_at, Statement.author_role, "a statement"),
        (Evidence, Evidence.created_at, Evidence.author_role, "evidence"),
        (Offer, Offer.created_at, Offer.offered_by_role, "a settlement offer"),
    ):
        query = select(role, when).where(model.dispute_id == dispute_id)
        if model is Statement:
            query = query.where(Statement.staff_only.is_(False))
        row = uow.session.execute(query.order_by(when.desc()).limit(1)).first()
        if row is not None:
            latest.append(Change(f"the {row[0]} added {noun}", row[1]))
    return max(latest, key=lambda c: as_utc(c.at), default=None)


def last_change(uow: UnitOfWork, dispute: Dispute) -> Change:
    found = [c for c in (_staff_change(uow, dispute.id), _party_change(uow, dispute.id)) if c]
    if not found:
        return Change(f"the case became {dispute.status.replace('_', ' ')}", dispute.updated_at)
    return max(found, key=lambda c: as_utc(c.at))


def check_version(uow: UnitOfWork, dispute: Dispute, expected: int | None) -> None:
    """Refuse a command made from a page that showed another version of the case."""
    if expected is None or dispute.version == expected:
        return
    change = last_change(uow, dispute)
    raise StaleCaseError(
        f"This case changed since your page was loaded: {change}. Nothing was done; "
        "read the case again.",
        dispute_id=dispute.id,
        expected_version=expected,
        current_version=dispute.version,
        change=str(change),
    )
