"""The double-entry escrow ledger.

Design: an *entry* is one money movement; its *postings* are signed amounts on
accounts, and they always sum to zero (invariant 2). The accounts are listed in
engine.domain.ledger_legs: a contract's (escrow per milestone, fees, the rail's
chargebacks) and a party's (what is owed to them, paid out, in flight).

Balances are sums of postings; nothing here ever updates or deletes a posting,
and the database refuses it too. A mistake is corrected by `reverse`. What is
updated are two caches: `post` keeps the milestone's figures (escrow, funded,
released, refunded, fees, pending funding, charged back) and each party's balance
(engine.store.balances) in step with the postings it writes, in the same
transaction; `tranche audit verify` proves both agree with the postings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

from engine.domain.errors import InsufficientEscrowError, LedgerError, NotFoundError
from engine.domain.ledger_legs import (
    CHARGEBACK,
    ESCROW,
    PENDING_FUNDING,
    PLATFORM_FEES,
    RAIL_CHARGEBACKS,
    Leg,
    legs_for,
)
from engine.domain.policy.document import Policy
from engine.domain.policy.vocabulary import HOLD, REFUND, RELEASE, Movement
from engine.store import balances, batch
from engine.store.models import Contract, LedgerEntry, Milestone, Posting

# Entry and postings go in as plain INSERTs on their tables, built once: nothing reads
# them back as objects, the ORM would insert postings one by one to learn their ids,
# and adding the entry as an object would need a flush (of the milestone too) for its id.
_ENTRIES, _POSTINGS = cast(Table, LedgerEntry.__table__), cast(Table, Posting.__table__)
_ENTRY_FIELDS = ("contract_id", "milestone_id", "kind", "memo", "reverses_id", "created_at")
_POSTING_FIELDS = (
    "entry_id",
    "contract_id",
    "milestone_id",
    "account",
    "amount",
    "currency",
    "party_id",
)
_INSERT_ENTRY = insert(_ENTRIES).returning(_ENTRIES.c.id)
NEXT_ENTRY_ID = func.nextval(func.pg_get_serial_sequence("ledger_entries", "id"))
"""PostgreSQL: an entry's id drawn before its INSERT, so that the INSERT need not return
it and can wait in the transaction's batch (engine.store.batch) with the event naming it."""
_SPARE_ID = "tranche_spare_entry_id"


def keep_spare_id(session: Session, entry_id: int) -> None:
    """An entry id drawn (NEXT_ENTRY_ID) by a statement the command sent anyway (the load of
    its milestone), for the transaction's next entry: no statement of its own to draw one.
    Unused, it is a gap in the ids, as a rolled-back INSERT leaves."""
    session.info[_SPARE_ID] = entry_id


def _insert_entry(session: Session, entry: Mapping[str, object]) -> int:
    """Write the entry (PostgreSQL: in the transaction's batch) and return its id."""
    if session.get_bind().dialect.name != "postgresql":
        return session.execute(_INSERT_ENTRY, entry).scalar_one()
    entry_id = session.info.pop(_SPARE_ID, None)
    if entry_id is None:
        entry_id = session.execute(select(NEXT_ENTRY_ID)).scalar_one()
    batch.insert_later(session, _ENTRIES, ("id", *_ENTRY_FIELDS), [{**entry, "id": entry_id}])
    return int(entry_id)


def post(
    session: Session,
    contract: Contract,
    kind: str,
    legs: Iterable[Leg],
    at: datetime,
    milestone: Milestone | None = None,
    memo: str = "",
    reverses_id: int | None = None,
    hold: timedelta | None = None,
    offset_debts: bool = True,
) -> int:
    """Write one entry and its postings, and count them on the milestone and on the parties'
    balances; return the entry's id.

    Refused unless the legs balance. Nothing is flushed here: the milestone's row is
    written once, with the rest of its command. A party leg names a role; its posting
    names the contract's party in it. A credit held for `hold` matures later, and a
    credit to a party in debt repays the debt (engine.store.balances).
    """
    legs = [leg for leg in legs if leg.amount != 0]
    if not legs or sum(leg.amount for leg in legs) != 0:
        raise LedgerError(
            f"postings of a {kind} entry must balance to zero",
            legs=[(leg.account, leg.amount) for leg in legs],
        )
    milestone_id = milestone.id if milestone is not None else None
    entry = {
        "contract_id": contract.id,
        "milestone_id": milestone_id,
        "kind": kind,
        "memo": memo[:200],
        "reverses_id": reverses_id,
        "created_at": at,
    }
    parties = [balances.party_of(contract, leg.party) for leg in legs]
    # The parties' rows first: their upsert answers with the debt at once, and the entry
    # then waits in the batch (PostgreSQL) with the rest of the command.
    owing = []
    if any(parties):
        owing = balances.count(session, contract, kind, legs, milestone_id, at, hold, offset_debts)
    entry_id = _insert_entry(session, entry)
    postings = [
        {
            "entry_id": entry_id,
            "contract_id": contract.id,
            "milestone_id": milestone_id,
            "account": leg.account,
            "amount": leg.amount,
            "currency": contract.currency,
            "party_id": party,
        }
        for leg, party in zip(legs, parties, strict=True)
    ]
    batch.insert_later(session, _POSTINGS, _POSTING_FIELDS, postings)
    if milestone is not None:
        _count(milestone, kind, legs)
    for party_id in owing:  # reads the postings, so the batch goes first
        balances.repay_debts(session, contract.tenant, party_id, contract.currency, at)
    return entry_id


def _count(milestone: Milestone, kind: str, legs: Iterable[Leg]) -> None:
    """Add one entry's legs to the milestone's cached figures, as `summary.figures` defines them."""
    for leg in legs:
        if leg.account == ESCROW:
            milestone.escrow += leg.amount
            if kind == HOLD:
                milestone.funded += leg.amount
            elif kind == RELEASE:
                milestone.released -= leg.amount
            elif kind in (REFUND, CHARGEBACK):
                milestone.refunded -= leg.amount
        elif leg.account == PLATFORM_FEES:
            milestone.fees += leg.amount
        elif leg.account == PENDING_FUNDING:
            milestone.pending_funding += leg.amount
        elif leg.account == RAIL_CHARGEBACKS:
            milestone.charged_back += leg.amount


def post_movement(
    session: Session,
    contract: Contract,
    movement: Movement,
    milestone: Milestone | None,
    policy: Policy,
    at: datetime,
    memo: str = "",
) -> int:
    """Post one movement; one out of escrow may not exceed what the milestone holds.

    What the provider is paid is held for the policy's `payout_hold`, if it has one."""
    held = milestone.escrow if milestone is not None else 0
    if movement.kind in (RELEASE, REFUND) and movement.amount > held:
        raise InsufficientEscrowError(
            f"cannot move {movement.amount} out of an escrow of {held}",
            amount=movement.amount,
            escrow=held,
        )
    hold = policy.payout_hold
    legs = legs_for(movement, policy.platform_fee_bps, held=hold is not None)
    return post(session, contract, movement.kind, legs, at, milestone, memo, hold=hold)


def reverse(session: Session, entry_id: int, at: datetime, memo: str = "") -> int:
    """Correct a mistake by an equal and opposite entry; the original stays on record."""
    original = session.get(LedgerEntry, entry_id)
    if original is None:
        raise NotFoundError(f"no ledger entry {entry_id}", entry_id=entry_id)
    contract = session.get(Contract, original.contract_id)
    assert contract is not None
    milestone = None
    if original.milestone_id is not None:
        milestone = session.get(Milestone, original.milestone_id)
        assert milestone is not None
    postings = session.scalars(select(Posting).where(Posting.entry_id == entry_id)).all()
    return post(
        session,
        contract,
        original.kind,
        [Leg(p.account, -p.amount, balances.role_of_party(contract, p.party_id)) for p in postings],
        at,
        milestone,
        memo or f"reversal of entry {entry_id}",
        reverses_id=entry_id,
    )


def unbalanced_entries(session: Session) -> list[int]:
    """Entries whose postings do not sum to zero: always empty unless the database was forged."""
    rows = session.execute(
        select(Posting.entry_id).group_by(Posting.entry_id).having(func.sum(Posting.amount) != 0)
    )
    return [r[0] for r in rows]
