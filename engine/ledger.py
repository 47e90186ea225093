"""The double-entry escrow ledger.

Design: an *entry* is one money movement; its *postings* are signed amounts on
accounts, and they always sum to zero (invariant 2). Accounts belong to a contract:

- ``buyer_funding``    money the buyer paid in (goes negative as the buyer pays)
- ``escrow``           held for one milestone (one account per milestone, so a
                       partial release never touches another milestone's money)
- ``provider_payable`` owed to the provider, net of fees
- ``buyer_refunds``    owed back to the buyer
- ``platform_fees``    the platform's fee on payments to the provider

Balances are sums of postings; nothing here ever updates or deletes a row, and
the database refuses it too. A mistake is corrected by `reverse`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import InsufficientEscrowError, LedgerError, NotFoundError
from engine.models import Contract, LedgerEntry, Milestone, Posting
from engine.rules import HOLD, REFUND, RELEASE, Movement

BUYER_FUNDING = "buyer_funding"
ESCROW = "escrow"
PROVIDER_PAYABLE = "provider_payable"
BUYER_REFUNDS = "buyer_refunds"
PLATFORM_FEES = "platform_fees"
DIRECT = "direct"
"""Entry kind of a payment from buyer to provider outside any milestone."""


@dataclass(frozen=True, slots=True)
class Leg:
    account: str
    amount: int


def legs_for(movement: Movement, fee_bps: int) -> list[Leg]:
    """The balanced legs of one movement; fees come out of the provider's side."""
    amount = movement.amount
    if movement.kind == HOLD:
        return [Leg(BUYER_FUNDING, -amount), Leg(ESCROW, amount)]
    if movement.kind == REFUND:
        return [Leg(ESCROW, -amount), Leg(BUYER_REFUNDS, amount)]
    fee = amount * fee_bps // 10_000
    source = Leg(ESCROW, -amount) if movement.kind == RELEASE else None
    return [
        source or Leg(BUYER_FUNDING, -amount),
        Leg(PROVIDER_PAYABLE, amount - fee),
        *([Leg(PLATFORM_FEES, fee)] if fee else []),
    ]


def post(
    session: Session,
    contract: Contract,
    kind: str,
    legs: Iterable[Leg],
    at: datetime,
    milestone_id: str | None = None,
    memo: str = "",
    reverses_id: int | None = None,
) -> LedgerEntry:
    """Write one entry and its postings; refuse it unless the legs balance."""
    legs = [leg for leg in legs if leg.amount != 0]
    if not legs or sum(leg.amount for leg in legs) != 0:
        raise LedgerError(
            f"postings of a {kind} entry must balance to zero",
            legs=[(leg.account, leg.amount) for leg in legs],
        )
    entry = LedgerEntry(
        contract_id=contract.id,
        milestone_id=milestone_id,
        kind=kind,
        memo=memo[:200],
        reverses_id=reverses_id,
        created_at=at,
    )
    session.add(entry)
    session.flush()
    session.add_all(
        Posting(
            entry_id=entry.id,
            contract_id=contract.id,
            milestone_id=milestone_id,
            account=leg.account,
            amount=leg.amount,
            currency=contract.currency,
        )
        for leg in legs
    )
    return entry


def post_movement(
    session: Session,
    contract: Contract,
    movement: Movement,
    milestone_id: str | None,
    fee_bps: int,
    at: datetime,
    memo: str = "",
    held: int | None = None,
) -> LedgerEntry:
    """Post one movement; one out of escrow may not exceed what is `held` (read if not given)."""
    if movement.kind in (RELEASE, REFUND):
        if held is None:
            held = escrow_balance(session, milestone_id or "")
        if movement.amount > held:
            raise InsufficientEscrowError(
                f"cannot move {movement.amount} out of an escrow of {held}",
                amount=movement.amount,
                escrow=held,
            )
    legs = legs_for(movement, fee_bps)
    return post(session, contract, movement.kind, legs, at, milestone_id, memo)


def reverse(session: Session, entry_id: int, at: datetime, memo: str = "") -> LedgerEntry:
    """Correct a mistake by an equal and opposite entry; the original stays on record."""
    original = session.get(LedgerEntry, entry_id)
    if original is None:
        raise NotFoundError(f"no ledger entry {entry_id}", entry_id=entry_id)
    contract = session.get(Contract, original.contract_id)
    assert contract is not None
    postings = session.scalars(select(Posting).where(Posting.entry_id == entry_id)).all()
    legs = [Leg(p.account, -p.amount) for p in postings]
    if original.milestone_id is not None:  # keep the milestone's cached escrow exact
        milestone = session.get(Milestone, original.milestone_id)
        assert milestone is not None
        milestone.escrow += sum(leg.amount for leg in legs if leg.account == ESCROW)
    return post(
        session,
        contract,
        original.kind,
        legs,
        at,
        original.milestone_id,
        memo or f"reversal of entry {entry_id}",
        reverses_id=entry_id,
    )


def escrow_balance(session: Session, milestone_id: str) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(Posting.amount), 0)).where(
            Posting.milestone_id == milestone_id, Posting.account == ESCROW
        )
    )
    return int(total or 0)


def escrow_mismatches(session: Session) -> list[tuple[str, int, int]]:
    """Milestones whose cached escrow differs from the sum of their escrow postings."""
    held = (
        select(Posting.milestone_id, func.sum(Posting.amount).label("total"))
        .where(Posting.account == ESCROW)
        .group_by(Posting.milestone_id)
        .subquery()
    )
    rows = session.execute(
        select(Milestone.id, Milestone.escrow, func.coalesce(held.c.total, 0))
        .outerjoin(held, held.c.milestone_id == Milestone.id)
        .where(Milestone.escrow != func.coalesce(held.c.total, 0))
    )
    return [(mid, int(cached), int(total)) for mid, cached, total in rows]


def unbalanced_entries(session: Session) -> list[int]:
    """Entries whose postings do not sum to zero: always empty unless the database was forged."""
    rows = session.execute(
        select(Posting.entry_id).group_by(Posting.entry_id).having(func.sum(Posting.amount) != 0)
    )
    return [r[0] for r in rows]
