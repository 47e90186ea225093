"""Notices: every event whose transition says `notify` tells those parties, provably.

`record` runs inside `events.append`, so the notices commit with their event or not at
all, from every entry point (API, page, CLI, timers, arbitration). The page shows them
at once; `tranche notices send` mails those with an address (the outbox: `due` and the
stamps below); opening the page afterwards stamps them seen.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.store.models import Contract, Event
from engine.store.notice_models import Notice, PartyContact

PENDING, SENT, FAILED, NO_ADDRESS = "pending", "delivered", "failed", "no_address"
PARTIES = ("buyer", "provider")


def record(session: Session, contract: Contract, event: Event, notify: list[Any]) -> None:
    """A notice for each party the event's `notify` names (policy transitions and
    contract payments say whom)."""
    contacts = {
        c.role: c
        for c in session.scalars(
            select(PartyContact).where(PartyContact.contract_id == contract.id)
        )
    }
    for role in dict.fromkeys(r for r in notify if r in PARTIES):
        contact = contacts.get(role)
        session.add(
            Notice(
                tenant=contract.tenant,
                contract_id=contract.id,
                milestone_id=event.milestone_id,
                event_id=event.id,
                event_type=event.type,
                role=role,
                party_id=contract.buyer_id if role == "buyer" else contract.provider_id,
                created_at=event.created_at,
                email_to=contact.email if contact else None,
                email_status=PENDING if contact else NO_ADDRESS,
                email_attempts=0,
                email_next_at=event.created_at if contact else None,
            )
        )


def of_contract(session: Session, contract_id: str, role: str | None = None) -> list[Notice]:
    query = select(Notice).where(Notice.contract_id == contract_id)
    if role is not None:
        query = query.where(Notice.role == role)
    return list(session.scalars(query.order_by(Notice.id)))


def mark_seen(session: Session, contract_id: str, role: str, now: datetime) -> int:
    """The party opened its page: every notice it had by then is seen (first time kept)."""
    result = session.execute(
        update(Notice)
        .where(
            Notice.contract_id == contract_id,
            Notice.role == role,
            Notice.seen_at.is_(None),
            Notice.created_at <= now,
        )
        .values(seen_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def due(session: Session, now: datetime, limit: int, skip_locked: bool) -> list[Notice]:
    """Emails due now, claimed: on PostgreSQL several senders skip each other's rows."""
    query = (
        select(Notice)
        .where(Notice.email_status == PENDING, Notice.email_next_at <= now)
        .order_by(Notice.email_next_at, Notice.id)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))
