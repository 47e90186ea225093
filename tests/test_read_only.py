"""Read-only units of work: on SQLite outside the writers' queue, and never writing."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from test_sqlite_queue import lock_is_free, queue_waiters

import engine.store.db
from conftest import BUYER
from engine.service.tranche import Tranche
from engine.store.models import Contract


def test_a_reader_does_not_wait_for_an_open_write_transaction(sqlite_database, clock, monkeypatch):
    """Were the read queued, its turn would time out at once (0 s) and fail."""
    tranche = Tranche(sqlite_database, clock)
    contract = tranche.create_contract(
        buyer_id=BUYER.id, provider_id="provider-1", currency="USD", agreed_amount=1_000, title="t"
    )
    monkeypatch.setattr(engine.store.db, "SQLITE_WAIT", 0)
    with sqlite_database.session() as writer, writer.begin():
        writer.execute(update(Contract).values(title="not committed yet"))
        assert not lock_is_free(sqlite_database)
        assert tranche.contract(contract.id).title == "t"
        with tranche.reading() as uow:
            assert uow.session.scalars(select(Contract.title)).all() == ["t"]
        assert not lock_is_free(sqlite_database)
    assert queue_waiters() == []
    assert tranche.contract(contract.id).title == "not committed yet"


def test_a_write_in_a_read_only_unit_of_work_fails_and_writes_nothing(tranche, contract):
    with tranche.reading() as uow:
        row = uow.session.get(Contract, contract.id)
        assert row is not None
        row.title = "changed"
        with pytest.raises(DBAPIError, match=r"read-?only"):
            uow.session.flush()
    with tranche.reading() as uow, pytest.raises(DBAPIError, match=r"read-?only"):
        uow.session.execute(update(Contract).values(title="changed"))  # not through the ORM
    assert tranche.contract(contract.id).title == "Test work"
    assert len(tranche.milestones_of(contract.id)) == 0
    # The connection goes back to the pool able to write again.
    assert tranche.add_milestone(contract.id, title="after", amount=1_000).id


def test_the_read_only_pragma_is_off_once_the_connection_is_back(sqlite_database):
    with sqlite_database.session(read_only=True) as session:
        raw = session.connection().connection.dbapi_connection
        assert raw.execute("PRAGMA query_only").fetchone() == (1,)
    assert raw.execute("PRAGMA query_only").fetchone() == (0,)
