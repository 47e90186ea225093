"""Writers on one SQLite file wait for each other on a file lock, not in SQLite's busy handler.

A writer that finds SQLite's lock taken sleeps in the busy handler, which backs off
up to 100 ms between tries, so under load most of a request's time is sleeping
after the lock was already free. Here every transaction first takes an exclusive
`flock` on `<database>-writer.lock`: the kernel wakes a waiter the moment the
holder lets go (not strictly first come, first served, but nobody oversleeps).
SQLite's busy timeout stays as the safety net for programs that do not take this
lock (the sqlite3 shell, say).

The lock is held by the DBAPI connection itself, a `sqlite3.Connection` subclass
given to `sqlite3.connect(factory=...)`: it is taken right before `BEGIN IMMEDIATE`
and let go inside `commit()`, `rollback()` and `close()`, after SQLite has ended
the transaction. SQLAlchemy's own hooks do not fit: ConnectionEvents `commit` and
`rollback` fire before the DBAPI call, and a rollback on return to the pool or a
connection invalidated mid-transaction bypass them, whereas every one of those
paths ends in one of these three DBAPI methods.
"""

from __future__ import annotations

import fcntl
import sqlite3
import threading
from concurrent.futures import Future
from typing import IO, Any

from sqlalchemy.engine import make_url


def is_plain_file(url: str) -> bool:
    """Whether a SQLite URL names a database file (not `:memory:`, not a `file:` URI)."""
    parsed = make_url(url)
    database = parsed.database
    return bool(database) and database != ":memory:" and parsed.query.get("uri") != "true"


class QueuedConnection(sqlite3.Connection):
    """A SQLite connection that holds the database's writer lock while a transaction is open.

    Each connection opens the lock file itself: `flock` locks belong to the open
    file, so threads of one process exclude each other as processes do.
    """

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._lock_path = f"{database}-writer.lock"
        self._lock = self._open_lock()

    def _open_lock(self) -> IO[bytes]:
        return open(self._lock_path, "ab")  # noqa: SIM115  (kept open for the connection's life)

    def wait_for_turn(self, timeout: float) -> None:
        """Take the writer lock, waiting up to `timeout` seconds for the writer before us.

        `flock` cannot time out, so a contended wait blocks in a helper thread; if the
        holder is stuck, we give up with SQLite's own `database is locked` error and
        leave that thread the lock file, to close (and so let go) once it is granted.
        """
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        turn: Future[None] = Future()
        waiter = threading.Thread(
            target=_wait, args=(self._lock, turn), name="sqlite-writer-queue", daemon=True
        )
        waiter.start()
        try:
            turn.result(timeout)
        except TimeoutError:
            if not turn.cancel():
                return  # granted just as we gave up: ours after all
            self._lock = self._open_lock()
            raise sqlite3.OperationalError(
                f"database is locked: waited {timeout:g} s for {self._lock_path}"
            ) from None

    def end_turn_unless_in_transaction(self) -> None:
        if not self.in_transaction:
            fcntl.flock(self._lock, fcntl.LOCK_UN)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.end_turn_unless_in_transaction()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.end_turn_unless_in_transaction()

    def close(self) -> None:
        try:
            super().close()  # SQLite rolls back an open transaction and lets go first
        finally:
            self._lock.close()


def _wait(lock: IO[bytes], turn: Future[None]) -> None:
    fcntl.flock(lock, fcntl.LOCK_EX)
    if turn.set_running_or_notify_cancel():
        turn.set_result(None)
    else:
        lock.close()  # the waiter gave up: closing the file lets the lock go
