"""Connections: SQLite (WAL, queued writers, unqueued readers) by default, PostgreSQL by URL."""

from __future__ import annotations

import os
import select
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from engine.store import batch
from engine.store.sqlite_queue import QueuedConnection, is_plain_file

if TYPE_CHECKING:
    from alembic.config import Config

DEFAULT_URL = "sqlite:///tranche.db"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_WAIT = 30
"""Seconds a SQLite transaction waits for the writer before it: in the queue, or busy."""
SQLITE_READ_ONLY = "tranche_read_only"
"""Execution option (and connection-record flag) of a SQLite connection that only reads."""


CONNECTION_LOST = ("57P01", "57P02", "57P03")
"""PostgreSQL's admin shutdown, crash shutdown and cannot-connect-now; class 08 is the rest."""


def is_unavailable(exc: DBAPIError) -> bool:
    """The database could not be reached, or dropped the connection: a fault of the moment.

    Such a request did nothing wrong and may be retried; a lost race or a lock
    timeout (also OperationalError, with a SQLSTATE or SQLite's own code) may not.
    A connection that psycopg could not open carries no SQLSTATE at all.
    """
    if isinstance(exc, InterfaceError) or exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError) or not hasattr(exc.orig, "sqlstate"):
        return False
    state = getattr(exc.orig, "sqlstate", None)
    return state is None or state.startswith("08") or state in CONNECTION_LOST


def database_url(url: str | None = None) -> str:
    """The URL to use: the argument, else DATABASE_URL, else ./tranche.db (SQLite)."""
    url = url or os.environ.get("DATABASE_URL") or DEFAULT_URL
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    url = database_url(url)
    if url.startswith("sqlite"):
        connect_args: dict[str, Any] = {"timeout": SQLITE_WAIT}
        if is_plain_file(url):
            connect_args["factory"] = QueuedConnection
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        _sqlite_begin_immediate(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    _ping_when_in_doubt(engine)
    return engine


PING_IDLE = 30.0
"""Seconds a pooled connection may rest before its next checkout pings the server."""
_CHECKED_IN = "tranche_checked_in"


def _ping_when_in_doubt(engine: Engine) -> None:
    """Replace a pooled PostgreSQL connection that is gone, without a round trip per request.

    `pool_pre_ping` sends a statement at every checkout: a round trip on every request,
    about a tenth of a transition's time. A connection the server ended (restart,
    pg_terminate_backend) has the server's goodbye waiting on its socket, which a poll
    with no timeout sees; one that rested longer than PING_IDLE (which a firewall may
    have dropped in silence) is pinged as before. A dead one is replaced by the pool
    (DisconnectionError: it retries the checkout with a new connection).
    """

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _on_rest(dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        rested = time.monotonic() - record.info[_CHECKED_IN]
        if rested < PING_IDLE and not _has_word_waiting(dbapi_connection):
            return
        try:
            ping = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # whatever the driver raises, the connection is unusable
            raise DisconnectionError(str(exc)) from exc
        if not ping:
            raise DisconnectionError("the connection did not answer a ping")


def _has_word_waiting(dbapi_connection: Any) -> bool:
    """Something to read on an idle connection: only the server ending it sends that."""
    try:
        poller = select.poll()
        poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))
    except Exception:  # a closed or odd connection: let the ping decide
        return True


def _sqlite_begin_immediate(engine: Engine) -> None:
    """SQLAlchemy's documented recipe: let us emit BEGIN ourselves, as IMMEDIATE.

    A transaction that starts as a read and later writes can fail with `database is
    locked` despite the busy timeout; taking the write lock up front avoids that. On a
    database file, the transaction first waits its turn in the writers' queue
    (engine/sqlite_queue.py); a wait that times out fails as the busy timeout does.
    A read-only session (`Database.session(read_only=True)`) begins as `_begin_reading`.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_WAIT * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(SQLITE_READ_ONLY):
            _begin_reading(conn)
            return
        dbapi_connection = conn.connection.dbapi_connection
        if not isinstance(dbapi_connection, QueuedConnection):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        try:
            dbapi_connection.wait_for_turn(SQLITE_WAIT)
        except sqlite3.OperationalError as exc:
            raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        finally:
            dbapi_connection.end_turn_unless_in_transaction()

    @event.listens_for(engine, "reset")
    def _on_reset(dbapi_connection: Any, record: Any, state: Any) -> None:
        if record.info.pop(SQLITE_READ_ONLY, False):
            dbapi_connection.execute("PRAGMA query_only=OFF")


def _begin_reading(conn: Any) -> None:
    """A transaction that only reads: deferred, outside the writers' queue, refusing writes.

    In WAL mode a reader takes no lock and sees the snapshot of its first read, so it
    need not wait for any writer. A deferred transaction that later writes could fail
    with SQLITE_BUSY_SNAPSHOT under load, so `PRAGMA query_only` makes every write fail
    at once ("attempt to write a readonly database"), caught by tests on a quiet
    database too. The pragma outlives the transaction: the pool's `reset` event, which
    every connection passes on its way back to the pool, turns it off again.
    """
    conn.exec_driver_sql("BEGIN")
    conn.exec_driver_sql("PRAGMA query_only=ON")
    conn.connection.info[SQLITE_READ_ONLY] = True


class Database:
    """One engine and its session factory; built by the app factory or the CLI, never at import."""

    def __init__(self, url: str | None = None, **engine_kwargs: Any) -> None:
        self.url = database_url(url)
        self.engine = make_engine(self.url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        if self.is_postgres:
            batch.install(self.engine, self.sessions)
        self.policy_cache: dict = {}

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def session(self, read_only: bool = False) -> Session:
        """A new session; a `read_only` one has begun a transaction that may only read.

        It begins at once so that its connection carries the option before the
        `begin` event fires (Session.connection applies execution options when it
        first procures the connection). On PostgreSQL psycopg then sends BEGIN READ
        ONLY, no extra round trip; on SQLite see `_begin_reading`.
        """
        session = self.sessions()
        if read_only:
            option = "postgresql_readonly" if self.is_postgres else SQLITE_READ_ONLY
            session.connection(execution_options={option: True})
        return session

    def migrations(self) -> Config:
        """Alembic's configuration, run on this database's engine (migrations/env.py)."""
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["engine"] = self.engine
        return config

    def upgrade(self) -> None:
        """Bring the schema to the newest migration, then publish the bundled policies."""
        from alembic import command

        command.upgrade(self.migrations(), "heads")
        from engine.store.policy_store import publish_bundled

        publish_bundled(self)

    def dispose(self) -> None:
        self.engine.dispose()
