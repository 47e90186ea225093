"""Yardsticks served by gunicorn beside Tranche in bench/api_load.py, on the same database.

- `/bare/<row>`: the floor every Python web service pays, 1 UPDATE + 1 INSERT via the ORM.
- `/floor/contracts` and `/floor/<milestone id>`: the floor of a lifecycle's writes.
  The rows Tranche must write, on Tranche's own tables (so its triggers fire too), by
  the cheapest code: prebuilt statements, no state machine, no policy, no auth, no
  validation, no schema. Creating writes a contract, its milestone and one event. A
  transition locks and reads the milestone with its contract, then writes a ledger
  entry with two postings, a hash-chained event (whose triggers write the feed row
  and move the contract's chain head), the milestone's UPDATE and an idempotency
  record; its response is the milestone row as JSON. On SQLite, one statement per
  table, as Tranche sends them; on PostgreSQL, all of a request's writes in one
  statement (a transition sends 2 statements; Tranche sends 2, or 3 when it pays the
  provider: the upsert of their balance answers with their debt).
  What no implementation of the API can go below, whatever it does about its own code.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy import DateTime, Integer, String, bindparam, insert, select, text, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from engine.store.db import Database
from engine.store.ledger import _INSERT_ENTRY
from engine.store.models import Contract, Event, Milestone, Posting
from web.api.models import IdempotencyRecord


class Base(DeclarativeBase):
    pass


class Counter(Base):
    __tablename__ = "bench_counter"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class Log(Base):
    __tablename__ = "bench_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    note: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def prepare(url: str, rows: int = 64) -> None:
    database = Database(url)
    Base.metadata.drop_all(database.engine)
    Base.metadata.create_all(database.engine)
    with database.session() as session, session.begin():
        session.add_all(Counter(id=i, value=0) for i in range(rows))
    database.dispose()


_MILESTONES, _CONTRACTS = Milestone.__table__, Contract.__table__
_LOAD = (
    select(_MILESTONES, _CONTRACTS.c.event_seq, _CONTRACTS.c.last_event_hash, _CONTRACTS.c.currency)
    .join(_CONTRACTS, _CONTRACTS.c.id == _MILESTONES.c.contract_id)
    .where(_MILESTONES.c.id == bindparam("milestone_id"))
)
_LEGS = (("buyer_funding", -1), ("escrow", 1))

# SQLite: one statement per table, as Tranche sends them.
_TOUCH = (
    update(_MILESTONES)
    .where(_MILESTONES.c.id == bindparam("milestone_id"))
    .where(_MILESTONES.c.version == bindparam("old_version"))
    .values(version=bindparam("new_version"), updated_at=bindparam("now"))
)
_EVENT = insert(Event.__table__)
_RECORD = insert(IdempotencyRecord.__table__)
_INSERT_POSTINGS = insert(Posting.__table__)

# PostgreSQL: every write in one statement, one round trip. The ledger entry's id is
# drawn from its sequence by the load, so the event can name it before it exists.
_LOAD_POSTGRES = _LOAD.add_columns(
    text("nextval('ledger_entries_id_seq') AS entry_id")
).with_for_update()
_WRITE_ALL = text(
    """
WITH entry AS (
  INSERT INTO ledger_entries (id, contract_id, milestone_id, kind, memo, created_at)
  VALUES (:entry_id, :contract_id, :milestone_id, 'hold', '', :now) RETURNING id),
legs AS (
  INSERT INTO postings (entry_id, contract_id, milestone_id, account, amount, currency)
  SELECT entry.id, :contract_id, :milestone_id, l.account, l.amount, :currency
  FROM entry, (VALUES {legs}) AS l(account, amount)),
event AS (
  INSERT INTO events (contract_id, milestone_id, seq, type, actor_id, actor_role, amount,
    currency, from_state, to_state, policy_name, policy_version, data, created_at,
    prev_hash, hash)
  VALUES (:contract_id, :milestone_id, :seq, :type, :actor_id, :actor_role, :amount,
    :currency, :from_state, :to_state, :policy_name, :policy_version, :data, :created_at,
    :prev_hash, :hash)),
record AS (
  INSERT INTO api_idempotency (tenant, key, fingerprint, status_code, body, headers, created_at)
  VALUES (:tenant, :key, :fingerprint, :status_code, :body, :headers, :now)),
touched AS (
  UPDATE milestones SET version = :new_version, updated_at = :now
  WHERE id = :milestone_id AND version = :old_version RETURNING 1)
SELECT count(*) FROM touched
""".format(legs=", ".join(f"('{account}', {amount})" for account, amount in _LEGS))
)


# Creating a contract with its milestone: fewer rows than Tranche writes (one event, no
# idempotency record), so the floor errs on the fast side.
_INSERT_CONTRACT, _INSERT_MILESTONE = insert(_CONTRACTS), insert(_MILESTONES)
_CREATE_ALL = text("""
WITH contract AS (
  INSERT INTO contracts (id, tenant, buyer_id, provider_id, currency, agreed_amount, title,
    policy_name, policy_version, created_at, event_seq, last_event_hash)
  VALUES (:contract_id, :tenant, :buyer_id, :provider_id, :currency, :amount, :title,
    :policy_name, :policy_version, :created_at, 0, :prev_hash) RETURNING id),
milestone AS (
  INSERT INTO milestones (id, contract_id, position, title, amount, state, policy_name,
    policy_version, version, revisions, created_at, updated_at)
  SELECT :milestone_id, id, 1, :title, :amount, 'proposed', :policy_name, :policy_version,
    1, 0, :created_at, :created_at FROM contract)
INSERT INTO events (contract_id, milestone_id, seq, type, actor_id, actor_role, amount,
  currency, from_state, to_state, policy_name, policy_version, data, created_at, prev_hash, hash)
SELECT id, NULL, 1, 'contract_created', :buyer_id, 'buyer', :amount, :currency, NULL, NULL,
  :policy_name, :policy_version, '{}', :created_at, :prev_hash, :hash FROM contract
""")


def _hashed(event: dict[str, Any]) -> dict[str, Any]:
    """The event with a hash over its fields (the previous hash among them), as a chain needs."""
    canonical = json.dumps(event | {"created_at": event["created_at"].isoformat()}, sort_keys=True)
    return event | {"hash": hashlib.sha256(canonical.encode()).hexdigest()}


def _new_contract(now: datetime) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A contract between two fresh parties, its proposed milestone and its first event."""
    contract_id, milestone_id = f"ct_{secrets.token_hex(12)}", f"ms_{secrets.token_hex(12)}"
    policy = {"policy_name": "fixed-price", "policy_version": 1}
    contract = policy | {
        "title": "floor",
        "id": contract_id,
        "tenant": "floor",
        "buyer_id": "fb",
        "provider_id": "fp",
        "currency": "USD",
        "agreed_amount": 10_000,
        "created_at": now,
        "event_seq": 0,
        "last_event_hash": "0" * 64,
    }
    milestone = policy | {
        "title": "floor",
        "id": milestone_id,
        "contract_id": contract_id,
        "position": 1,
        "amount": 10_000,
        "state": "proposed",
        "version": 1,
        "revisions": 0,
        "created_at": now,
        "updated_at": now,
    }
    event = policy | {
        "contract_id": contract_id,
        "seq": 1,
        "type": "contract_created",
        "actor_id": "fb",
        "actor_role": "buyer",
        "amount": 10_000,
        "currency": "USD",
        "data": "{}",
        "created_at": now,
        "prev_hash": "0" * 64,
    }
    return contract, milestone, _hashed(event)


def create_sqlite(session: Any) -> str:
    contract, milestone, event = _new_contract(datetime.now(UTC))
    session.execute(_INSERT_CONTRACT, contract)
    session.execute(_INSERT_MILESTONE, milestone)
    session.execute(_EVENT, event)
    return milestone["id"]


def create_postgres(session: Any) -> str:
    contract, milestone, event = _new_contract(datetime.now(UTC))
    params = contract | event | {"amount": 10_000, "title": "floor"}
    params |= {"contract_id": contract["id"], "milestone_id": milestone["id"]}
    session.execute(_CREATE_ALL, params)
    return milestone["id"]


def _event(row: dict[str, Any], entry_id: int, now: datetime) -> dict[str, Any]:
    """A fund event of `row`'s milestone naming its ledger entry, hash-chained to the last."""
    event = {
        "contract_id": row["contract_id"],
        "milestone_id": row["id"],
        "seq": row["event_seq"] + 1,
        "type": "fund",
        "actor_id": "floor",
        "actor_role": "buyer",
        "amount": 1,
        "currency": row["currency"],
        "from_state": row["state"],
        "to_state": row["state"],
        "policy_name": row["policy_name"],
        "policy_version": row["policy_version"],
        "data": json.dumps({"movements": [{"kind": "hold", "amount": 1}], "ledger": [entry_id]}),
        "created_at": now,
        "prev_hash": row["last_event_hash"],
    }
    return _hashed(event)


def _writes(row: dict[str, Any], now: datetime) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The milestone UPDATE's and the idempotency record's parameters, and the response body."""
    version = row["version"] + 1
    body = json.dumps(row | {"version": version, "updated_at": now}, default=str)
    touch = {"milestone_id": row["id"], "old_version": row["version"], "new_version": version}
    record = {"tenant": "floor", "key": request.headers["Idempotency-Key"], "body": body}
    record |= {"fingerprint": "0" * 64, "status_code": 200, "headers": "{}"}
    return touch | {"now": now}, record, body


def floor_sqlite(session: Any, milestone_id: str) -> str:
    now = datetime.now(UTC)
    row = session.execute(_LOAD, {"milestone_id": milestone_id}).one()._asdict()
    entry = {"contract_id": row["contract_id"], "milestone_id": milestone_id, "kind": "hold"}
    entry_id = session.execute(_INSERT_ENTRY, entry | {"memo": "", "created_at": now}).scalar_one()
    postings = [
        {"entry_id": entry_id, "contract_id": row["contract_id"], "milestone_id": milestone_id}
        | {"account": account, "amount": amount, "currency": row["currency"]}
        for account, amount in _LEGS
    ]
    session.execute(_INSERT_POSTINGS, postings)
    session.execute(_EVENT, _event(row, entry_id, now))
    touch, record, body = _writes(row, now)
    session.execute(_TOUCH, touch)
    session.execute(_RECORD, record | {"created_at": now})
    return body


def floor_postgres(session: Any, milestone_id: str) -> str:
    now = datetime.now(UTC)
    row = session.execute(_LOAD_POSTGRES, {"milestone_id": milestone_id}).one()._asdict()
    entry_id = row.pop("entry_id")
    touch, record, body = _writes(row, now)
    params = _event(row, entry_id, now) | touch | record | {"entry_id": entry_id}
    if session.execute(_WRITE_ALL, params).scalar_one() != 1:
        raise RuntimeError(f"milestone {milestone_id} moved under its row lock")
    return body


def create_app() -> Flask:
    app = Flask(__name__)
    database = Database(os.environ["BENCH_DATABASE_URL"])

    @app.post("/bare/<int:row>")
    def bare(row: int):
        with database.session() as session, session.begin():
            session.execute(
                update(Counter).where(Counter.id == row).values(value=Counter.value + 1)
            )
            session.add(Log(note=f"row {row}", at=datetime.now(UTC)))
        return jsonify(ok=True)

    floor = floor_postgres if database.is_postgres else floor_sqlite
    create = create_postgres if database.is_postgres else create_sqlite

    @app.post("/floor/contracts")
    def contract_floor():
        with database.session() as session, session.begin():
            return jsonify(milestone_id=create(session))

    @app.post("/floor/<milestone_id>")
    def transition_floor(milestone_id: str):
        with database.session() as session, session.begin():
            body = floor(session, milestone_id)
        return Response(body, mimetype="application/json")

    return app
