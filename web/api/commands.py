"""Running a POST: one transaction holding the command and its Idempotency-Key record.

The key row is claimed first (INSERT ... ON CONFLICT DO NOTHING). A concurrent
request with the same key blocks on that insert until the first commits, then
finds the stored response and replays it; so two requests with one key never
both act. The stored response is written in the same transaction as the
command's rows, so a replay never describes work that was rolled back.
Refusals (4xx from the engine) roll the whole transaction back, key included:
nothing was done, and a retry is evaluated afresh.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Response, current_app, request
from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from engine.service import Tranche, conflicts_as_errors
from engine.uow import UnitOfWork
from web.api import auth
from web.api.models import IdempotencyRecord
from web.api.problems import Problem

KEEP_KEYS = timedelta(hours=24)
Result = tuple[int, Any, dict[str, str]]


def tranche() -> Tranche:
    return current_app.extensions["tranche"]


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, mimetype="application/json", headers=headers or {}
    )


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version() -> int | None:
    """The milestone version named by If-Match ("3", W/"3" or *), or None."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    value = header.strip().removeprefix("W/").strip('"')
    if not value.isdigit() or len(value) > 9:
        raise Problem(
            "precondition_failed",
            "If-Match names no version of this milestone; send the ETag you read",
            if_match=header[:100],
        )
    return int(value)


def _fingerprint(body: Any) -> str:
    actor = request.headers.get("Tranche-Actor", "")
    canonical = json.dumps([request.method, request.path, actor, body], sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not key.strip() or len(key) > 255:
        raise Problem(
            "validation",
            "Idempotency-Key must be 1 to 255 characters",
            errors={"Idempotency-Key": ["Must be 1 to 255 characters."]},
        )
    return key


def _claim(uow: UnitOfWork, tenant: str, key: str, fingerprint: str) -> bool:
    values = dict(
        tenant=tenant,
        key=key,
        fingerprint=fingerprint,
        status_code=0,
        body="",
        headers="{}",
        created_at=uow.clock.now(),
    )
    insert = pg_insert if uow.database.is_postgres else sqlite_insert
    table = IdempotencyRecord.__table__
    statement = insert(table).values(**values).on_conflict_do_nothing().returning(table.c.key)
    return uow.session.execute(statement).first() is not None


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.fingerprint != fingerprint:
        raise Problem(
            "idempotency_mismatch",
            "this Idempotency-Key was used with a different request; use a new key",
            idempotency_key=record.key,
        )
    headers = json.loads(record.headers)
    headers["Idempotent-Replayed"] = "true"
    return Response(record.body, status=record.status_code, headers=headers)


def run(command: Callable[[UnitOfWork], Result], body: Any = None) -> Response:
    """Run `command` (which returns status, JSON body, headers) once per Idempotency-Key."""
    key, tenant = _key(), auth.tenant()
    fingerprint = _fingerprint(body)
    with conflicts_as_errors(), tranche().unit_of_work() as uow:
        if key is not None and not _claim(uow, tenant, key, fingerprint):
            record = uow.session.get(IdempotencyRecord, (tenant, key))
            if record is None:
                raise Problem("conflict", "a request with this Idempotency-Key is in progress")
            return _replay(record, fingerprint)
        status, payload, headers = command(uow)
        text = json.dumps(payload)
        headers = {"Content-Type": "application/json", **headers}
        if key is not None:
            uow.session.execute(
                update(IdempotencyRecord)
                .where(IdempotencyRecord.tenant == tenant, IdempotencyRecord.key == key)
                .values(status_code=status, body=text, headers=json.dumps(headers))
            )
        uow.commit()
    return Response(text, status=status, headers=headers)


def purge_keys(tranche_: Tranche, keep: timedelta = KEEP_KEYS) -> int:
    """Forget Idempotency-Keys older than `keep` (never less than 24 hours)."""
    keep = max(keep, KEEP_KEYS)
    with tranche_.unit_of_work() as uow:
        cutoff = uow.clock.now() - keep
        result = uow.session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff)
        )
        uow.commit()
        return int(getattr(result, "rowcount", 0) or 0)
