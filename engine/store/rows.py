"""Rows written without the ORM's flush, and held in the session as if it had written them.

On the path every command takes, the ORM's flush (a history per attribute, a
dependency sort, post-fetch bookkeeping) cost several times the statements it sends.
So a command writes its rows itself: `write_back` sends a loaded row's changed columns
in one UPDATE built once per set of columns, guarded by the version for a versioned
row (the milestone) exactly as the ORM's own check is, raising the same StaleDataError
when another command won; `inserted` holds a row written by a plain INSERT;
`written_by_database` takes values a trigger wrote. Each then does the bookkeeping the
flush would: the object is clean, and a rollback of the transaction or savepoint
expires (or expunges) it, so nothing reads values the database no longer has.
"""

from __future__ import annotations

from functools import partial
from typing import Any, cast

from sqlalchemy import Table, Update, and_, bindparam, inspect, update
from sqlalchemy.orm import Mapper, Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.state import InstanceState

from engine.store import batch

_STATEMENTS: dict[tuple[Mapper[Any], tuple[str, ...]], Update] = {}


def _statement(mapper: Mapper[Any], keys: tuple[str, ...]) -> Update:
    """UPDATE of `keys` (and the version) where the primary key (and the version) match."""
    statement = _STATEMENTS.get((mapper, keys))
    if statement is None:
        table = cast(Table, mapper.local_table)
        where = [column == bindparam(f"w_{column.key}") for column in mapper.primary_key]
        version = mapper.version_id_col
        if version is not None:
            where.append(version == bindparam("w_version", type_=version.type))
            keys_ = (*keys, str(version.key))
        else:
            keys_ = keys
        values = {
            mapper.columns[key]: bindparam(f"v_{key}", type_=mapper.columns[key].type)
            for key in keys_
        }
        statement = _STATEMENTS[(mapper, keys)] = update(table).where(and_(*where)).values(values)
    return statement


def write_back(session: Session, row: object) -> None:
    """Write `row`'s changed attributes in one UPDATE, guarded by its version, and hold them
    as written from now on (on PostgreSQL the UPDATE leaves with the transaction's next
    statement: engine.store.batch).

    Call it inside `session.no_autoflush` from the first change on: the ORM must not
    flush the row meanwhile, or its version would move twice. (Attributes are named as
    their columns, as everywhere in engine.store.models.)
    """
    state = inspect(row)
    keys = tuple(sorted(state.committed_state))
    if not keys:
        return
    mapper = state.mapper
    values = {key: state.dict[key] for key in keys}
    params = {f"v_{key}": value for key, value in values.items()}
    params.update({f"w_{column.key}": state.dict[column.key] for column in mapper.primary_key})
    version = mapper.version_id_col
    if version is not None:
        current = state.dict[version.key]
        params["w_version"], params[f"v_{version.key}"] = current, current + 1
        values[version.key] = current + 1
    batch.later(session, _statement(mapper, keys), params, counted=partial(_matched, state))
    state.dict.update(values)
    # What the ORM itself does after its flush writes a row: the transaction (or the
    # savepoint) records the row as written, so rolling it back expires the row, and
    # the object is clean again. There is no public spelling of either;
    # tests/test_rows.py fails if they go away or stop doing this.
    session._register_altered([state])
    state._commit_all(state.dict, session.identity_map)


def _matched(state: InstanceState[Any], rows: int) -> None:
    """The UPDATE matched `rows` rows: another command moved the row first unless 1."""
    if rows != 1:
        mapper = state.mapper
        identity = [state.dict[str(column.key)] for column in mapper.primary_key]
        raise StaleDataError(
            f"UPDATE of {mapper.class_.__name__} {identity} matched {rows} rows, not 1: "
            "another command changed it first"
        )


def written_by_database(session: Session, row: object, values: dict[str, Any]) -> None:
    """`row` holds `values` in the database already (a trigger wrote them): set them as
    committed, not as changes to write, and let a rollback of the current transaction or
    savepoint expire them, as it would after a write of the ORM's own."""
    for key, value in values.items():
        set_committed_value(row, key, value)
    session._register_altered([inspect(row)])


def inserted(session: Session, row: object) -> None:
    """`row` was written by a plain INSERT of every column: hold it as the ORM holds a row
    it has just flushed (persistent, clean, and expunged again if the transaction or
    savepoint rolls back), so a view reads it without a query."""
    session.add(row)
    session._register_persistent({inspect(row)})


def moved_once(session: Session, model: Any, key: str, source: str, **values: Any) -> bool:
    """Move a record's status from `source` by a conditional UPDATE; False if it had moved.

    What settles a funding, payout or chargeback: of two commands racing to settle one,
    exactly one finds it still in `source` (the other's UPDATE matches no row, or waits
    for the winner's commit and then matches none), so it is settled exactly once.
    """
    result = session.execute(
        update(model)
        .where(model.id == key, model.status == source)
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
    return bool(cast(Any, result).rowcount)


def as_json(row: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """The named columns of a row as JSON-ready values (moments in ISO 8601): what an event
    records of a funding, payout or chargeback, and what the API answers of it."""
    values = {name: getattr(row, name) for name in names}
    return {name: v.isoformat() if hasattr(v, "isoformat") else v for name, v in values.items()}
