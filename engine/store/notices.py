"""Notices: every event whose transition says `notify` tells those parties, provably.

A trigger on `events` writes them in the event's own INSERT (migration 0015), so they
commit with their event or not at all, whatever wrote it (API, page, CLI, timers,
arbitration). The page shows them at once; `tranche notices send` mails those with an
address (the outbox: `due`, then the mail worker's stamps); opening the page afterwards
stamps them seen (`mark_seen`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.store.notice_models import Notice

PENDING, DELIVERED, FAILED, NO_ADDRESS = "pending", "delivered", "failed", "no_address"


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
