"""Default actions that happen at a deadline unless someone acts first.

Entering a state schedules the policy's timers for it; leaving the state cancels
them. `sweep` fires what is due, one timer per transaction, and on PostgreSQL
claims each with FOR UPDATE SKIP LOCKED so several sweepers can run at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.models import Timer
from policies.document import Policy

PENDING, DONE, CANCELLED, VOID = "pending", "done", "cancelled", "void"


def schedule(
    session: Session,
    milestone_id: str,
    state: str,
    policy: Policy,
    now: datetime,
    resume: bool = False,
) -> None:
    """Start the timers of the state just entered.

    With `resume` (a return to the previous state, as when a dispute is withdrawn) a
    timer keeps the deadline it had when the state was left: opening and withdrawing
    a dispute must not buy a party a fresh review period or answer deadline.
    """
    for spec in policy.timers_for(state):
        due_at = now + spec.after
        if resume:
            interrupted = session.scalars(
                select(Timer.due_at)
                .where(
                    Timer.milestone_id == milestone_id,
                    Timer.event == spec.event,
                    Timer.status == CANCELLED,
                )
                .order_by(Timer.id.desc())
                .limit(1)
            ).first()
            due_at = interrupted or due_at
        session.add(
            Timer(
                milestone_id=milestone_id,
                event=spec.event,
                description=spec.description,
                due_at=due_at,
                status=PENDING,
                created_at=now,
            )
        )


def cancel_pending(session: Session, milestone_id: str, now: datetime) -> None:
    session.execute(
        update(Timer)
        .where(Timer.milestone_id == milestone_id, Timer.status == PENDING)
        .values(status=CANCELLED, finished_at=now),
        execution_options={"synchronize_session": False},
    )


def next_pending(session: Session, milestone_id: str) -> Timer | None:
    return session.scalars(
        select(Timer)
        .where(Timer.milestone_id == milestone_id, Timer.status == PENDING)
        .order_by(Timer.due_at)
        .limit(1)
    ).first()


def claim_due(session: Session, now: datetime) -> Timer | None:
    """The most overdue pending timer, locked for this transaction (skipped if another has it)."""
    query = (
        select(Timer)
        .where(Timer.status == PENDING, Timer.due_at <= now)
        .order_by(Timer.due_at, Timer.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return session.scalars(query).first()


@dataclass(frozen=True, slots=True)
class Fired:
    """What one timer did: the event, and the state it led to (or why it did nothing)."""

    timer_id: int
    milestone_id: str
    event: str
    outcome: str
