"""Engine objects to JSON-ready dicts (the shapes declared in schemas.py)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from engine.domain.summary import Summary
from engine.service import chargebacks, fundings, payouts
from engine.service.milestones import MilestoneView
from engine.store.models import Contract, Event, PaymentRequest


def moment(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def summary(value: Summary) -> dict[str, Any]:
    return value.as_dict()


def contract(row: Contract, figures: Summary) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "buyer_id": row.buyer_id,
        "provider_id": row.provider_id,
        "currency": row.currency,
        "agreed_amount": row.agreed_amount,
        "policy": {"name": row.policy_name, "version": row.policy_version},
        "created_at": moment(row.created_at),
        "summary": summary(figures),
    }


def milestone(view: MilestoneView) -> dict[str, Any]:
    deadline = view.next_deadline
    return {
        "id": view.id,
        "contract_id": view.contract_id,
        "position": view.position,
        "title": view.title,
        "amount": view.amount,
        "currency": view.currency,
        "state": view.state,
        "final": view.final,
        "policy": {"name": view.policy_name, "version": view.policy_version},
        "version": view.version,
        "revisions": view.revisions,
        "role": view.role,
        "allowed_events": list(view.allowed_events),
        "summary": summary(view.summary),
        "next_deadline": None
        if deadline is None
        else {
            "event": deadline.event,
            "due_at": moment(deadline.due_at),
            "description": deadline.description,
            "outcome": deadline.outcome,
        },
        "created_at": moment(view.created_at),
        "updated_at": moment(view.updated_at),
    }


def event(row: Event) -> dict[str, Any]:
    return {
        "id": row.id,
        "contract_id": row.contract_id,
        "milestone_id": row.milestone_id,
        "seq": row.seq,
        "type": row.type,
        "actor_id": row.actor_id,
        "actor_role": row.actor_role,
        "amount": row.amount,
        "currency": row.currency,
        "from_state": row.from_state,
        "to_state": row.to_state,
        "policy": {"name": row.policy_name, "version": row.policy_version},
        "data": json.loads(row.data),
        "created_at": moment(row.created_at),
        "hash": row.hash,
    }


def payment_request(row: PaymentRequest, currency: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "contract_id": row.contract_id,
        "amount": row.amount,
        "currency": currency,
        "note": row.note,
        "status": row.status,
        "requested_by": row.requested_by,
        "created_at": moment(row.created_at),
        "decided_at": moment(row.decided_at),
        "decided_by": row.decided_by,
    }


funding = fundings.funding_record
payout = payouts.payout_record
chargeback = chargebacks.chargeback_record
