"""engine.store.batch: on PostgreSQL a transaction's writes wait and leave in one statement,
before anything else reaches the database; a rollback (of the transaction or of the
savepoint they were made in) drops them. On SQLite each is sent at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import cast

import pytest
from sqlalchemy import Table, event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from engine.domain.ledger_legs import ESCROW, PLATFORM_FEES, Leg
from engine.store import batch, ledger
from engine.store.events import append
from engine.store.models import Contract, Event, LedgerEntry, Milestone, Posting, Timer
from engine.store.rows import write_back

_TIMERS = cast(Table, Timer.__table__)


@pytest.fixture
def statements(tranche):
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(" ".join(statement.split()[:4]))

    engine = tranche.database.engine
    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


def note(uow, contract_id: str) -> Event:
    """An event appended to the contract (a write that waits on PostgreSQL)."""
    contract = uow.session.get(Contract, contract_id)  # a query the first time only
    now = uow.clock.now()
    return append(uow.session, contract, "note", "b", "buyer", now, policy=("p", 1))


def events_of(session, contract_id: str) -> int:
    return session.scalar(select(func.count()).where(Event.contract_id == contract_id))


def test_a_read_sees_the_writes_waiting_before_it(tranche, contract, statements):
    postgres = tranche.database.is_postgres
    with tranche.unit_of_work() as uow:
        before = events_of(uow.session, contract.id)
        held = uow.session.get(Contract, contract.id)  # noqa: F841  (held: no query in `note`)
        statements.clear()
        written = note(uow, contract.id)
        assert statements == ([] if postgres else ["INSERT INTO events (contract_id,"])
        assert events_of(uow.session, contract.id) == before + 1
        if postgres:  # the batch went out first, in one statement, and answered the id
            assert [s.split()[0] for s in statements] == ["WITH", "SELECT"]
        assert uow.session.get(Event, written.id).seq == written.seq


def test_a_savepoint_rolled_back_drops_the_writes_made_in_it(tranche, contract, statements):
    with tranche.unit_of_work() as uow:
        before = events_of(uow.session, contract.id)
        note(uow, contract.id)  # before the savepoint: it goes out as the savepoint begins
        savepoint = uow.session.begin_nested()
        note(uow, contract.id)
        savepoint.rollback()
        statements.clear()
        uow.commit()
        assert statements == []  # nothing was left waiting for the commit
    with tranche.reading() as uow:
        assert events_of(uow.session, contract.id) == before + 1


def test_a_released_savepoint_leaves_its_writes_to_the_commit(tranche, contract):
    with tranche.unit_of_work() as uow:
        before = events_of(uow.session, contract.id)
        with uow.session.begin_nested():
            note(uow, contract.id)
        note(uow, contract.id)
        uow.commit()
    with tranche.reading() as uow:
        assert events_of(uow.session, contract.id) == before + 2


def test_a_transaction_rolled_back_sends_nothing_and_leaves_nothing_for_the_next(
    tranche, contract, statements
):
    with tranche.unit_of_work() as uow:
        before = events_of(uow.session, contract.id)
        statements.clear()
        note(uow, contract.id)
    # Closed without a commit: rolled back. The next transaction (on the same pooled
    # connection) sends only what it does itself.
    with tranche.unit_of_work() as uow:
        assert events_of(uow.session, contract.id) == before
        uow.commit()
    assert [s for s in statements if s.startswith(("WITH", "INSERT"))] == (
        [] if tranche.database.is_postgres else ["INSERT INTO events (contract_id,"]
    )


def test_two_updates_of_one_row_never_share_a_statement(tranche, milestone):
    """PostgreSQL leaves it undefined which of two changes to one row in one statement
    wins: the second UPDATE of a table sends the first before it waits."""
    with tranche.unit_of_work() as uow:
        row = uow.session.get(Milestone, milestone.id)
        with uow.session.no_autoflush:
            row.title = "first"
            write_back(uow.session, row)
            row.revisions = 7
            write_back(uow.session, row)
        uow.commit()
    stored = tranche.milestone(milestone.id)
    assert (stored.title, stored.revisions, stored.version) == ("first", 7, milestone.version + 2)


def test_the_orm_flush_comes_after_the_writes_it_may_refer_to(tranche, contract):
    """A row the ORM flushes may name a row waiting in the batch (a chargeback names its
    ledger entry): the batch goes first, or the foreign key would find nothing."""
    with tranche.unit_of_work() as uow:
        row = uow.session.get(Contract, contract.id)
        legs = [Leg(ESCROW, 1), Leg(PLATFORM_FEES, -1)]
        entry_id = ledger.post(uow.session, row, "hold", legs, uow.clock.now())
        leg = {"entry_id": entry_id, "contract_id": contract.id, "currency": "USD"}
        uow.session.add(Posting(**leg, account=ESCROW, amount=0))
        uow.session.flush()  # no IntegrityError: the entry went out first
        assert uow.session.get(LedgerEntry, entry_id) is not None


def test_a_batched_insert_must_name_every_column(tranche, milestone):
    """A column default only the INSERT's own execution fills in (the timer's description)
    cannot ride in a batch: refused when the statement is built, not written as NULL."""
    columns = ("milestone_id", "event", "due_at", "status", "created_at")
    with tranche.unit_of_work() as uow:
        row = {"milestone_id": milestone.id, "event": "x", "status": "pending"}
        row |= {"due_at": uow.clock.now(), "created_at": uow.clock.now()}
        with pytest.raises(ValueError, match=r"timers must name \['description'\]"):
            batch.insert_later(uow.session, _TIMERS, columns, [row])


def test_rows_keep_their_values_exactly(tranche, milestone):
    """On PostgreSQL the rows travel as JSON: moments to the microsecond, in UTC whatever
    their offset, text as given (quotes, backslashes, accents), NULL as NULL, big ints."""
    at = datetime(2026, 3, 1, 12, 30, 45, 123456, tzinfo=timezone(timedelta(hours=5)))
    text = 'a "quoted" \\ back\\slash, é, 日本, \t tab'
    with tranche.unit_of_work() as uow:
        rows = [
            {"milestone_id": milestone.id, "event": text, "description": "", "due_at": at}
            | {"status": "odd", "created_at": at},
            {"milestone_id": milestone.id, "event": "second", "description": text, "due_at": at}
            | {"status": "odd", "created_at": at.astimezone(UTC)},
        ]
        batch.insert_later(uow.session, _TIMERS, tuple(rows[0]), rows)
        uow.commit()
    with tranche.reading() as uow:
        stored = uow.session.execute(
            select(Timer.event, Timer.description, Timer.due_at, Timer.created_at)
            .where(Timer.status == "odd")
            .order_by(Timer.id)
        ).all()
    assert [tuple(r) for r in stored] == [(text, "", at, at), ("second", text, at, at)]
    assert stored[0].due_at.utcoffset() == timedelta(0)


def test_a_failed_statement_of_the_batch_fails_the_transaction(tranche, contract):
    """Two events with one number: the unique constraint refuses the second INSERT, on its
    own (SQLite) or with the whole batch (PostgreSQL), and nothing lands."""
    with tranche.unit_of_work() as uow:
        row = uow.session.get(Contract, contract.id)  # held: `note` sends no query
        first = note(uow, contract.id)
        set_committed_value(row, "event_seq", row.event_seq - 1)  # the next takes its number

        def note_again_and_commit() -> None:
            note(uow, contract.id)
            uow.commit()

        with pytest.raises(IntegrityError):
            note_again_and_commit()
        assert (first.id is None) == tranche.database.is_postgres  # it never answered there
    with tranche.reading() as uow:
        assert events_of(uow.session, contract.id) == 1  # the contract's creation only


def test_a_commit_that_bypasses_the_session_still_sends_the_writes(tranche, contract):
    """The session sends the batch before its flush; were that skipped (a commit made on
    the connection), the connection's own commit still sends it first."""
    with tranche.unit_of_work() as uow:
        before = events_of(uow.session, contract.id)
        note(uow, contract.id)
        uow.session.info.pop(batch._CONNECTION, None)  # the session no longer knows
        uow.commit()
    with tranche.reading() as uow:
        assert events_of(uow.session, contract.id) == before + 1


def test_an_id_is_returned_for_one_row_only(tranche, milestone):
    """`returned` answers with one id; asked of several rows it is refused, not given the
    first one's (PostgreSQL) or left with the others unwritten (SQLite)."""
    columns = ("milestone_id", "event", "description", "due_at", "status", "created_at")
    with tranche.unit_of_work() as uow:
        now = uow.clock.now()
        row = dict(zip(columns, (milestone.id, "x", "", now, "odd", now), strict=True))
        with pytest.raises(ValueError, match="single row"):
            batch.insert_later(uow.session, _TIMERS, columns, [row, row], returned=print)
        uow.commit()
    with tranche.reading() as uow:
        assert uow.session.scalar(select(func.count()).where(Timer.status == "odd")) == 0
