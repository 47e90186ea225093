"""SQLite writers queue on `<database>-writer.lock` for exactly as long as their transaction.

Whether the lock is free is asked the way another process would: a fresh open of the
lock file and a non-blocking `flock` (locks belong to the open file, so a second open
in this process competes like another process does).
"""

from __future__ import annotations

import fcntl
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event, select, text

import engine.store.db
from conftest import BUYER
from engine.domain.errors import ConflictError, ForbiddenEventError
from engine.service.tranche import Tranche
from engine.store.db import Database
from engine.store.models import Contract
from engine.store.sqlite_queue import QueuedConnection


def lock_file(database: Database) -> Path:
    return Path(f"{database.engine.url.database}-writer.lock")


def lock_is_free(database: Database) -> bool:
    with open(lock_file(database), "ab") as other:
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(other, fcntl.LOCK_UN)
        return True


@contextmanager
def held_elsewhere(database: Database) -> Iterator[None]:
    """The writer lock, held as another program that queues would hold it."""
    with open(lock_file(database), "ab") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        yield


def queue_waiters() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sqlite-writer-queue"]


def test_a_transaction_holds_the_lock_until_commit(sqlite_database):
    with sqlite_database.session() as session, session.begin():
        session.execute(select(1))
        assert not lock_is_free(sqlite_database)
    assert lock_is_free(sqlite_database)


def test_another_process_cannot_take_the_lock_during_a_transaction(sqlite_database):
    probe = (
        "import fcntl, sys\n"
        "try:\n"
        "    fcntl.flock(open(sys.argv[1], 'ab'), fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except BlockingIOError:\n"
        "    sys.exit(3)\n"
    )
    command = [sys.executable, "-c", probe, str(lock_file(sqlite_database))]
    with sqlite_database.session() as session, session.begin():
        session.execute(select(1))
        assert subprocess.run(command).returncode == 3
    assert subprocess.run(command).returncode == 0


def test_rollback_lets_the_lock_go(sqlite_database):
    with sqlite_database.session() as session:
        session.begin()
        session.execute(select(1))
        assert not lock_is_free(sqlite_database)
        session.rollback()
        assert lock_is_free(sqlite_database)


def test_an_exception_in_a_unit_of_work_lets_the_lock_go(sqlite_database, clock):
    tranche = Tranche(sqlite_database, clock)
    held: list[bool] = []

    def failing_command() -> None:
        with tranche.unit_of_work() as uow:
            uow.session.execute(select(1))
            held.append(not lock_is_free(sqlite_database))
            raise RuntimeError("the command failed")

    with pytest.raises(RuntimeError):
        failing_command()
    assert held == [True]
    assert lock_is_free(sqlite_database)


def test_a_refused_command_lets_the_lock_go(sqlite_database, clock):
    tranche = Tranche(sqlite_database, clock)
    contract = tranche.create_contract(
        buyer_id=BUYER.id, provider_id="provider-1", currency="USD", agreed_amount=1_000, title="t"
    )
    milestone = tranche.add_milestone(contract.id, title="m", amount=1_000)
    with pytest.raises(ForbiddenEventError):
        tranche.fire(milestone.id, "approve", BUYER)  # not funded yet
    assert lock_is_free(sqlite_database)


def test_a_connection_invalidated_mid_transaction_lets_the_lock_go(sqlite_database):
    with sqlite_database.engine.connect() as connection:
        connection.begin()
        connection.execute(text("SELECT 1"))
        raw = connection.connection.dbapi_connection  # kept alive: only close() may let go
        assert not lock_is_free(sqlite_database)
        connection.invalidate()
        assert lock_is_free(sqlite_database)
        assert isinstance(raw, QueuedConnection)


def test_a_writer_waits_its_turn_instead_of_failing_busy(sqlite_database, clock):
    """SQLite's busy timeout is 0 here: only the queue can make the second writer wait."""
    event.listen(sqlite_database.engine, "connect", no_busy_timeout)
    tranche = Tranche(sqlite_database, clock)
    outcome: list[object] = []

    def write() -> None:
        try:
            outcome.append(tranche.create_contract(**CONTRACT))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcome.append(exc)

    with sqlite_database.session() as session, session.begin():
        session.execute(select(1))  # holds SQLite's write lock, and the queue
        writer = threading.Thread(target=write)
        writer.start()
        while not queue_waiters() and writer.is_alive():
            time.sleep(0.01)
        assert outcome == []
    writer.join(timeout=60)
    assert [type(o) for o in outcome] == [Contract], outcome
    assert lock_is_free(sqlite_database)


def no_busy_timeout(dbapi_connection: object, record: object) -> None:
    dbapi_connection.execute("PRAGMA busy_timeout=0")  # type: ignore[attr-defined]


CONTRACT = dict(
    buyer_id=BUYER.id, provider_id="provider-1", currency="USD", agreed_amount=1_000, title="t"
)


def test_a_stuck_holder_gives_a_conflict_and_the_queue_recovers(
    sqlite_database, clock, monkeypatch
):
    monkeypatch.setattr(engine.store.db, "SQLITE_WAIT", 0.05)
    tranche = Tranche(sqlite_database, clock)
    with held_elsewhere(sqlite_database), pytest.raises(ConflictError):
        tranche.create_contract(**CONTRACT)
    for waiter in queue_waiters():  # the abandoned wait: granted, it lets the lock go
        waiter.join(timeout=60)
    assert lock_is_free(sqlite_database)
    assert tranche.create_contract(**CONTRACT).id


def test_connections_of_one_process_exclude_each_other(tmp_path):
    path = str(tmp_path / "two.db")
    first, second = QueuedConnection(path), QueuedConnection(path)
    first.wait_for_turn(1)
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        second.wait_for_turn(0.05)
    first.execute("BEGIN IMMEDIATE")
    first.commit()
    second.wait_for_turn(60)
    second.close()
    first.close()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_databases_do_not_queue(url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    database = Database(url)
    with database.engine.begin() as connection:
        assert connection.exec_driver_sql("SELECT 1").scalar() == 1
        raw = connection.connection.dbapi_connection
        assert type(raw) is sqlite3.Connection
    database.dispose()
    assert list(tmp_path.iterdir()) == []
