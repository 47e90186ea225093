"""Milestone commands: drive one milestone through its policy, with its money and its event.

Every function here works inside a caller's unit of work and never commits, so
the transition, its ledger postings, its timers and its event land together or
not at all (invariant 7).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select

from engine.actors import Actor, role_of
from engine.errors import LedgerError, NotFoundError, PreconditionFailedError
from engine.events import append
from engine.ledger import post_movement
from engine.machine import MilestoneMachine
from engine.models import Contract, Event, Milestone
from engine.rows import write_back
from engine.rules import Facts, apply_effects
from engine.summary import Summary, milestone_summary
from engine.timers import cancel_pending, next_pending, schedule
from engine.uow import UnitOfWork
from policies.document import PREVIOUS, Policy

_LOAD = (
    select(Milestone, Contract)
    .join(Contract, Contract.id == Milestone.contract_id)
    .where(Milestone.id == bindparam("milestone_id"))
)
_LOAD_LOCKED = _LOAD.with_for_update()


def load_for_update(
    uow: UnitOfWork, milestone_id: str, tenant: str | None = None
) -> tuple[Milestone, Contract]:
    """The milestone and its contract in one statement, row-locked on PostgreSQL.

    (SQLite locks the whole database on BEGIN IMMEDIATE.) Both rows stay held by the
    unit of work, so a view read after the command finds them without a query.
    """
    query = _LOAD_LOCKED if uow.database.is_postgres else _LOAD
    row = uow.session.execute(query, {"milestone_id": milestone_id}).first()
    if row is None or (tenant and row[1].tenant != tenant):
        raise NotFoundError(f"no milestone {milestone_id!r}", milestone_id=milestone_id)
    milestone, contract = row
    uow.held.extend((milestone, contract))
    return milestone, contract


def milestone_policy(uow: UnitOfWork, milestone: Milestone) -> Policy:
    return uow.policy(milestone.policy_name, milestone.policy_version)


@dataclass(frozen=True, slots=True)
class EventArgs:
    """The optional arguments an event may carry (which ones matter depends on its effects)."""

    amount: int | None = None
    to_provider: int | None = None
    to_buyer: int | None = None
    offer_by: str | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def facts_for(
    milestone: Milestone, policy: Policy, role: str, escrow: int, args: EventArgs
) -> Facts:
    return Facts(
        milestone_amount=milestone.amount,
        escrow=escrow,
        actor_role=role,
        revisions=milestone.revisions,
        revision_limit=policy.revision_limit,
        opener_role=milestone.entered_by,
        amount=args.amount,
        to_provider=args.to_provider,
        to_buyer=args.to_buyer,
        offer_by=args.offer_by,
    )


def fire_event(
    uow: UnitOfWork,
    milestone_id: str,
    event: str,
    actor: Actor,
    args: EventArgs | None = None,
    *,
    expected_version: int | None = None,
    tenant: str | None = None,
    now: datetime | None = None,
) -> Event:
    """Apply one event of the milestone's policy; return the event it appended."""
    args = args or EventArgs()
    now = now or uow.clock.now()
    session = uow.session
    milestone, contract = load_for_update(uow, milestone_id, tenant)
    role = role_of(contract, actor)
    if expected_version is not None and milestone.version != expected_version:
        raise PreconditionFailedError(
            f"milestone is at version {milestone.version}, not {expected_version}",
            current_version=milestone.version,
            expected_version=expected_version,
        )
    policy = milestone_policy(uow, milestone)
    facts = facts_for(milestone, policy, role, milestone.escrow, args)
    source = milestone.state
    spec, target = MilestoneMachine(policy, milestone).apply(event, facts)

    movements, counted = apply_effects(((r.name, r.kwargs) for r in spec.effects), facts)
    # Each posting counts itself on the milestone's row and the transition changes the
    # row: nothing may flush meanwhile, so the row is written once, by one UPDATE, and
    # its version moves by one. (The event's INSERT moves the contract's chain head.)
    with session.no_autoflush:
        entries = [
            post_movement(session, contract, m, milestone, policy.platform_fee_bps, now, event)
            for m in movements
        ]
        if policy.state(target).final and milestone.escrow != 0:
            raise LedgerError(
                f"{target!r} is final but would hold {milestone.escrow} in escrow",
                state=target,
                escrow=milestone.escrow,
            )
        if target != source:
            if policy.timers_for(source):  # only states with timers can have pending ones
                cancel_pending(session, milestone.id, now)
            uow.pending_timers[milestone.id] = schedule(
                session, milestone.id, target, policy, now, resume=spec.target == PREVIOUS
            )
            milestone.previous_state = source
            milestone.entered_by = role
        milestone.state = target
        milestone.revisions += counted
        milestone.updated_at = now
        write_back(session, milestone)
        data: dict[str, Any] = {
            "movements": [{"kind": m.kind, "amount": m.amount} for m in movements],
            "ledger_entries": entries,
            "notify": list(spec.notify),
            "escrow_after": milestone.escrow,
        }
        if args.note:
            data["note"] = args.note[:2000]
        if args.to_provider is not None:
            data["split"] = {"to_provider": args.to_provider, "to_buyer": args.to_buyer}
        data.update(args.extra)
        recorded = append(
            session,
            contract,
            event,
            actor.id,
            role,
            now,
            policy=policy.key,
            milestone_id=milestone.id,
            amount=sum(m.amount for m in movements) if movements else None,
            from_state=source,
            to_state=target,
            data=data,
        )
    return recorded


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
        if not final:  # nothing leaves a final state
            facts = facts_for(milestone, policy, role, milestone.escrow, EventArgs())
            allowed = MilestoneMachine(policy, milestone).allowed_events(facts)
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
