"""engine.rows: a row written by one UPDATE (version-guarded, left clean) or by a trigger,
and either forgotten when its transaction or savepoint rolls back."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.orm.exc import StaleDataError

from engine.service.contracts import create_contract
from engine.store.events import append
from engine.store.models import Contract, Event, Milestone
from engine.store.rows import write_back


@pytest.fixture
def statements(tranche):
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    engine = tranche.database.engine
    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


def test_changes_go_out_in_one_update_and_the_version_moves_by_one(tranche, milestone, statements):
    """On SQLite at once; on PostgreSQL with the transaction's next statement, here its commit."""
    postgres = tranche.database.is_postgres
    with tranche.unit_of_work() as uow:
        row = uow.session.get(Milestone, milestone.id)
        assert row is not None
        before = row.version
        with uow.session.no_autoflush:
            row.title, row.revisions = "renamed", row.revisions + 2
            statements.clear()
            write_back(uow.session, row)
        assert [s.split()[0] for s in statements] == ([] if postgres else ["UPDATE"])
        assert row.version == before + 1
        assert not uow.session.dirty  # nothing left for the ORM to write
        statements.clear()
        uow.session.flush()
        assert statements == []
        uow.commit()
        assert [s.split()[:4] for s in statements] == (
            [["WITH", "b0", "AS", "(UPDATE"]] if postgres else []
        )
    stored = tranche.milestone(milestone.id)
    assert (stored.title, stored.revisions, stored.version) == ("renamed", 2, before + 1)


def test_a_row_without_changes_sends_nothing(tranche, contract, statements):
    with tranche.unit_of_work() as uow:
        row = uow.session.get(Contract, contract.id)
        statements.clear()
        write_back(uow.session, row)
        assert statements == []


def moved_on_behind_its_back(session, milestone_id: str) -> None:
    """Another command moved the row on since it was loaded (same transaction, so this
    also runs on SQLite, whose writers queue for the whole database)."""
    session.execute(
        update(Milestone)
        .where(Milestone.id == milestone_id)
        .values(version=Milestone.version + 1)
        .execution_options(synchronize_session=False)
    )


def test_a_stale_version_raises_and_writes_nothing(tranche, milestone):
    with tranche.unit_of_work() as uow:
        row = uow.session.get(Milestone, milestone.id)
        assert row is not None
        moved_on_behind_its_back(uow.session, milestone.id)
        with uow.session.no_autoflush:
            row.title = "lost"

            def write_and_commit() -> None:
                write_back(uow.session, row)
                uow.commit()  # PostgreSQL: the UPDATE goes out here

            with pytest.raises(StaleDataError, match="another command changed it first"):
                write_and_commit()
    assert tranche.milestone(milestone.id).title == milestone.title


def note_after(uow, contract, row):
    """An event appended after `row`'s changes were written, as a transition does."""
    write_back(uow.session, row)
    now = uow.clock.now()
    return append(uow.session, contract, "note", "b", "buyer", now, policy=("p", 1))


def _events_of(session, contract_id: str) -> int:
    return session.scalar(select(func.count()).where(Event.contract_id == contract_id))


def test_an_event_and_its_milestone_write_leave_in_one_statement_on_postgres(
    tranche, milestone, statements
):
    """The row's UPDATE, then the event; on PostgreSQL both wait for the transaction's
    next statement (here its commit) and leave in one."""
    postgres = tranche.database.is_postgres
    with tranche.unit_of_work() as uow:
        row, contract = (
            uow.session.get(Milestone, milestone.id),
            uow.session.get(Contract, milestone.contract_id),
        )
        before = (row.version, _events_of(uow.session, contract.id))
        with uow.session.no_autoflush:
            row.title = "carried"
            statements.clear()
            event = note_after(uow, contract, row)
        assert [s.split()[0] for s in statements] == ([] if postgres else ["UPDATE", "INSERT"])
        assert (row.version, event.seq) == (before[0] + 1, contract.event_seq)
        assert not uow.session.dirty
        statements.clear()
        uow.commit()
        assert len(statements) == (1 if postgres else 0)
        assert event.id is not None  # the INSERT's RETURNING, once it went out
    assert tranche.milestone(milestone.id).title == "carried"
    with tranche.unit_of_work() as uow:
        assert _events_of(uow.session, contract.id) == before[1] + 1
        assert uow.session.get(Event, event.id).seq == event.seq


def test_a_stale_milestone_write_raises_and_nothing_of_its_transaction_lands(tranche, milestone):
    """On PostgreSQL the event and the UPDATE that lost leave in one statement: the guard
    fails the whole transaction, so not even a commit attempted anyway writes the event."""
    with tranche.unit_of_work() as uow:
        row, contract = (
            uow.session.get(Milestone, milestone.id),
            uow.session.get(Contract, milestone.contract_id),
        )
        events = _events_of(uow.session, contract.id)
        moved_on_behind_its_back(uow.session, milestone.id)
        with uow.session.no_autoflush:
            row.title = "lost"

            def note_and_count() -> None:
                note_after(uow, contract, row)
                _events_of(uow.session, contract.id)  # PostgreSQL: the writes go out first

            with pytest.raises(StaleDataError, match="another command changed it first"):
                note_and_count()
        try:
            uow.commit()
        except Exception:  # PostgreSQL may refuse the commit of a failed transaction
            pass
    with tranche.unit_of_work() as uow:
        assert _events_of(uow.session, milestone.contract_id) == events
        assert uow.session.get(Milestone, milestone.id).version == milestone.version


def test_an_unversioned_row_is_written_by_its_key(tranche, contract):
    with tranche.unit_of_work() as uow:
        row = uow.session.get(Contract, contract.id)
        assert row is not None
        row.title = "new title"
        write_back(uow.session, row)
        uow.commit()
    assert tranche.contract(contract.id).title == "new title"


def test_a_savepoint_rolled_back_forgets_the_written_values(tranche, milestone):
    """As after the ORM's own flush: the sweep fires each timer in a savepoint, and a row
    written in one that rolls back must read as the database has it, not as written."""
    with tranche.unit_of_work() as uow:
        row = uow.session.get(Milestone, milestone.id)
        assert row is not None
        before = (row.title, row.version)
        savepoint = uow.session.begin_nested()
        with uow.session.no_autoflush:
            row.title = "rolled back"
            write_back(uow.session, row)
        savepoint.rollback()
        assert (row.title, row.version) == before


def test_a_savepoint_rolled_back_forgets_the_chain_head_its_event_moved(tranche, contract):
    """The head moves by trigger with each event; a savepoint rolled back takes the event
    and the head with it, and the loaded contract must not keep the head it learned."""
    with tranche.unit_of_work() as uow:
        row = uow.session.get(Contract, contract.id)
        assert row is not None
        before = (row.event_seq, row.last_event_hash)
        savepoint = uow.session.begin_nested()
        append(uow.session, row, "note", "buyer-1", "buyer", uow.clock.now(), policy=("p", 1))
        assert row.event_seq == before[0] + 1
        savepoint.rollback()
        assert (row.event_seq, row.last_event_hash) == before


def test_a_savepoint_rolled_back_takes_the_rows_it_inserted_with_it(tranche, clock):
    """A contract written by a plain INSERT is held as the ORM holds what it flushed: gone
    from the session, not only from the database, when its savepoint rolls back."""
    with tranche.unit_of_work() as uow:
        savepoint = uow.session.begin_nested()
        created = create_contract(
            uow,
            buyer_id="buyer-1",
            provider_id="provider-1",
            currency="USD",
            agreed_amount=1_000,
            title="rolled back",
        )
        assert uow.session.get(Contract, created.id) is created  # held: no query needed
        savepoint.rollback()
        assert created not in uow.session
        assert uow.session.get(Contract, created.id) is None
