"""The audit trail: an event per transition and payment, hash-chained per contract.

Each event's hash covers its own fields and the previous event's hash, so
altering or removing any row breaks every hash after it; `verify_chain` names
the first row that no longer matches.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from engine.domain.clock import as_utc
from engine.store import batch
from engine.store.models import Contract, Event
from engine.store.rows import written_by_database

GENESIS = "0" * 64
_EVENTS = cast(Table, Event.__table__)
_COLUMNS = [column.key for column in _EVENTS.columns if column.key != "id"]
"""Events go in as plain table INSERTs (engine.store.batch): nothing reads them back as
objects in the command's transaction, and the ORM's unit of work cost several times the
statement."""


def _canonical(event: Any) -> bytes:
    fields = {
        "contract_id": event.contract_id,
        "milestone_id": event.milestone_id,
        "seq": event.seq,
        "type": event.type,
        "actor_id": event.actor_id,
        "actor_role": event.actor_role,
        "amount": event.amount,
        "currency": event.currency,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "policy_name": event.policy_name,
        "policy_version": event.policy_version,
        "data": json.loads(event.data),
        "created_at": event.created_at.isoformat(timespec="microseconds"),
        "prev_hash": event.prev_hash,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def event_hash(event: Any) -> str:
    """The hash of an event, or of any row with an event's columns."""
    return hashlib.sha256(_canonical(event)).hexdigest()


def append(
    session: Session,
    contract: Contract,
    type: str,
    actor_id: str,
    actor_role: str,
    at: datetime,
    *,
    policy: tuple[str, int],
    milestone_id: str | None = None,
    amount: int | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    """Append the contract's next event; the caller holds the contract row for update.

    The contract's head (event_seq, last_event_hash) moves with the INSERT: a trigger
    on `events` writes it, so a command sends no UPDATE of the contract for it.

    The returned Event is not in the session (it is inserted as a row, on PostgreSQL with
    the transaction's next statement: engine.store.batch); it carries its id from then
    on, and a later query in the same transaction finds it like any other.
    """
    event = Event(
        contract_id=contract.id,
        milestone_id=milestone_id,
        seq=contract.event_seq + 1,
        type=type,
        actor_id=actor_id,
        actor_role=actor_role,
        amount=amount,
        currency=contract.currency,
        from_state=from_state,
        to_state=to_state,
        policy_name=policy[0],
        policy_version=policy[1],
        data=json.dumps(data or {}, sort_keys=True),
        created_at=as_utc(at),
        prev_hash=contract.last_event_hash,
    )
    event.hash = event_hash(event)
    row = {key: getattr(event, key) for key in _COLUMNS}
    batch.insert_later(session, _EVENTS, _COLUMNS, [row], returned=partial(setattr, event, "id"))
    # The INSERT moved the contract's head in the database (a trigger, migration 0009);
    # the loaded row learns it here, as already written, so nothing writes it twice.
    written_by_database(session, contract, {"event_seq": event.seq, "last_event_hash": event.hash})
    return event


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first event of a contract whose stored hash or link no longer matches."""

    contract_id: str
    event_id: int
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"contract {self.contract_id}: event {self.event_id} (#{self.seq}) {self.reason}"


Mark = tuple[int, str]
"""A contract's chain verified through event #seq, whose hash was this."""


def walk_chains(
    events: Iterable[Any], marks: Mapping[str, Mark] | None = None
) -> Iterator[ChainBreak]:
    """The first break of each contract's chain among `events` (rows with an event's
    columns, in contract, seq order; streamed, never held).

    A contract with a mark is checked from it: its events up to the mark were verified
    before, and the event at the mark must still carry the hash then seen.
    """
    marks = marks or {}
    current, previous, expected_seq, broken, at_mark = None, GENESIS, 1, False, False
    for event in events:
        if event.contract_id != current:
            current, broken = event.contract_id, False
            marked_seq, previous = marks.get(current, (0, GENESIS))
            expected_seq, at_mark = max(marked_seq, 1), marked_seq > 0
        if broken or (at_mark and event.seq < expected_seq):
            continue
        reason = None
        if at_mark:  # the first event at or past the mark must be the marked one, unchanged
            at_mark = False
            if event.seq != expected_seq:
                reason = (
                    f"follows #{expected_seq - 1}: the event an earlier audit verified is missing"
                )
            elif event.hash != previous or event_hash(event) != previous:
                reason = "was altered after an earlier audit verified it"
            else:
                expected_seq += 1
                continue
        elif event.seq != expected_seq:
            reason = f"follows #{expected_seq - 1}: an event is missing"
        elif event.prev_hash != previous:
            reason = "does not link to the event before it"
        elif event_hash(event) != event.hash:
            reason = "was altered after it was written"
        if reason:
            yield ChainBreak(event.contract_id, event.id, event.seq, reason)
            broken = True
        previous, expected_seq = event.hash, expected_seq + 1


CHAIN = select(_EVENTS).order_by(_EVENTS.c.contract_id, _EVENTS.c.seq)
"""Events as plain rows in chain order: the audit streams them, never as ORM objects."""


def verify_chain(session: Session, contract_id: str | None = None) -> list[ChainBreak]:
    """Recompute every chain (or one contract's); one break per tampered contract."""
    query = CHAIN if contract_id is None else CHAIN.where(_EVENTS.c.contract_id == contract_id)
    rows = session.execute(query.execution_options(yield_per=1000))
    return list(walk_chains(rows))
