"""Events hash-chained per contract, as Tranche's engine/store/events.py chains them.

Each event's hash is SHA-256 over canonical JSON of its fields, the previous event's hash
among them; the contract row holds the chain's head. The caller holds the contract row
locked (select_for_update) or created it in this transaction.
"""

import hashlib
import json
from datetime import datetime
from typing import Any

from .models import POLICY, Contract, Event, Milestone

GENESIS = "0" * 64


def _canonical(event: Event, data: dict[str, Any]) -> bytes:
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
        "data": data,
        "created_at": event.created_at.isoformat(timespec="microseconds"),
        "prev_hash": event.prev_hash,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def append(
    contract: Contract,
    type_: str,
    actor_id: str,
    actor_role: str,
    now: datetime,
    *,
    milestone: Milestone | None = None,
    amount: int | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    """Write the contract's next event and move the contract's head to it."""
    data = data or {}
    event = Event(
        contract=contract,
        milestone=milestone,
        seq=contract.event_seq + 1,
        type=type_,
        actor_id=actor_id,
        actor_role=actor_role,
        amount=amount,
        currency=contract.currency,
        from_state=from_state,
        to_state=to_state,
        policy_name=POLICY[0],
        policy_version=POLICY[1],
        data=json.dumps(data, sort_keys=True),
        created_at=now,
        prev_hash=contract.last_event_hash,
    )
    event.hash = hashlib.sha256(_canonical(event, data)).hexdigest()
    event.save(force_insert=True)
    contract.event_seq, contract.last_event_hash = event.seq, event.hash
    contract.save(update_fields=["event_seq", "last_event_hash"])
    return event
