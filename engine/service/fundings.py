"""Funding through the payment rail: confirm first, or two-phase (pending, then settled once).

*Confirm first*: the integrator charged the buyer and sends the funding event with the
rail's reference and the amount charged; the hold posts at once. *Two-phase*: the
funding event opens a pending funding (`pending_funding`, beside escrow, never in it)
and the milestone waits; the rail's confirmation posts the hold and fires the event,
its failure or the deadline voids it, and the milestone is where it was. Either way a
rail reference funds at most once per tenant, and the amount and currency charged must
be exactly what the event holds.

A funding is settled by a conditional UPDATE from `pending`, under the milestone's
lock: two confirmations (or a confirmation and an expiry) can never both win.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from engine.domain.actors import SYSTEM, Actor
from engine.domain.decision import Decision, EventArgs
from engine.domain.errors import (
    AlreadySettledError,
    DuplicateReferenceError,
    ForbiddenEventError,
)
from engine.domain.ledger_legs import FUNDING_CLOSED, FUNDING_OPENED
from engine.domain.policy.vocabulary import HOLD
from engine.domain.rail import (
    CONFIRMED,
    EXPIRED,
    FAILED,
    PENDING,
    check_charge,
    funding_closed,
    funding_opened,
)
from engine.service.milestones import Prepared, load_for_update, prepare
from engine.service.uow import UnitOfWork
from engine.store import rail_records
from engine.store.events import append
from engine.store.ledger import post
from engine.store.models import Contract, Funding, Milestone, new_id
from engine.store.rows import as_json, moved_once
from engine.store.sandbox import tenant_scope

RAIL_ACT = ("rail", SYSTEM)
"""Who settles what the rail reports, as an event records it: the integrator's rail."""
DEFAULT_EXPIRY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Charge:
    """What the rail says it charged the buyer."""

    reference: str
    amount: int
    currency: str


def held(decision: Decision) -> int:
    """What the event puts into escrow; an event that holds nothing is no funding."""
    amount = sum(m.amount for m in decision.movements if m.kind == HOLD)
    if not amount:
        raise ForbiddenEventError(
            f"{decision.event!r} puts no money in escrow, so the rail has nothing to fund",
            event=decision.event,
            state=decision.source,
        )
    return amount


def fund_confirmed(
    uow: UnitOfWork, milestone_id: str, event: str, actor: Actor, charge: Charge, **kwargs: Any
) -> Funding:
    """Confirm first: the rail already charged the buyer; fire the event and record it."""
    args = EventArgs(extra={"rail_reference": charge.reference})
    prepared = prepare(uow, milestone_id, event, actor, args, **kwargs)
    amount = held(prepared.decision)
    check_charge(amount, prepared.contract.currency, charge.amount, charge.currency)
    _unused(uow, prepared.contract.tenant, charge.reference)
    prepared.apply(uow)
    funding = _funding(prepared, actor, amount, CONFIRMED, charge.reference, None)
    funding.settled_at = prepared.now
    uow.session.add(funding)
    return funding


def open_funding(
    uow: UnitOfWork,
    milestone_id: str,
    event: str,
    actor: Actor,
    expires_in: timedelta = DEFAULT_EXPIRY,
    reference: str | None = None,
    **kwargs: Any,
) -> Funding:
    """Two-phase: the event is decided now (refused now if it would be refused), applied
    only when the rail confirms the charge."""
    prepared = prepare(uow, milestone_id, event, actor, **kwargs)
    amount = held(prepared.decision)
    if reference is not None:
        _unused(uow, prepared.contract.tenant, reference)
    funding = _funding(prepared, actor, amount, PENDING, reference, prepared.now + expires_in)
    milestone, contract, role = prepared.milestone, prepared.contract, prepared.decision.role
    _post_and_record(
        uow, funding, milestone, contract, FUNDING_OPENED, funding_opened, actor.id, role
    )
    return funding


def confirm_funding(
    uow: UnitOfWork, funding_id: str, charge: Charge, tenant: str | None = None
) -> Funding:
    """The rail charged the buyer: post the hold and fire the funding event, once."""
    funding = _pending(uow, funding_id, tenant)
    if charge.reference != funding.rail_reference:
        _unused(uow, funding.tenant, charge.reference)
    check_charge(funding.amount, funding.currency, charge.amount, charge.currency)
    milestone, contract = load_for_update(uow, funding.milestone_id)
    _settle(uow, funding, CONFIRMED, reference=charge.reference)
    _post_and_record(uow, funding, milestone, contract, FUNDING_CLOSED, funding_closed, *RAIL_ACT)
    args = EventArgs(extra={"rail_reference": charge.reference, "funding_id": funding.id})
    # The funding event is the buyer's, as they sent it; the rail only confirmed it.
    prepare(uow, milestone.id, funding.event, Actor(funding.actor_id), args).apply(uow)
    return funding


def fail_funding(
    uow: UnitOfWork, funding_id: str, reason: str, tenant: str | None = None, status: str = FAILED
) -> Funding:
    """The charge failed (or the deadline passed): nothing was held, the milestone is as it was."""
    funding = _pending(uow, funding_id, tenant)
    milestone, contract = load_for_update(uow, funding.milestone_id)
    _settle(uow, funding, status, reason=reason)
    _post_and_record(uow, funding, milestone, contract, FUNDING_CLOSED, funding_closed, *RAIL_ACT)
    return funding


def expiring(
    uow: UnitOfWork, now: datetime, tenant: str | None = None, limit: int = 100
) -> list[str]:
    """The pending fundings past their deadline, oldest deadline first (of live tenants,
    or of one sandbox tenant)."""
    return list(
        uow.session.scalars(
            select(Funding.id)
            .where(
                Funding.status == PENDING,
                Funding.expires_at <= now,
                tenant_scope(Funding.tenant, tenant),
            )
            .order_by(Funding.expires_at)
            .limit(limit)
        )
    )


def expire(uow: UnitOfWork, funding_id: str) -> Funding:
    return fail_funding(uow, funding_id, "the rail did not confirm it in time", status=EXPIRED)


def get_funding(uow: UnitOfWork, funding_id: str, tenant: str | None = None) -> Funding:
    return rail_records.owned(uow.session, Funding, funding_id, tenant, "funding")


def fundings_of(uow: UnitOfWork, milestone_id: str) -> list[Funding]:
    return list(
        uow.session.scalars(
            select(Funding).where(Funding.milestone_id == milestone_id).order_by(Funding.created_at)
        )
    )


def by_reference(uow: UnitOfWork, tenant: str, reference: str) -> Funding | None:
    found: Funding | None = rail_records.by_reference(uow.session, Funding, tenant, reference)
    return found


def _unused(uow: UnitOfWork, tenant: str, reference: str) -> None:
    """A reference funds at most once (the unique index stands behind this check)."""
    if by_reference(uow, tenant, reference) is not None:
        raise DuplicateReferenceError(
            f"the rail reference {reference!r} already funded a milestone",
            rail_reference=reference,
        )


def _pending(uow: UnitOfWork, funding_id: str, tenant: str | None) -> Funding:
    funding = get_funding(uow, funding_id, tenant)
    if funding.status != PENDING:
        raise _settled(funding)
    return funding


def _settled(funding: Funding) -> AlreadySettledError:
    return AlreadySettledError(
        f"funding {funding.id} is already {funding.status}", status=funding.status
    )


def _settle(uow: UnitOfWork, funding: Funding, status: str, **values: Any) -> None:
    """Move the funding out of `pending`, exactly once, whoever races to do it."""
    now = uow.clock.now()
    changes = {"status": status, "settled_at": now}
    if values.get("reference") is not None:
        changes["rail_reference"] = values["reference"]
    if values.get("reason") is not None:
        changes["failure_reason"] = values["reason"][:500]
    if not moved_once(uow.session, Funding, funding.id, PENDING, **changes):
        uow.session.refresh(funding)
        raise _settled(funding)


def _funding(
    prepared: Prepared,
    actor: Actor,
    amount: int,
    status: str,
    reference: str | None,
    expires_at: datetime | None,
) -> Funding:
    contract = prepared.contract
    funding = Funding(
        id=new_id("fd"),
        tenant=contract.tenant,
        contract_id=contract.id,
        milestone_id=prepared.milestone.id,
        event=prepared.decision.event,
        actor_id=actor.id,
        amount=amount,
        currency=contract.currency,
        status=status,
        rail_reference=reference,
        expires_at=expires_at,
        created_at=prepared.now,
    )
    return funding


def _post_and_record(
    uow: UnitOfWork,
    funding: Funding,
    milestone: Milestone,
    contract: Contract,
    kind: str,
    legs: Any,
    actor_id: str,
    role: str,
) -> None:
    """The funding's ledger entry, the milestone's row and its event, in one transaction."""
    now = uow.clock.now()
    uow.session.add(funding)
    entry = post(uow.session, contract, kind, legs(funding.amount), now, milestone, funding.id)
    milestone.updated_at = now
    append(
        uow.session,
        contract,
        f"funding_{funding.status}",
        actor_id,
        role,
        now,
        policy=(milestone.policy_name, milestone.policy_version),
        milestone_id=milestone.id,
        amount=funding.amount,
        from_state=milestone.state,
        to_state=milestone.state,
        data={"funding": funding_record(funding), "ledger_entries": [entry]},
    )


FIELDS = (
    "id",
    "contract_id",
    "milestone_id",
    "event",
    "status",
    "amount",
    "currency",
    "rail_reference",
    "failure_reason",
    "expires_at",
    "created_at",
    "settled_at",
)


def funding_record(funding: Funding) -> dict[str, Any]:
    return as_json(funding, FIELDS)
