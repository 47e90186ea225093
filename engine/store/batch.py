"""PostgreSQL: a command's writes leave together, in one statement, one round trip.

A write that nothing reads back at once (a ledger entry whose id is already known, its
postings, timers, the milestone's guarded UPDATE, the event, the Idempotency-Key record)
is handed to `later` (an UPDATE) or `insert_later` (rows). On PostgreSQL it waits in the
transaction's batch, and the whole batch goes out as one statement of data-modifying
CTEs (`WITH b0 AS (INSERT ...), b1 AS (UPDATE ...) SELECT ...`) just before anything
else reaches the database: the next statement of the transaction (so every read, the
ORM's flush included, sees the writes), a savepoint, or the commit. A rollback, or a
rollback to the savepoint the writes were made in, drops them unsent. An INSERT's rows
travel as one JSON parameter, so the statement stays short and few-parametered enough
for psycopg to cache its parsing. On SQLite each write runs at once: there is no round
trip to save.

Each part may ask for what it wrote (`counted`: the rows, for a guard such as the
milestone's version) or what it returned (`returned`: the first column of its RETURNING,
such as the event's id); the answer arrives when the batch is sent. A callback that raises
(StaleDataError) fails the statement or commit that sent the batch, and the whole
transaction with it (`_doom`).

Two UPDATEs of one table never share a statement (PostgreSQL leaves it undefined which
of two changes to one row wins): the second sends the batch first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Engine,
    Insert,
    String,
    Table,
    Update,
    bindparam,
    event,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy import cast as cast_
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.visitors import replacement_traverse

from engine.domain.clock import as_utc

Counted = Callable[[int], None]
Returned = Callable[[Any], None]


@dataclass(slots=True)
class _Part:
    statement: UpdateBase
    params: Mapping[str, Any]
    counted: Counted | None
    returned: Returned | None


@dataclass(slots=True)
class _Batch:
    parts: list[_Part] = field(default_factory=list)
    updated: set[str] = field(default_factory=set)
    """Tables an UPDATE in the batch writes."""


_BATCH = "tranche_batch"
"""Connection.info (kept with the pooled connection): the batch of its open transaction."""
_CONNECTION = "tranche_batch_connection"
"""session.info: the connection whose batch this session filled (sent at its commit)."""


def later(
    session: Session,
    statement: UpdateBase,
    params: Mapping[str, Any],
    *,
    counted: Counted | None = None,
    returned: Returned | None = None,
) -> None:
    """Write `statement` with `params` (one row's or one statement's, never a list) before
    anything else reaches the database in this transaction; at once on SQLite."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        result: Any = connection.execute(statement, params)
        if counted is not None:
            counted(result.rowcount)
        if returned is not None:
            returned(result.scalar_one())
        return
    batch = connection.info.get(_BATCH)
    if batch is None:
        batch = connection.info[_BATCH] = _Batch()
        session.info[_CONNECTION] = connection
    if isinstance(statement, Update):
        name = cast(Table, statement.table).name
        if name in batch.updated:
            send(connection)
            batch = connection.info[_BATCH] = _Batch()
        batch.updated.add(name)
    batch.parts.append(_Part(statement, params, counted, returned))


def send(connection: Connection) -> None:
    """Send the connection's waiting writes, if it has any, as one statement."""
    batch = _take(connection)
    if batch is None or not batch.parts:
        return
    parts = batch.parts
    combined = _combined(parts, connection.dialect)
    params: dict[str, Any] = {}
    for n, part in enumerate(parts):
        params.update({f"b{n}_{key}": value for key, value in part.params.items()})
    row = connection.exec_driver_sql(combined.sql, combined.parameters(params)).one()
    asking = [part for part in parts if _asked(part)]
    try:
        for part, answer in zip(asking, row[: len(asking)], strict=True):
            if part.counted is not None:
                part.counted(answer)
            elif part.returned is not None:
                part.returned(answer)
    except BaseException:
        _doom(connection)
        raise


def _doom(connection: Connection) -> None:
    """Fail the transaction in the database: a part refused what it wrote (a guard that
    matched no row), but its siblings wrote theirs in the same statement. PostgreSQL then
    refuses every later statement of the transaction and ends it by a rollback, even if
    someone tries to commit it: nothing of it can land."""
    try:
        connection.exec_driver_sql("SELECT 1 / 0")
    except DBAPIError:
        pass


@dataclass(frozen=True, slots=True)
class _Combined:
    """One batch shape's statement, compiled once: its SQL and how to bind its parameters."""

    sql: str
    compiled: Any

    def parameters(self, given: dict[str, Any]) -> dict[str, Any]:
        """The driver's parameters, each value bound as its type binds it (what SQLAlchemy
        does for a statement it runs itself)."""
        values = self.compiled.construct_params(given)
        processors = self.compiled._bind_processors
        return {
            key: processors[key](value) if key in processors else value
            for key, value in values.items()
        }


_COMBINED: dict[tuple[int, ...], tuple[Sequence[UpdateBase], _Combined]] = {}
_SHAPES = 1_000
"""Shapes kept compiled: what commands send is a few dozen; a bound all the same."""


def _combined(parts: Sequence[_Part], dialect: Dialect) -> _Combined:
    """The parts' statements as the CTEs b0, b1... of one statement, each one's parameters
    prefixed with its name, answering for the parts that asked (a count, or the first
    value returned); built and compiled once per sequence of statements (each built once
    by its module) and answers asked."""
    statements = tuple(part.statement for part in parts)
    key = tuple(id(s) for s in statements) + tuple(_asked(part) for part in parts)
    found = _COMBINED.get(key)
    if found is not None:
        return found[1]
    ctes: list[Any] = []
    answers: list[Any] = []
    for n, part in enumerate(parts):
        renamed = _prefixed(part.statement, f"b{n}_")
        asked = _asked(part)
        if asked == _COUNT:
            renamed = renamed.returning(literal_column("1"))
        cte = renamed.cte(f"b{n}")
        ctes.append(cte)
        if asked == _COUNT:
            answers.append(select(func.count()).select_from(cte).scalar_subquery())
        elif asked == _FIRST:
            answers.append(select(list(cte.c)[0]).select_from(cte).limit(1).scalar_subquery())
    statement = select(*answers or [literal_column("1")]).add_cte(*ctes)
    compiled = statement.compile(dialect=dialect)
    combined = _Combined(str(compiled), compiled)
    if len(_COMBINED) >= _SHAPES:
        _COMBINED.clear()
    _COMBINED[key] = (statements, combined)  # the statements kept alive, so ids stay theirs
    return combined


_COUNT, _FIRST, _NOTHING = 1, 2, 0


def _asked(part: _Part) -> int:
    return _COUNT if part.counted else _FIRST if part.returned else _NOTHING


def _prefixed(statement: UpdateBase, prefix: str) -> Any:
    """A copy of `statement` whose named parameters are named `prefix` + their name (the
    anonymous ones the compiler names apart itself)."""

    def rename(element: Any, **kw: Any) -> Any:
        if isinstance(element, BindParameter) and not element.unique:
            return bindparam(prefix + element.key, type_=element.type)
        return None

    options: dict[str, Any] = {}
    return replacement_traverse(statement, options, rename)


_INSERTS: dict[tuple[str, tuple[str, ...], bool, bool], Insert] = {}


def _insert(table: Table, columns: tuple[str, ...], returning: bool, postgres: bool) -> Insert:
    """INSERT into `table` naming `columns`, built once: on SQLite of one row (parameters
    named as the columns), on PostgreSQL of the rows in the JSON array `rows`, one
    parameter however many rows and columns (psycopg caches the parsing of a statement
    only up to 50 parameters); RETURNING the id with `returning`."""
    key = (table.name, columns, returning, postgres)
    statement = _INSERTS.get(key)
    if statement is None:
        defaulted = [c.name for c in table.c if c.default is not None and c.name not in columns]
        if defaulted:  # the statement's own execution fills those in; a batch would not
            raise ValueError(f"an INSERT into {table.name} must name {defaulted} too")
        if postgres:
            rows = cast_(bindparam("rows", type_=String), JSON)
            source = func.json_populate_recordset(literal_column(f"NULL::{table.name}"), rows)
            found = source.table_valued(*columns).alias("r")
            select_ = select(*(found.c[c] for c in columns))
            statement = insert(table).from_select(columns, select_, include_defaults=False)
        else:
            values = {c: bindparam(c, type_=table.c[c].type) for c in columns}
            statement = insert(table).values(values)
        if returning:
            statement = statement.returning(table.c.id)
        _INSERTS[key] = statement
    return statement


def insert_later(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    returned: Returned | None = None,
) -> None:
    """INSERT `rows` (each naming `columns`) as `later` writes: on PostgreSQL in the batch,
    as one part; on SQLite at once. `returned` is given the id of the (single) row."""
    if not rows:
        return
    if returned is not None and len(rows) != 1:
        raise ValueError("`returned` takes the id of a single row")
    postgres = session.get_bind().dialect.name == "postgresql"
    statement = _insert(table, tuple(columns), returned is not None, postgres)
    if postgres:
        later(session, statement, {"rows": json.dumps(rows, default=_json)}, returned=returned)
    elif len(rows) == 1:
        later(session, statement, rows[0], returned=returned)
    else:
        session.connection().execute(statement, list(rows))


def _json(value: Any) -> str:
    """A moment as PostgreSQL reads it into a timestamptz, exactly (UTCDateTime's UTC)."""
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    raise TypeError(f"{type(value).__name__} has no JSON form for a batched row")


def _take(connection: Connection) -> _Batch | None:
    """The connection's batch, taken off it; None on a connection lost meanwhile (its
    transaction is gone, and the pool forgets its info with it)."""
    if connection.invalidated:
        return None
    return connection.info.pop(_BATCH, None)


def install(engine: Engine, sessions: sessionmaker[Session]) -> None:
    """Send a connection's batch before its next statement, savepoint or commit (the
    session's, before its flush, so the ORM's rows follow; the connection's, for a commit
    made around the session); drop it on rollback (of the transaction, or of the savepoint
    it was filled in)."""

    @event.listens_for(engine, "before_execute")
    def _before_execute(connection: Connection, *_: Any) -> None:
        if not connection.invalidated and _BATCH in connection.info:
            send(connection)

    @event.listens_for(engine, "savepoint")
    def _before_savepoint(connection: Connection, name: str) -> None:
        send(connection)

    @event.listens_for(engine, "rollback_savepoint")
    def _before_rollback_to(connection: Connection, name: str, context: Any) -> None:
        _take(connection)

    @event.listens_for(engine, "rollback")
    def _before_rollback(connection: Connection) -> None:
        _take(connection)

    @event.listens_for(engine, "reset")
    def _on_return_to_pool(dbapi_connection: Any, record: Any, state: Any) -> None:
        record.info.pop(_BATCH, None)  # whatever way its transaction ended

    @event.listens_for(engine, "commit")
    def _before_commit_of_connection(connection: Connection) -> None:
        send(connection)  # a commit that did not pass through a session's: nothing is lost

    @event.listens_for(sessions, "before_commit")
    def _before_commit(session: Session) -> None:
        connection = session.info.pop(_CONNECTION, None)
        if connection is not None:
            send(connection)
