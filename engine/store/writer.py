"""Apply a Decision to the database: postings, timers, the dispute case, the row, the event.

Everything here runs in the command's transaction and never commits, so a transition,
its ledger postings, its timers, its case change and its event land together or not at
all (invariant 9). The milestone was loaded and locked by the command before `decide`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from engine.domain.decision import AWAITING_RESPONSE, UNDER_REVIEW, Decision, EventArgs
from engine.domain.policy.document import Policy
from engine.store.events import append
from engine.store.ledger import post_movement
from engine.store.models import Contract, Dispute, Event, Milestone
from engine.store.rows import write_back
from engine.store.timers import Pending, cancel_pending, schedule

NOTE_LIMIT = 2_000


def apply_decision(
    session: Session,
    policy: Policy,
    milestone: Milestone,
    contract: Contract,
    decision: Decision,
    actor_id: str,
    args: EventArgs,
    now: datetime,
) -> tuple[Event, list[Pending] | None]:
    """Write what `decision` says; return the event it appended, and the timers it started
    (None when the state did not change)."""
    started = None
    # Each posting counts itself on the milestone's row and the transition changes the
    # row: nothing may flush meanwhile, so the row is written once, by one UPDATE, and
    # its version moves by one. (The event's INSERT moves the contract's chain head; on
    # PostgreSQL both leave with the command's other writes, engine.store.batch.)
    with session.no_autoflush:
        entries = [
            post_movement(session, contract, m, milestone, policy, now, decision.event)
            for m in decision.movements
        ]
        if decision.timers is not None:
            if decision.timers.cancel:
                cancel_pending(session, milestone.id, now)
            started = schedule(
                session, milestone.id, decision.target, policy, now, decision.timers.resume
            )
        if decision.changes_state:
            milestone.previous_state = decision.source
            milestone.entered_by = decision.role
        if decision.opens is not None:
            _open_case(session, milestone, contract, decision, actor_id, now)
            milestone.dispute_id = decision.opens.id
        if decision.closes is not None:
            _close_case(session, decision.closes.id, decision.closes.status, now)
            milestone.dispute_id = None
        if decision.answers is not None:
            _answer_case(session, decision.answers, now)
        milestone.state = decision.target
        milestone.revisions = decision.revisions
        milestone.updated_at = now
        write_back(session, milestone)
        event = append(
            session,
            contract,
            decision.event,
            actor_id,
            decision.role,
            now,
            policy=policy.key,
            milestone_id=milestone.id,
            amount=decision.moved,
            from_state=decision.source,
            to_state=decision.target,
            data=_record(decision, entries, args, milestone.escrow),
        )
    return event, started


def _record(
    decision: Decision, entries: list[int], args: EventArgs, escrow_after: int
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "movements": [{"kind": m.kind, "amount": m.amount} for m in decision.movements],
        "ledger_entries": entries,
        "notify": list(decision.notify),
        "escrow_after": escrow_after,
    }
    if args.note:
        data["note"] = args.note[:NOTE_LIMIT]
    if args.to_provider is not None and decision.opens is None:
        data["split"] = {"to_provider": args.to_provider, "to_buyer": args.to_buyer}
    if decision.opens is not None:
        data["dispute_id"] = decision.opens.id
        data["claim"] = {
            "to_provider": decision.opens.claim_to_provider,
            "to_buyer": decision.opens.claim_to_buyer,
        }
    elif decision.closes is not None:
        data["dispute_id"] = decision.closes.id
        data["dispute_status"] = decision.closes.status
    data.update(args.extra)
    return data


def _open_case(
    session: Session,
    milestone: Milestone,
    contract: Contract,
    decision: Decision,
    actor_id: str,
    now: datetime,
) -> None:
    opening = decision.opens
    assert opening is not None
    case = Dispute(
        id=opening.id,
        milestone_id=milestone.id,
        contract_id=contract.id,
        tenant=contract.tenant,
        buyer_id=contract.buyer_id,
        provider_id=contract.provider_id,
        opened_by=actor_id,
        opener_role=opening.opener_role,
        reason=opening.reason,
        claim_to_provider=opening.claim_to_provider,
        claim_to_buyer=opening.claim_to_buyer,
        amount=opening.amount,
        currency=contract.currency,
        status=opening.status,
        respond_by=opening.respond_by,
        due_at=opening.respond_by or now,
        created_at=now,
        updated_at=now,
    )
    session.add(case)


def _close_case(session: Session, case_id: str, status: str, now: datetime) -> None:
    """Close the case; arbitration's listeners then settle what was still open in it."""
    _update_case(session, Dispute.id == case_id, status=status, closed_at=now, updated_at=now)
    for listener in CASE_CLOSED:
        listener(session, case_id, status, now)


def _answer_case(session: Session, case_id: str, now: datetime) -> None:
    """The respondent acted in the case: the answer is in, staff may rule from now on."""
    _update_case(
        session,
        Dispute.id == case_id,
        Dispute.status == AWAITING_RESPONSE,
        status=UNDER_REVIEW,
        responded_at=now,
        due_at=now,
        updated_at=now,
    )


def _update_case(session: Session, *where: Any, **values: Any) -> None:
    """One UPDATE of the case row, moving its version as the ORM's own writes do, and the
    session's copy with it if it holds one."""
    session.execute(
        update(Dispute)
        .where(*where)
        .values(**values, version=Dispute.version + 1)
        .execution_options(synchronize_session="fetch")
    )


CaseClosed = Callable[[Session, str, str, datetime], None]
CASE_CLOSED: list[CaseClosed] = []
"""Callbacks run in the transaction when a case closes: arbitration lapses the case's
open offers and voids its pending rulings (it registers itself on import)."""


def case_of(session: Session, milestone: Milestone) -> Dispute | None:
    """The milestone's live case, locked with it (read only while a dispute is open)."""
    if milestone.dispute_id is None:
        return None
    return session.get(Dispute, milestone.dispute_id)
