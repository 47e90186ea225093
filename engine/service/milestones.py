"""Milestone commands: drive one milestone through its policy, with its money and its event.

Every function here works inside a caller's unit of work and never commits, so
the transition, its ledger postings, its timers and its event land together or
not at all (invariant 7).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select

from engine.domain.actors import Actor, role_of
from engine.domain.decision import Case, Decision, EventArgs, Snapshot, allowed_events, decide
from engine.domain.errors import NotFoundError, PreconditionFailedError
from engine.domain.policy.document import Policy
from engine.domain.policy.vocabulary import DISPUTE
from engine.domain.summary import Summary, milestone_summary
from engine.service.uow import UnitOfWork
from engine.store.ledger import NEXT_ENTRY_ID, keep_spare_id
from engine.store.models import Contract, Dispute, Event, Milestone, new_id
from engine.store.timers import next_pending
from engine.store.writer import apply_decision, case_of

_LOAD = (
    select(Milestone, Contract)
    .join(Contract, Contract.id == Milestone.contract_id)
    .where(Milestone.id == bindparam("milestone_id"))
)
_LOAD_LOCKED = _LOAD.add_columns(NEXT_ENTRY_ID).with_for_update()
"""PostgreSQL: the rows locked, and an id drawn for the ledger entry the command may write
(engine.store.ledger.keep_spare_id): its writes then need no answer before the commit."""


def load_for_update(
    uow: UnitOfWork, milestone_id: str, tenant: str | None = None
) -> tuple[Milestone, Contract]:
    """The milestone and its contract in one statement, row-locked on PostgreSQL.

    (SQLite locks the whole database on BEGIN IMMEDIATE.) Both rows stay held by the
    unit of work, so a view read after the command finds them without a query.
    """
    postgres = uow.database.is_postgres
    query = _LOAD_LOCKED if postgres else _LOAD
    row = uow.session.execute(query, {"milestone_id": milestone_id}).first()
    if row is None or (tenant and row[1].tenant != tenant):
        raise NotFoundError(f"no milestone {milestone_id!r}", milestone_id=milestone_id)
    milestone, contract = row[:2]
    if postgres:
        keep_spare_id(uow.session, row[2])
    uow.held.extend((milestone, contract))
    return milestone, contract


def milestone_policy(uow: UnitOfWork, milestone: Milestone) -> Policy:
    return uow.policy(milestone.policy_name, milestone.policy_version)


def snapshot_of(uow: UnitOfWork, milestone: Milestone) -> Snapshot:
    """What `decide` sees of a milestone (and its live case, loaded only while one is open)."""
    row = case_of(uow.session, milestone)
    return Snapshot(
        state=milestone.state,
        amount=milestone.amount,
        escrow=milestone.escrow,
        revisions=milestone.revisions,
        previous_state=milestone.previous_state,
        entered_by=milestone.entered_by,
        case=None if row is None else live_case(row),
        pending_funding=milestone.pending_funding,
    )


def live_case(row: Dispute) -> Case:
    return Case(row.id, row.opener_role, row.status, row.respond_by)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A command decided and not yet applied: the locked rows, the policy and the Decision."""

    milestone: Milestone
    contract: Contract
    policy: Policy
    decision: Decision
    actor: Actor
    args: EventArgs
    now: datetime

    def apply(self, uow: UnitOfWork) -> Event:
        recorded, started = apply_decision(
            uow.session,
            self.policy,
            self.milestone,
            self.contract,
            self.decision,
            self.actor.id,
            self.args,
            self.now,
        )
        if started is not None:
            uow.pending_timers[self.milestone.id] = started
        return recorded


def prepare(
    uow: UnitOfWork,
    milestone_id: str,
    event: str,
    actor: Actor,
    args: EventArgs | None = None,
    *,
    expected_version: int | None = None,
    tenant: str | None = None,
    now: datetime | None = None,
) -> Prepared:
    """Load and lock the milestone, and decide what `event` does to it (nothing written)."""
    args = args or EventArgs()
    now = now or uow.clock.now()
    milestone, contract = load_for_update(uow, milestone_id, tenant)
    role = role_of(contract, actor)
    if expected_version is not None and milestone.version != expected_version:
        raise PreconditionFailedError(
            f"milestone is at version {milestone.version}, not {expected_version}",
            current_version=milestone.version,
            expected_version=expected_version,
        )
    policy = milestone_policy(uow, milestone)
    if event == DISPUTE and args.case_id is None:
        args = replace(args, case_id=new_id("dp"))
    decision = decide(policy, snapshot_of(uow, milestone), event, role, args, now)
    return Prepared(milestone, contract, policy, decision, actor, args, now)


def fire_event(
    uow: UnitOfWork,
    milestone_id: str,
    event: str,
    actor: Actor,
    args: EventArgs | None = None,
    **options: Any,
) -> Event:
    """Apply one event of the milestone's policy: load and lock, decide, apply (`options`:
    those of `prepare`)."""
    return prepare(uow, milestone_id, event, actor, args, **options).apply(uow)


@dataclass(frozen=True, slots=True)
class Deadline:
    """What happens by default, and when, if nobody acts first."""

    event: str
    due_at: datetime
    description: str
    outcome: str | None

    def __str__(self) -> str:
        what = self.description or self.event.replace("_", " ")
        return f"{what} on {self.due_at.date().isoformat()}"


@dataclass(frozen=True, slots=True)
class MilestoneView:
    id: str
    contract_id: str
    position: int
    title: str
    amount: int
    currency: str
    state: str
    policy_name: str
    policy_version: int
    version: int
    revisions: int
    final: bool
    summary: Summary
    role: str | None
    allowed_events: list[str]
    next_deadline: Deadline | None
    created_at: datetime
    updated_at: datetime


def view_milestone(
    uow: UnitOfWork,
    milestone_id: str,
    actor: Actor | None = None,
    tenant: str | None = None,
) -> MilestoneView:
    """The milestone as its parties see it, with what `actor` may do now."""
    session = uow.session
    milestone = session.get(Milestone, milestone_id)
    contract = session.get(Contract, milestone.contract_id) if milestone else None
    if milestone is None or contract is None or (tenant and contract.tenant != tenant):
        raise NotFoundError(f"no milestone {milestone_id!r}", milestone_id=milestone_id)
    policy = milestone_policy(uow, milestone)
    summary = milestone_summary(milestone, contract.currency)
    role, allowed = None, []
    final = policy.state(milestone.state).final
    if actor is not None:
        role = role_of(contract, actor)
        allowed = allowed_events(policy, snapshot_of(uow, milestone), role)
    # Timers are scheduled on entering a state that has some and cancelled on leaving
    # it, so a state without timers has no pending one, and a state entered in this
    # unit of work has those it scheduled: no need to ask.
    timer = None
    if policy.timers_for(milestone.state):
        started = uow.pending_timers.get(milestone.id)
        if started is None:
            timer = next_pending(session, milestone.id)
        else:
            timer = min(started, key=lambda t: t.due_at, default=None)
    deadline = None
    if timer is not None:
        outcome = next(
            (
                t.target_from(milestone.state)
                for t in policy.transitions_from(milestone.state)
                if t.event == timer.event
            ),
            None,
        )
        deadline = Deadline(timer.event, timer.due_at, timer.description, outcome)
    return MilestoneView(
        id=milestone.id,
        contract_id=contract.id,
        position=milestone.position,
        title=milestone.title,
        amount=milestone.amount,
        currency=contract.currency,
        state=milestone.state,
        policy_name=milestone.policy_name,
        policy_version=milestone.policy_version,
        version=milestone.version,
        revisions=milestone.revisions,
        final=final,
        summary=summary,
        role=role,
        allowed_events=allowed,
        next_deadline=deadline,
        created_at=milestone.created_at,
        updated_at=milestone.updated_at,
    )


def history(uow: UnitOfWork, milestone_id: str, tenant: str | None = None) -> list[Event]:
    """The milestone's events, oldest first."""
    view_milestone(uow, milestone_id, tenant=tenant)  # existence and tenancy
    return list(
        uow.session.scalars(
            select(Event).where(Event.milestone_id == milestone_id).order_by(Event.seq)
        )
    )
