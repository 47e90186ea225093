"""Read models: the queue, search, pending rulings, one case's whole story, a party's view.

The queue is ordered by (due_at, id), nearest deadline first, and paged by keyset
(the last row's due_at and id), so the thousandth page costs what the first does;
the indexes on disputes serve each filter combination in that order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, literal, select, tuple_

from arbitration.disputes import ACCEPTED, APPLIED, DECLINED, PENDING, load, party_role
from arbitration.models import STATUSES, Evidence, Offer, Ruling, Staff, Statement
from engine.domain.actors import Actor
from engine.domain.decision import OPEN_STATUSES, UNDER_REVIEW
from engine.domain.errors import ValidationError
from engine.domain.money import MAX_AMOUNT, check_currency
from engine.domain.policy.document import Policy
from engine.domain.summary import Summary
from engine.service.chargebacks import chargebacks_of
from engine.service.milestones import MilestoneView, history, milestone_policy, view_milestone
from engine.service.uow import UnitOfWork
from engine.store.models import Chargeback, Contract, Dispute, Event, Milestone
from engine.store.summaries import contract_summary

UNASSIGNED = "unassigned"
LIMITS = {"min_amount": MAX_AMOUNT, "max_amount": MAX_AMOUNT, "older_than_days": 36_500}
"""A filter beyond these matches nothing that exists, and would overflow the query."""


@dataclass(frozen=True, slots=True)
class QueueFilter:
    status: str = "open"  # "open", "all", or one status
    assignee: str | None = None  # a staff id, or UNASSIGNED
    min_amount: int | None = None
    max_amount: int | None = None
    older_than_days: int | None = None
    currency: str | None = None
    """Amounts are minor units of this currency, and only its disputes are listed: an
    amount filter never compares across currencies."""

    def __post_init__(self) -> None:
        if self.status not in ("open", "all", *STATUSES):
            raise ValidationError(f"unknown status {self.status!r}", field="status")
        if self.currency is not None:
            check_currency(self.currency)
        elif self.min_amount is not None or self.max_amount is not None:
            raise ValidationError("an amount filter needs a currency", field="currency")
        for name, most in LIMITS.items():
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or not 0 <= value <= most):
                raise ValidationError(f"{name} must be a whole number from 0 to {most}", field=name)


@dataclass(frozen=True, slots=True)
class QueuePage:
    rows: list[Dispute]
    next_cursor: str | None
    assignees: dict[str, str] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    """Contract titles by contract id, for the rows' first line."""


_OPEN = bindparam("open", OPEN_STATUSES, expanding=True, literal_execute=True)
"""Written into the SQL as literals, so the planner meets the partial index on open cases
(engine.store.models.OPEN_CASE) instead of walking every closed case before them."""


def encode_cursor(row: Dispute) -> str:
    return f"{row.due_at.isoformat()}|{row.id}"


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        moment, dispute_id = cursor.split("|", 1)
        if len(dispute_id) > 40:  # a dispute id's column
            raise ValueError(dispute_id)
        return datetime.fromisoformat(moment), dispute_id
    except ValueError:
        raise ValidationError("the page cursor is malformed", field="after") from None


def queue(
    uow: UnitOfWork, filters: QueueFilter, after: str | None = None, limit: int = 50
) -> QueuePage:
    query = select(Dispute)
    if filters.status == "open":
        query = query.where(Dispute.status.in_(_OPEN))
    elif filters.status != "all":
        query = query.where(Dispute.status == filters.status)
    if filters.assignee == UNASSIGNED:
        query = query.where(Dispute.assignee_id.is_(None))
    elif filters.assignee:
        query = query.where(Dispute.assignee_id == filters.assignee)
    if filters.currency is not None:
        query = query.where(Dispute.currency == filters.currency)
    if filters.min_amount is not None:
        query = query.where(Dispute.amount >= filters.min_amount)
    if filters.max_amount is not None:
        query = query.where(Dispute.amount <= filters.max_amount)
    if filters.older_than_days is not None:
        cutoff = uow.clock.now() - timedelta(days=filters.older_than_days)
        query = query.where(Dispute.created_at <= cutoff)
    if after:
        due, last_id = decode_cursor(after)
        # A row comparison, which both databases read as the start of an index range;
        # the equivalent OR was a filter over every row before the cursor on PostgreSQL.
        query = query.where(tuple_(Dispute.due_at, Dispute.id) > tuple_(due, last_id))
    rows = list(uow.session.scalars(query.order_by(Dispute.due_at, Dispute.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = encode_cursor(rows[-1]) if more else None
    return QueuePage(rows, cursor, staff_names(uow), contract_titles(uow, rows))


def contract_titles(uow: UnitOfWork, rows: list[Dispute]) -> dict[str, str]:
    ids = {d.contract_id for d in rows}
    if not ids:
        return {}
    found = uow.session.execute(select(Contract.id, Contract.title).where(Contract.id.in_(ids)))
    return {cid: title for cid, title in found}


def staff_names(uow: UnitOfWork) -> dict[str, str]:
    return {s.id: s.email for s in uow.session.scalars(select(Staff))}


def pending_rulings(uow: UnitOfWork) -> list[tuple[Ruling, Dispute]]:
    rows = uow.session.execute(
        select(Ruling, Dispute)
        .join(Dispute, Dispute.id == Ruling.dispute_id)
        .where(Ruling.status == literal(PENDING, literal_execute=True))  # the partial index
        .order_by(Ruling.created_at)
    )
    return [(r, d) for r, d in rows]


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a case's timeline."""

    at: datetime
    kind: str  # event, statement, note, evidence, offer, ruling
    who: str
    role: str
    item: Any


@dataclass(frozen=True, slots=True)
class Case:
    dispute: Dispute
    contract: Contract
    milestone: MilestoneView
    policy: Policy
    summary: Summary
    escrow: int
    timeline: list[Entry]
    evidence: list[Evidence]
    offers: list[Offer]
    rulings: list[Ruling]
    pending: Ruling | None
    staff: dict[str, str]
    sent_back: Ruling | None = None
    """The last ruling a senior sent back, while the case waits for a new one."""
    outcome: Ruling | Offer | None = None
    """What decided a closed case: the applied ruling or the accepted offer."""
    chargebacks: list[Chargeback] = field(default_factory=list)
    """What the card network took back from the milestone's funding (engine.service.chargebacks)."""


def _rows(uow: UnitOfWork, model: Any, dispute_id: str) -> list[Any]:
    return list(uow.session.scalars(select(model).where(model.dispute_id == dispute_id)))


def case(uow: UnitOfWork, dispute_id: str, staff_view: bool = True) -> Case:
    dispute = load(uow, dispute_id)
    contract = uow.session.get(Contract, dispute.contract_id)
    milestone_row = uow.session.get(Milestone, dispute.milestone_id)
    assert contract is not None
    assert milestone_row is not None
    milestone = view_milestone(uow, dispute.milestone_id)
    statements = [s for s in _rows(uow, Statement, dispute.id) if staff_view or not s.staff_only]
    evidence = _rows(uow, Evidence, dispute.id)
    offers = _rows(uow, Offer, dispute.id)
    rulings = _rows(uow, Ruling, dispute.id)
    # A ruling's `rule` event tells what its ruling entry tells: show the ruling once.
    events = [e for e in history(uow, dispute.milestone_id) if "ruling_id" not in event_data(e)]
    timeline = [Entry(e.created_at, "event", e.actor_id, e.actor_role, e) for e in events]
    timeline += [
        Entry(s.created_at, "note" if s.staff_only else "statement", s.author_id, s.author_role, s)
        for s in statements
    ]
    timeline += [Entry(e.created_at, "evidence", e.author_id, e.author_role, e) for e in evidence]
    timeline += [Entry(o.created_at, "offer", o.offered_by, o.offered_by_role, o) for o in offers]
    timeline += [Entry(r.created_at, "ruling", r.staff_id, "staff", r) for r in rulings]
    order = {"event": 0, "statement": 1, "evidence": 2, "offer": 3, "ruling": 4, "note": 5}
    timeline.sort(key=lambda e: (e.at, order[e.kind]))
    return Case(
        dispute=dispute,
        contract=contract,
        milestone=milestone,
        policy=milestone_policy(uow, milestone_row),
        summary=contract_summary(uow.session, contract),
        escrow=milestone.summary.in_escrow,
        timeline=timeline,
        evidence=evidence,
        offers=offers,
        rulings=rulings,
        pending=next((r for r in rulings if r.status == PENDING), None),
        staff=staff_names(uow) if staff_view else {},
        sent_back=_sent_back(dispute, rulings),
        outcome=next((x for x in (*rulings, *offers) if x.status in (APPLIED, ACCEPTED)), None),
        chargebacks=chargebacks_of(uow, dispute.milestone_id),
    )


def _sent_back(dispute: Dispute, rulings: list[Ruling]) -> Ruling | None:
    if dispute.status != UNDER_REVIEW:
        return None
    declined = [r for r in rulings if r.status == DECLINED]
    return max(declined, key=lambda r: r.decided_at or r.created_at, default=None)


def party_view(
    uow: UnitOfWork, dispute_id: str, actor: Actor, tenant: str | None = None
) -> dict[str, Any]:
    """What a party may see: never staff notes, staff names, or the audit trail."""
    dispute = load(uow, dispute_id, tenant=tenant)
    party_role(dispute, actor)
    found = case(uow, dispute_id, staff_view=False)
    d = found.dispute
    return {
        "id": d.id,
        "milestone_id": d.milestone_id,
        "contract_id": d.contract_id,
        "status": d.status,
        "opened_by": d.opener_role,
        "reason": d.reason,
        "claim": {"to_provider": d.claim_to_provider, "to_buyer": d.claim_to_buyer},
        "amount": d.amount,
        "currency": d.currency,
        "escrow": found.escrow,
        "respond_by": d.respond_by.isoformat() if d.respond_by else None,
        "created_at": d.created_at.isoformat(),
        "closed_at": d.closed_at.isoformat() if d.closed_at else None,
        "statements": [
            {"by": e.role, "body": e.item.body, "at": e.at.isoformat()}
            for e in found.timeline
            if e.kind == "statement"
        ],
        "evidence": [
            {
                "id": e.id,
                "by": e.author_role,
                "description": e.description,
                "text": e.text,
                "filename": e.filename,
                "content_type": e.content_type,
                "size": e.size,
                "sha256": e.sha256,
                "at": e.created_at.isoformat(),
            }
            for e in found.evidence
        ],
        "offers": [offer_data(o) for o in found.offers],
        "rulings": [
            {
                "to_provider": r.to_provider,
                "to_buyer": r.to_buyer,
                "rationale": r.rationale,
                "at": (r.decided_at or r.created_at).isoformat(),
            }
            for r in found.rulings
            if r.status == "applied"
        ],
    }


def offer_data(offer: Offer) -> dict[str, Any]:
    """A settlement offer as the parties read it."""
    return {
        "id": offer.id,
        "dispute_id": offer.dispute_id,
        "by": offer.offered_by_role,
        "to_provider": offer.to_provider,
        "to_buyer": offer.to_buyer,
        "note": offer.note,
        "status": offer.status,
        "at": offer.created_at.isoformat(),
    }


def event_data(event: Event) -> dict[str, Any]:
    return json.loads(event.data or "{}")
