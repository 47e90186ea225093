"""Chargebacks: money the rail took back from a funding, booked in the policy's order.

The card network takes a charge back from the platform, often long after the escrow was
released and paid out. Tranche books it against the funding it came from: the escrow
still held for it first, then the policy's `chargeback_order` (by default the provider's
not-yet-paid-out balance on the contract, then a debt of the provider that their later
credits repay, then the platform's loss). The provider never bears more than they were
paid from that funding. A won chargeback reverses the booking; a lost one keeps it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from engine.domain.actors import SYSTEM
from engine.domain.errors import (
    AlreadySettledError,
    DuplicateReferenceError,
    InvalidAmountError,
    NotFoundError,
    ValidationError,
)
from engine.domain.ledger_legs import CHARGEBACK, ESCROW, PAYABLE, PAYABLE_PENDING, Leg
from engine.domain.money import positive_amount
from engine.domain.rail import BOOKED, CONFIRMED, LOST, WON, split_chargeback
from engine.service import fundings
from engine.service.milestones import load_for_update, milestone_policy
from engine.service.uow import UnitOfWork
from engine.store import balances, rail_records
from engine.store.events import append
from engine.store.ledger import post
from engine.store.models import Chargeback, Contract, Milestone, PayableHold, Posting, new_id
from engine.store.rows import as_json, moved_once

RAIL = "rail"


def report_chargeback(
    uow: UnitOfWork,
    tenant: str,
    funding_reference: str,
    reference: str,
    amount: int,
    currency: str,
    reason: str = "",
    respond_by: datetime | None = None,
) -> Chargeback:
    """Book what the rail took back from the funding `funding_reference`."""
    funding = fundings.by_reference(uow, tenant, funding_reference)
    if funding is None or funding.status != CONFIRMED:
        raise NotFoundError(
            f"no confirmed funding with the rail reference {funding_reference!r}",
            rail_reference=funding_reference,
        )
    if by_reference(uow, tenant, reference) is not None:
        raise DuplicateReferenceError(
            f"the chargeback {reference!r} is already booked", rail_reference=reference
        )
    amount = positive_amount(amount)
    if currency.upper() != funding.currency:
        raise ValidationError(
            f"the funding was charged in {funding.currency}, not {currency.upper()}",
            field="currency",
        )
    milestone, contract = load_for_update(uow, funding.milestone_id)
    earlier = _earlier(uow, funding.id)
    if amount > funding.amount - sum(cb.amount for cb in earlier):
        raise InvalidAmountError(
            f"the rail cannot take back {amount}: the funding was {funding.amount}, "
            f"{sum(cb.amount for cb in earlier)} of it already charged back",
            amount=amount,
        )
    provider = contract.provider_id
    balances.lock(uow.session, tenant, provider, contract.currency)
    on_contract = balances.payable_by_contract(uow.session, tenant, provider, contract.currency)
    policy = milestone_policy(uow, milestone)
    borne = sum(cb.shares["from_provider"] for cb in earlier)
    split = split_chargeback(
        amount,
        escrow=milestone.escrow,
        available=on_contract.get(contract.id, 0),
        pending=_held(uow, provider, contract.id),
        provider_cap=milestone.released - milestone.fees - borne,
        order=policy.chargeback_order,
    )
    now = uow.clock.now()
    entry = post(uow.session, contract, CHARGEBACK, split.legs(), now, milestone, reference)
    _release_holds(uow, provider, contract.id, split.from_pending)
    chargeback = Chargeback(
        id=new_id("cb"),
        tenant=tenant,
        funding_id=funding.id,
        contract_id=contract.id,
        milestone_id=milestone.id,
        rail_reference=reference,
        amount=amount,
        currency=funding.currency,
        reason=reason[:500],
        respond_by=respond_by,
        status=BOOKED,
        split=json.dumps(split.as_dict() | {"from_provider": split.from_provider}),
        entry_id=entry,
        created_at=now,
    )
    uow.session.add(chargeback)
    _record(uow, contract, milestone, chargeback, "chargeback_booked", [entry], now)
    return chargeback


def close_chargeback(
    uow: UnitOfWork, chargeback_id: str, won: bool, tenant: str | None = None
) -> Chargeback:
    """The network decided: a won chargeback gives back what it took, a lost one keeps it."""
    chargeback = get_chargeback(uow, chargeback_id, tenant)
    milestone, contract = load_for_update(uow, chargeback.milestone_id)
    now = uow.clock.now()
    status = WON if won else LOST
    if not moved_once(
        uow.session, Chargeback, chargeback.id, BOOKED, status=status, settled_at=now
    ):
        uow.session.refresh(chargeback)
        raise AlreadySettledError(
            f"chargeback {chargeback.id} is already {chargeback.status}",
            status=chargeback.status,
        )
    entries = []
    if won:
        final = milestone_policy(uow, milestone).state(milestone.state).final
        legs = _reversal(uow, chargeback.entry_id, contract, final)
        entries.append(
            post(
                uow.session,
                contract,
                CHARGEBACK,
                legs,
                now,
                milestone,
                f"won: {chargeback.rail_reference}",
                reverses_id=chargeback.entry_id,
            )
        )
    _record(uow, contract, milestone, chargeback, f"chargeback_{status}", entries, now)
    return chargeback


def _reversal(uow: UnitOfWork, entry_id: int, contract: Contract, final: bool) -> list[Leg]:
    """The booking's legs reversed. What a held credit lost comes back available (its hold
    was spent); escrow taken from a milestone since closed is owed to the buyer instead."""
    legs = []
    for posting in uow.session.scalars(select(Posting).where(Posting.entry_id == entry_id)):
        role = balances.role_of_party(contract, posting.party_id)
        account = PAYABLE if posting.account == PAYABLE_PENDING else posting.account
        if posting.account == ESCROW and final:
            account, role = PAYABLE, "buyer"
        legs.append(Leg(account, -posting.amount, role))
    return legs


def chargebacks_of(uow: UnitOfWork, milestone_id: str) -> list[Chargeback]:
    return list(
        uow.session.scalars(
            select(Chargeback)
            .where(Chargeback.milestone_id == milestone_id)
            .order_by(Chargeback.created_at)
        )
    )


def get_chargeback(uow: UnitOfWork, chargeback_id: str, tenant: str | None = None) -> Chargeback:
    return rail_records.owned(uow.session, Chargeback, chargeback_id, tenant, "chargeback")


def by_reference(uow: UnitOfWork, tenant: str, reference: str) -> Chargeback | None:
    found: Chargeback | None = rail_records.by_reference(uow.session, Chargeback, tenant, reference)
    return found


def _earlier(uow: UnitOfWork, funding_id: str) -> list[Chargeback]:
    """The funding's chargebacks that still stand (a won one gave its money back)."""
    return list(
        uow.session.scalars(
            select(Chargeback).where(Chargeback.funding_id == funding_id, Chargeback.status != WON)
        )
    )


def _held(uow: UnitOfWork, party_id: str, contract_id: str) -> int:
    total = uow.session.scalar(
        select(func.coalesce(func.sum(PayableHold.amount), 0)).where(
            PayableHold.party_id == party_id,
            PayableHold.contract_id == contract_id,
            PayableHold.matured_at.is_(None),
        )
    )
    return int(total or 0)


def _release_holds(uow: UnitOfWork, party_id: str, contract_id: str, amount: int) -> None:
    """What the chargeback took from held credits will not mature: newest holds first."""
    if not amount:
        return
    holds = uow.session.scalars(
        select(PayableHold)
        .where(
            PayableHold.party_id == party_id,
            PayableHold.contract_id == contract_id,
            PayableHold.matured_at.is_(None),
        )
        .order_by(PayableHold.available_at.desc(), PayableHold.id.desc())
    )
    for hold in holds:
        take = min(amount, hold.amount)
        hold.amount -= take
        amount -= take
        if not hold.amount:  # nothing left to mature: the hold is over
            hold.matured_at = uow.clock.now()
        if not amount:
            break


def _record(
    uow: UnitOfWork,
    contract: Contract,
    milestone: Milestone,
    chargeback: Chargeback,
    event: str,
    entries: list[int],
    now: datetime,
) -> None:
    milestone.updated_at = now
    append(
        uow.session,
        contract,
        event,
        RAIL,
        SYSTEM,
        now,
        policy=(milestone.policy_name, milestone.policy_version),
        milestone_id=milestone.id,
        amount=chargeback.amount,
        data={"chargeback": chargeback_record(chargeback), "ledger_entries": entries},
    )


FIELDS = (
    "id",
    "funding_id",
    "contract_id",
    "milestone_id",
    "status",
    "amount",
    "currency",
    "rail_reference",
    "reason",
    "respond_by",
    "created_at",
    "settled_at",
)


def chargeback_record(chargeback: Chargeback) -> dict[str, Any]:
    return as_json(chargeback, FIELDS) | {"borne_by": chargeback.shares}
