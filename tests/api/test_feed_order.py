"""Feed positions follow commit order, not insert order (PostgreSQL, where the two differ)."""

from __future__ import annotations

from engine.clock import FixedClock
from engine.contracts import add_milestone
from engine.db import Database
from engine.service import Tranche
from web.api.feed import read_feed


def _contract(tranche: Tranche) -> str:
    contract = tranche.create_contract(
        buyer_id="b", provider_id="p", currency="USD", agreed_amount=100, title="t", tenant="t1"
    )
    return contract.id


def test_a_late_commit_gets_a_later_position(postgres_database: Database, clock: FixedClock):
    tranche = Tranche(postgres_database, clock)
    first, second = _contract(tranche), _contract(tranche)
    with postgres_database.session() as reader:
        (_, start), *_ = reversed(read_feed(reader, "t1", 0, 100))
    slow = tranche.unit_of_work().__enter__()
    early = add_milestone(slow, first, title="inserted first", amount=10)
    slow.session.flush()
    with tranche.unit_of_work() as fast:
        add_milestone(fast, second, title="inserted second", amount=10)
        fast.commit()
    with postgres_database.session() as reader:
        seen = read_feed(reader, "t1", 0, 100)
    assert "inserted second" in seen[-1][1].data
    slow.commit()
    slow.__exit__(None, None, None)
    with postgres_database.session() as reader:
        after = read_feed(reader, "t1", seen[-1][0], 100)
    ((position, event),) = after
    assert position == seen[-1][0] + 1
    assert "inserted first" in event.data
    assert event.id < seen[-1][1].id  # inserted earlier, numbered later: commit order wins
    assert start.id < event.id
    assert early.id is not None
