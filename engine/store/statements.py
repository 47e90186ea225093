"""A contract's ledger entries for its statement (engine.domain.statement), with what
explains each: its milestone's title and the rail's record behind it.

Two kinds of query: the contract's postings with their entries, in entry id order (the
ledger is append-only, so that is the order they happened in), and the contract's
fundings, payouts and chargebacks, matched to entries as the services wrote them (a
funding's and a payout's entries carry the record's id as their memo, a chargeback
names its booking entry, and its reversal reverses that one).
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.domain.ledger_legs import Leg
from engine.domain.statement import Entry, Record
from engine.store.balances import role_of_party
from engine.store.models import (
    Chargeback,
    Contract,
    Funding,
    LedgerEntry,
    Milestone,
    Payout,
    Posting,
)

_POSTINGS = (
    select(
        LedgerEntry.id,
        LedgerEntry.created_at,
        LedgerEntry.kind,
        LedgerEntry.memo,
        LedgerEntry.reverses_id,
        Milestone.title,
        Posting.account,
        Posting.amount,
        Posting.party_id,
    )
    .join(LedgerEntry, LedgerEntry.id == Posting.entry_id)
    .outerjoin(Milestone, Milestone.id == LedgerEntry.milestone_id)
    .where(Posting.contract_id == bindparam("contract_id"))
    .order_by(LedgerEntry.id, Posting.id)
)


def entries(session: Session, contract: Contract) -> list[Entry]:
    """The contract's entries, oldest first, each with its legs and what explains it."""
    records = _records(session, contract.id)
    found = []
    rows = session.execute(_POSTINGS, {"contract_id": contract.id})
    for entry_id, postings in groupby(rows, key=lambda row: row.id):
        legs = list(postings)
        head = legs[0]
        record = records.get(entry_id) or records.get(head.reverses_id) or records.get(head.memo)
        found.append(
            Entry(
                entry_id,
                head.created_at,
                head.kind,
                head.memo,
                tuple(
                    Leg(p.account, int(p.amount), role_of_party(contract, p.party_id)) for p in legs
                ),
                head.title,
                record,
                head.reverses_id,
            )
        )
    return found


def _records(session: Session, contract_id: str) -> dict[Any, Record]:
    """The contract's rail records: fundings and payouts by id, chargebacks by the entry
    that booked them."""
    records: dict[Any, Record] = {}
    for funding in session.scalars(select(Funding).where(Funding.contract_id == contract_id)):
        records[funding.id] = Record(
            "funding",
            funding.rail_reference or funding.id,
            funding.status,
            None,
            funding.failure_reason,
        )
    for payout in session.scalars(select(Payout).where(Payout.contract_id == contract_id)):
        records[payout.id] = Record(
            payout.kind,
            payout.rail_reference,
            payout.status,
            payout.party_id,
            payout.failure_reason,
        )
    for chargeback in session.scalars(
        select(Chargeback).where(Chargeback.contract_id == contract_id)
    ):
        records[chargeback.entry_id] = Record(
            "chargeback", chargeback.rail_reference, chargeback.status, None, chargeback.reason
        )
    return records
