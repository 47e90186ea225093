"""Feed positions follow commit order, not insert order (PostgreSQL, where the two differ).

Readers number the feed before reading (web.api.feed): a row whose event has not
committed yet is not numbered, so it gets a position after everything seen before.
"""

from __future__ import annotations

from sqlalchemy import select

from api.helpers import number_feed, tenant_contract
from engine.domain.clock import FixedClock
from engine.service.contracts import add_milestone
from engine.service.tranche import Tranche
from engine.store.db import Database
from engine.store.models import Event
from web.api.feed import read_feed
from web.api.models import FeedEntry


def _read(database: Database, after: int) -> list:
    number_feed(database)
    with database.session() as reader:
        return read_feed(reader, "t1", after, 100)


def test_a_late_commit_gets_a_later_position(postgres_database: Database, clock: FixedClock):
    tranche = Tranche(postgres_database, clock)
    first, second = tenant_contract(tranche).id, tenant_contract(tranche).id
    (_, start), *_ = reversed(_read(postgres_database, 0))
    slow = tranche.unit_of_work().__enter__()
    early = add_milestone(slow, first, title="inserted first", amount=10)
    slow.session.flush()
    slow.session.dispatch.before_commit(slow.session)  # its feed row is in, not committed
    feed_rows = (
        select(FeedEntry.position)
        .join(Event, Event.id == FeedEntry.event_id)
        .where(Event.contract_id == first)
    )
    assert None in slow.session.scalars(feed_rows).all()
    with tranche.unit_of_work() as fast:
        add_milestone(fast, second, title="inserted second", amount=10)
        fast.commit()
    seen = _read(postgres_database, 0)
    assert "inserted second" in seen[-1][1].data
    slow.commit()
    slow.__exit__(None, None, None)
    with postgres_database.session() as check:
        assert None in check.scalars(feed_rows).all()  # committed, numbered by the next read
    after = _read(postgres_database, seen[-1][0])
    ((position, event),) = after
    assert position == seen[-1][0] + 1
    assert "inserted first" in event.data
    assert event.id < seen[-1][1].id  # inserted earlier, numbered later: commit order wins
    assert start.id < event.id
    assert early.id is not None
