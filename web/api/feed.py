"""The event feed and the webhook outbox, numbered at commit time.

Why not the events' autoincrement ids: an id is handed out when a row is
inserted, not when its transaction commits. On PostgreSQL, transaction A can
insert id 10, B insert id 11 and commit first; a reader that saw 11 and moved
its cursor past it would never see 10. So positions are assigned at COMMIT:
a transaction that appended events takes a transaction-scoped advisory lock
(`pg_advisory_xact_lock`) in `before_commit`, reads the highest position, and
numbers its events after it. The lock is released only once the commit is
visible, so positions become visible in increasing order with no gaps: a
reader that sees position N has already been able to see every position < N.
The lock covers only the last moment of each transaction (a few statements),
not the whole command. On SQLite `BEGIN IMMEDIATE` already makes writers run
one at a time, so the same numbering holds without the lock.

The same hook writes one outbox row per active webhook subscription of the
event's tenant, in the event's own transaction (a committed event is never
without its deliveries, and a rolled-back one never has any).

The hooks listen on every SQLAlchemy Session, so events appended by any
command (API, CLI, timer sweeps, arbitration) reach the feed. They are installed
when web.api.models is imported (the app, the `tranche` CLI and the migrations
do): a process that appends events must import it, or its events stay out of
the feed.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session

from engine.models import Contract, Event
from web.api.models import FeedEntry, WebhookDelivery, WebhookSubscription

PENDING = "tranche_api_new_events"
FEED_LOCK = 7_301_900_001
"""The advisory lock key that serialises feed numbering (an arbitrary fixed number)."""


def _collect(session: Session, flush_context: Any) -> None:
    """Remember new events with their tenant, while their contract is surely in the session."""
    for obj in session.new:
        if isinstance(obj, Event):
            contract = session.get(Contract, obj.contract_id)
            tenant = contract.tenant if contract else ""
            session.info.setdefault(PENDING, []).append((obj, tenant))


def _number(session: Session) -> None:
    if session.in_nested_transaction():
        return
    session.flush()  # events still pending (added after the command's last flush) count too
    pending = [(e, t) for e, t in session.info.pop(PENDING, []) if inspect(e).persistent]
    if not pending:
        return
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FEED_LOCK})
    position = session.scalar(select(func.max(FeedEntry.position))) or 0
    tenants = {e.contract_id: tenant for e, tenant in pending}
    hooks: dict[str, list[str]] = {}
    for sub_id, sub_tenant in session.execute(
        select(WebhookSubscription.id, WebhookSubscription.tenant).where(
            WebhookSubscription.tenant.in_(set(tenants.values())),
            WebhookSubscription.deleted_at.is_(None),
        )
    ):
        hooks.setdefault(sub_tenant, []).append(sub_id)
    for event, _ in sorted(pending, key=lambda item: item[0].id):
        position += 1
        tenant = tenants[event.contract_id]
        session.add(
            FeedEntry(
                position=position, event_id=event.id, tenant=tenant, contract_id=event.contract_id
            )
        )
        for sub_id in hooks.get(tenant, ()):
            session.add(
                WebhookDelivery(
                    id="dl_" + secrets.token_hex(10),
                    subscription_id=sub_id,
                    tenant=tenant,
                    event_id=event.id,
                    position=position,
                    status="pending",
                    attempts=0,
                    next_attempt_at=event.created_at,
                    created_at=event.created_at,
                )
            )
    session.flush()


def _forget(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(PENDING, None)


sa_event.listen(Session, "after_flush", _collect)
sa_event.listen(Session, "before_commit", _number)
sa_event.listen(Session, "after_transaction_end", _forget)


def read_feed(session: Session, tenant: str, after: int, limit: int) -> list[tuple[int, Event]]:
    """The tenant's events after position `after`, in commit order."""
    rows = session.execute(
        select(FeedEntry.position, Event)
        .join(Event, Event.id == FeedEntry.event_id)
        .where(FeedEntry.tenant == tenant, FeedEntry.position > after)
        .order_by(FeedEntry.position)
        .limit(limit)
    )
    return [(position, event) for position, event in rows]
