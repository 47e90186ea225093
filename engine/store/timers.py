"""Default actions that happen at a deadline unless someone acts first.

Entering a state schedules the policy's timers for it; leaving the state cancels
them. `sweep` fires what is due, one timer per transaction, and on PostgreSQL
claims each with FOR UPDATE SKIP LOCKED so several sweepers can run at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, literal, select, update
from sqlalchemy.orm import Session

from engine.domain.policy.document import Policy
from engine.store import batch
from engine.store.models import Contract, Milestone, Timer, UTCDateTime
from engine.store.sandbox import tenant_scope

PENDING, DONE, CANCELLED, VOID = "pending", "done", "cancelled", "void"


@dataclass(frozen=True, slots=True)
class Pending:
    """A pending timer, as a view shows it: what happens, when, and in whose words."""

    event: str
    due_at: datetime
    description: str


_TIMERS = cast(Table, Timer.__table__)
_PENDING = literal(PENDING, literal_execute=True)
"""A literal in the sweep's SQL, so that it meets the partial index of pending timers."""
_TIMER_FIELDS = ("milestone_id", "event", "description", "due_at", "status", "created_at")
"""Timers go in as plain INSERTs (engine.store.batch): the ORM would flush them in a unit
of work of their own, on the path of every transition into a state with a deadline."""


def schedule(
    session: Session,
    milestone_id: str,
    state: str,
    policy: Policy,
    now: datetime,
    resume: bool = False,
) -> list[Pending]:
    """Start the timers of the state just entered, and return them.

    With `resume` (a return to the previous state, as when a dispute is withdrawn) a
    timer gets back the time it had left when the state was left: the clock stops
    while the dispute is open. Opening and withdrawing a dispute neither buys a
    fresh review period or answer deadline, nor lets one run out unseen meanwhile.
    """
    started: list[Pending] = []
    for spec in policy.timers_for(state):
        due_at = now + spec.after
        if resume:
            interrupted = session.execute(
                select(Timer.due_at, Timer.finished_at)
                .where(
                    Timer.milestone_id == milestone_id,
                    Timer.event == spec.event,
                    Timer.status == CANCELLED,
                )
                .order_by(Timer.id.desc())
                .limit(1)
            ).first()
            if interrupted is not None and interrupted.finished_at is not None:
                due_at = now + max(interrupted.due_at - interrupted.finished_at, timedelta(0))
        started.append(Pending(spec.event, due_at, spec.description))
    if started:
        rows = [
            {
                "milestone_id": milestone_id,
                "event": timer.event,
                "description": timer.description,
                "due_at": timer.due_at,
                "status": PENDING,
                "created_at": now,
            }
            for timer in started
        ]
        batch.insert_later(session, _TIMERS, _TIMER_FIELDS, rows)
    return started


_CANCEL_PENDING = (
    update(_TIMERS)  # the table, not the class: the ORM's bulk UPDATE path costs more
    .where(_TIMERS.c.milestone_id == bindparam("of_milestone"), _TIMERS.c.status == PENDING)
    .values(status=CANCELLED, finished_at=bindparam("now", type_=UTCDateTime()))
)


def cancel_pending(session: Session, milestone_id: str, now: datetime) -> None:
    batch.later(session, _CANCEL_PENDING, {"of_milestone": milestone_id, "now": now})


_NEXT_PENDING = (
    select(Timer.event, Timer.due_at, Timer.description)
    .where(Timer.milestone_id == bindparam("milestone_id"), Timer.status == PENDING)
    .order_by(Timer.due_at)
    .limit(1)
)


def next_pending(session: Session, milestone_id: str) -> Pending | None:
    row = session.execute(_NEXT_PENDING, {"milestone_id": milestone_id}).first()
    return None if row is None else Pending(*row)


def claim_due(
    session: Session, now: datetime, passed: set[int], tenant: str | None = None
) -> Timer | None:
    """The most overdue pending timer not in `passed`, locked for this transaction: of
    every live tenant, or of one sandbox tenant (`tenant`, swept by its test clock).

    On PostgreSQL the milestone is locked first and then the timer, the order every
    command takes (a command locks its milestone, then cancels its timers), so a
    sweep and a party's command never deadlock; a milestone busy with a command, or
    with another sweeper, is skipped and its timer left for the next round.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    candidates = session.execute(
        select(Timer.id, Timer.milestone_id)
        .join(Milestone, Milestone.id == Timer.milestone_id)
        .join(Contract, Contract.id == Milestone.contract_id)
        .where(Timer.status == _PENDING, Timer.due_at <= now, tenant_scope(Contract.tenant, tenant))
        .order_by(Timer.due_at, Timer.id)
        .limit(len(passed) + 16)
    ).all()
    for timer_id, milestone_id in candidates:
        if timer_id in passed:
            continue
        if postgres:
            locked = session.scalar(
                select(Milestone.id)
                .where(Milestone.id == milestone_id)
                .with_for_update(skip_locked=True)
            )
            if locked is None:
                continue
        query = select(Timer).where(Timer.id == timer_id, Timer.status == PENDING)
        timer = session.scalars(query.with_for_update() if postgres else query).first()
        if timer is not None:
            return timer
    return None


@dataclass(frozen=True, slots=True)
class Fired:
    """What one timer did: the event, and the state it led to (or why it did nothing)."""

    timer_id: int
    milestone_id: str
    event: str
    outcome: str
