"""The event feed and the webhook outbox: appended with each event, numbered at read.

Why not the events' autoincrement ids: an id is handed out when a row is
inserted, not when its transaction commits. On PostgreSQL, transaction A can
insert id 10, B insert id 11 and commit first; a reader that saw 11 and moved
its cursor past it would never see 10. Feed positions must follow commit order.

Writers only append. A database trigger on `events` (migration 0008_feed_trigger)
inserts the event's `api_feed` row, `position` NULL, in the event's own INSERT:
a rolled-back event has no row and a committed one always has one, whichever
program wrote it. No lock, no read and no extra round trip, so writers never
wait on each other for the feed. (Numbering at commit, as this module once did,
needed a global lock held through every COMMIT and its WAL flush: every writer
of every tenant queued on it.)

`number_pending` gives the positions later, in batches: it takes an advisory
lock (`pg_advisory_xact_lock`, in a statement of its own, so the READ COMMITTED
snapshot of the statements after it sees every commit made before the lock was
granted), numbers the unnumbered rows it sees after the highest position, in
event-id order, and in the same transaction writes their webhook deliveries
(one per subscription of the row's tenant, see below). A row is visible only once its
event has committed, so positions follow commit order; numberers run one at a
time and each commits before the lock lets the next in, so positions become
visible in increasing order with no gaps or duplicates (a unique index stands
behind it): a reader that sees position N could already see every position < N.
On SQLite `BEGIN IMMEDIATE` already runs writers one at a time.

Who numbers: `GET /v1/events` and the deliveries listing before they read, and
`deliver_due` (`tranche deliver`) before each round, so webhooks go out though
nobody reads the feed; the sweep and every other command only append. Readers
and the worker pay for it, a batch at a time, and a read with nothing pending
stays a read (one indexed query). Deliveries go to the tenant's subscriptions
created no later than the event (as the clocks tell) and not deleted by the
time it is numbered; a subscription deleted later has its pending deliveries
cancelled when they come due.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from engine.domain.clock import SystemClock, as_utc
from engine.service.uow import UnitOfWork
from engine.store.models import Event, new_id
from web.api.models import FeedEntry, WebhookDelivery, WebhookSubscription

FEED_LOCK = 7_301_900_001
"""The advisory lock key that serialises feed numbering (an arbitrary fixed number)."""
BATCH = 1000
"""At most this many rows numbered per transaction (keeps each one short)."""

_feed = FeedEntry.__table__
_ANY_PENDING = select(_feed.c.event_id).where(_feed.c.position.is_(None)).limit(1)


def _numbering() -> Any:
    """Number the oldest pending rows after the highest position, returning the positions."""
    top = select(func.coalesce(func.max(_feed.c.position), 0)).scalar_subquery()
    pending = (
        select(
            _feed.c.event_id,
            (top + func.row_number().over(order_by=_feed.c.event_id)).label("position"),
        )
        .where(_feed.c.position.is_(None))
        .order_by(_feed.c.event_id)
        .limit(bindparam("batch"))
        .subquery()
    )
    return (
        update(_feed)
        .where(_feed.c.event_id == pending.c.event_id)
        .values(position=pending.c.position)
        .returning(_feed.c.position)
    )


_NUMBERING = _numbering()
_DUE = (
    select(
        _feed.c.event_id,
        _feed.c.position,
        _feed.c.tenant,
        WebhookSubscription.id,
        Event.created_at,
    )
    .join(Event, Event.id == _feed.c.event_id)
    .join(
        WebhookSubscription,
        and_(
            WebhookSubscription.tenant == _feed.c.tenant,
            WebhookSubscription.deleted_at.is_(None),
            WebhookSubscription.created_at <= Event.created_at,
        ),
    )
    .where(_feed.c.position.between(bindparam("low"), bindparam("high")))
)
"""The deliveries owed for a range of positions just numbered."""


def number_pending(session: Session, batch: int = BATCH) -> int:
    """Number committed feed rows that have no position yet, and write their deliveries.

    Returns how many rows it numbered (at most `batch`, the oldest events first); the
    caller commits. With nothing pending it runs one query and writes nothing.
    """
    if session.execute(_ANY_PENDING).first() is None:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FEED_LOCK})
    positions = session.scalars(_NUMBERING, {"batch": batch}).all()
    if not positions:  # another reader numbered them while we waited for the lock
        return 0
    wall = SystemClock().now()  # a sandbox's clock may be ahead: its webhooks go out now
    deliveries = [
        {
            "id": new_id("dl"),
            "subscription_id": subscription_id,
            "tenant": tenant,
            "event_id": event_id,
            "position": position,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": min(as_utc(created_at), wall),
            "created_at": created_at,
        }
        for event_id, position, tenant, subscription_id, created_at in session.execute(
            _DUE, {"low": min(positions), "high": max(positions)}
        )
    ]
    if deliveries:
        session.execute(insert(WebhookDelivery), deliveries)
    return len(positions)


def catch_up(uow: UnitOfWork, batch: int = BATCH) -> int:
    """Number all that is pending, a batch per commit, so that what `uow` reads next
    includes it; returns how many rows it numbered."""
    numbered = 0
    while True:
        done = number_pending(uow.session, batch)
        if not done:
            return numbered
        uow.commit()
        numbered += done
        if done < batch:
            return numbered


def read_feed(session: Session, tenant: str, after: int, limit: int) -> list[tuple[int, Event]]:
    """The tenant's numbered events after position `after`, in commit order."""
    rows = session.execute(
        select(FeedEntry.position, Event)
        .join(Event, Event.id == FeedEntry.event_id)
        .where(FeedEntry.tenant == tenant, FeedEntry.position > after)
        .order_by(FeedEntry.position)
        .limit(limit)
    )
    return [(position, event) for position, event in rows]
