"""Payouts and refunds through the rail, and what each party is owed.

What Tranche owes a party (released to a provider net of fees, refunded to a buyer) is
their balance (engine.store.balances): `pending` in the policy's security hold,
`available` after it. The integrator records a payout (to a provider) or a refund (to a
buyer) it made on the rail for one contract, with the rail's reference, never more than
is available to the party on that contract; later it marks it paid, or failed with a
reason, and a failed one is available again. Each step is a balanced entry and an event
on the contract. A payout is settled by a conditional UPDATE from `in_flight`, under the
contract's lock, so it is paid (or failed) exactly once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from engine.domain.actors import SYSTEM
from engine.domain.errors import (
    AlreadySettledError,
    DuplicateReferenceError,
    NotFoundError,
    ValidationError,
)
from engine.domain.ledger_legs import MATURED, PAYOUT, PAYOUT_FAILED, PAYOUT_PAID, PAYOUT_REVERSED
from engine.domain.money import check_currency, positive_amount
from engine.domain.rail import (
    FAILED,
    IN_FLIGHT,
    PAID,
    REVERSED,
    PartyBalance,
    matured,
    payout_failed,
    payout_paid,
    payout_recorded,
    payout_reversed,
)
from engine.service.contracts import get_contract
from engine.service.uow import UnitOfWork
from engine.store import balances, rail_records
from engine.store.events import append
from engine.store.ledger import post
from engine.store.models import Contract, PayableHold, Payout, new_id
from engine.store.rows import as_json, moved_once
from engine.store.sandbox import tenant_scope

RAIL = "rail"


def record_payout(
    uow: UnitOfWork,
    tenant: str,
    contract_id: str,
    party_id: str,
    amount: int,
    currency: str,
    reference: str,
) -> Payout:
    """The rail is paying `amount` to the party: it leaves what is available, in flight."""
    contract = get_contract(uow, contract_id, tenant, lock=True)
    if party_id not in (contract.buyer_id, contract.provider_id):
        raise NotFoundError(
            f"{party_id!r} is not a party to contract {contract.id}", party_id=party_id
        )
    role = _role(contract, party_id)
    amount = positive_amount(amount)
    if check_currency(currency) != contract.currency:
        raise ValidationError(
            f"contract {contract.id} is in {contract.currency}, not {currency}", field="currency"
        )
    if uow.session.scalars(
        select(Payout.id).where(Payout.tenant == tenant, Payout.rail_reference == reference)
    ).first():
        raise DuplicateReferenceError(
            f"the rail reference {reference!r} already records a payout", rail_reference=reference
        )
    # The party's row lock first: nothing else decides on their balance meanwhile.
    balance = _locked_balance(uow, tenant, party_id, contract.currency)
    on_contract = balances.payable_by_contract(uow.session, tenant, party_id, contract.currency)
    available = min(on_contract.get(contract.id, 0), balance.available)
    now = uow.clock.now()
    payout = Payout(
        id=new_id("po"),
        tenant=tenant,
        contract_id=contract.id,
        party_id=party_id,
        kind="refund" if role == "buyer" else "payout",
        amount=amount,
        currency=contract.currency,
        rail_reference=reference,
        status=IN_FLIGHT,
        created_at=now,
    )
    legs = payout_recorded(amount, role, available)
    uow.session.add(payout)
    _book(uow, contract, payout, PAYOUT, legs, f"{payout.kind}_recorded", now)
    return payout


def settle_payout(
    uow: UnitOfWork, payout_id: str, paid: bool, reason: str = "", tenant: str | None = None
) -> Payout:
    """The rail paid it, or it failed (and what it took is available again)."""
    payout, contract = _payout_for_update(uow, payout_id, tenant)
    return _settle(uow, payout, contract, paid, reason)


def _settle(uow: UnitOfWork, payout: Payout, contract: Contract, paid: bool, reason: str) -> Payout:
    now = uow.clock.now()
    status = PAID if paid else FAILED
    _move(uow, payout, IN_FLIGHT, status=status, settled_at=now, failure_reason=reason or None)
    role = _role(contract, payout.party_id)
    legs = payout_paid(payout.amount, role) if paid else payout_failed(payout.amount, role)
    kind = PAYOUT_PAID if paid else PAYOUT_FAILED
    _book(uow, contract, payout, kind, legs, f"{payout.kind}_{status}", now)
    return payout


def reverse_payout(
    uow: UnitOfWork, payout_id: str, reversed_total: int, tenant: str | None = None
) -> Payout:
    """The rail took back (part of) a payout: `reversed_total` is what it took back in all.

    In flight, the payout failed; paid, what was taken back is owed to the party again.
    """
    payout, contract = _payout_for_update(uow, payout_id, tenant)
    if payout.status == IN_FLIGHT:
        return _settle(uow, payout, contract, False, "reversed by the rail")
    amount = min(reversed_total, payout.amount) - payout.reversed_amount
    if payout.status not in (PAID, REVERSED) or amount <= 0:
        raise AlreadySettledError(
            f"payout {payout.id} is {payout.status}; nothing more to reverse",
            status=payout.status,
        )
    now = uow.clock.now()
    _move(
        uow,
        payout,
        payout.status,
        status=REVERSED,
        reversed_amount=payout.reversed_amount + amount,
        settled_at=now,
    )
    legs = payout_reversed(amount, _role(contract, payout.party_id))
    _book(uow, contract, payout, PAYOUT_REVERSED, legs, f"{payout.kind}_reversed", now, amount)
    return payout


def maturing(
    uow: UnitOfWork, now: datetime, tenant: str | None = None, limit: int = 100
) -> list[int]:
    """The held credits whose security hold ran out, soonest first (of live tenants, or of
    one sandbox tenant)."""
    return list(
        uow.session.scalars(
            select(PayableHold.id)
            .where(
                PayableHold.matured_at.is_(None),
                PayableHold.available_at <= now,
                tenant_scope(PayableHold.tenant, tenant),
            )
            .order_by(PayableHold.available_at, PayableHold.id)
            .limit(limit)
        )
    )


def mature(uow: UnitOfWork, hold_id: int, now: datetime) -> bool:
    """Make a held credit available; False if another sweeper did first."""
    hold = uow.session.get(PayableHold, hold_id)
    assert hold is not None
    contract = get_contract(uow, hold.contract_id, lock=True)
    uow.session.refresh(hold)  # as it is now that its contract is locked
    if hold.matured_at is not None:
        return False
    hold.matured_at = now
    entry = post(
        uow.session, contract, MATURED, matured(hold.amount, _role(contract, hold.party_id)), now
    )
    append(
        uow.session,
        contract,
        "payable_available",
        RAIL,
        SYSTEM,
        now,
        policy=(contract.policy_name, contract.policy_version),
        milestone_id=hold.milestone_id,
        amount=hold.amount,
        data={"party_id": hold.party_id, "ledger_entries": [entry]},
    )
    return True


def balances_of(uow: UnitOfWork, tenant: str, party_id: str) -> list[PartyBalance]:
    return balances.balances_of(uow.session, tenant, party_id)


def due_now(uow: UnitOfWork, tenant: str, currency: str | None = None) -> list[PartyBalance]:
    """Every party with money available to pay out now, largest first."""
    return balances.due(uow.session, tenant, currency)


def get_payout(uow: UnitOfWork, payout_id: str, tenant: str | None = None) -> Payout:
    return rail_records.owned(uow.session, Payout, payout_id, tenant, "payout")


def by_reference(uow: UnitOfWork, tenant: str, reference: str) -> Payout | None:
    found: Payout | None = rail_records.by_reference(uow.session, Payout, tenant, reference)
    return found


def _role(contract: Contract, party_id: str) -> str:
    """The party's role on the contract, as a party leg names it."""
    return str(balances.role_of_party(contract, party_id))


def _payout_for_update(
    uow: UnitOfWork, payout_id: str, tenant: str | None
) -> tuple[Payout, Contract]:
    payout = get_payout(uow, payout_id, tenant)
    contract = get_contract(uow, payout.contract_id, lock=True)
    uow.session.refresh(payout)  # as it is now that its contract is locked
    return payout, contract


def _locked_balance(uow: UnitOfWork, tenant: str, party_id: str, currency: str) -> PartyBalance:
    found = balances.lock(uow.session, tenant, party_id, currency)
    return found or PartyBalance(party_id, currency)


def _move(uow: UnitOfWork, payout: Payout, source: str, **values: Any) -> None:
    """Move the payout out of `source`, exactly once, whoever races to do it."""
    if not moved_once(uow.session, Payout, payout.id, source, **values):
        uow.session.refresh(payout)
        raise AlreadySettledError(
            f"payout {payout.id} is already {payout.status}", status=payout.status
        )


def _book(
    uow: UnitOfWork,
    contract: Contract,
    payout: Payout,
    kind: str,
    legs: Any,
    event: str,
    now: datetime,
    amount: int | None = None,
) -> None:
    entry = post(uow.session, contract, kind, legs, now, memo=payout.id)
    append(
        uow.session,
        contract,
        event,
        RAIL,
        SYSTEM,
        now,
        policy=(contract.policy_name, contract.policy_version),
        amount=amount or payout.amount,
        data={"payout": payout_record(payout), "ledger_entries": [entry]},
    )


FIELDS = (
    "id",
    "contract_id",
    "party_id",
    "kind",
    "status",
    "amount",
    "currency",
    "rail_reference",
    "failure_reason",
    "reversed_amount",
    "created_at",
    "settled_at",
)


def payout_record(payout: Payout) -> dict[str, Any]:
    return as_json(payout, FIELDS)
