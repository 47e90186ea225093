"""Running a POST: one transaction holding the command and its Idempotency-Key record.

The command runs first; its response is then inserted under the key, in the same
transaction, and the key is the record's primary key. So a request that meets
a committed record with its key fails that INSERT and rolls back everything it
did; a concurrent one blocks on the INSERT until the first commits (PostgreSQL)
or waits for the write lock (SQLite), and fails the same way. Either way it then
replays the stored response: two requests with one key never both act, and the
first request pays one INSERT, not a claim plus an update.

A retry may also be refused by the engine before it reaches the INSERT (the
milestone already moved on): every refusal looks for a stored response under its
key before it is reported. Refusals (4xx) roll the whole transaction back and
store nothing: nothing was done, and a retry is evaluated afresh.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

from flask import Response, current_app, request
from sqlalchemy import Table, delete, select, tuple_

from engine.domain.errors import TrancheError
from engine.service.tranche import Tranche, conflicts_as_errors
from engine.service.uow import UnitOfWork
from engine.store import batch
from engine.store.keyring import Keyring
from web.api import auth
from web.api.models import IdempotencyRecord
from web.api.problems import ProblemError

KEEP_KEYS = timedelta(hours=24)
SEALED = "sealed:"
"""Marks a stored response encrypted by web.api.keyring (a JSON body never starts so)."""
VERSION = re.compile("[0-9]{1,9}")
"""An ETag's version: ASCII digits only (str.isdigit also takes '²', which int() refuses)."""
IDEMPOTENCY_KEY = re.compile("[\x20-\x7e]{1,255}")
"""Printable ASCII, as the Idempotency-Key draft's sf-string; never a NUL or Latin-1 mojibake."""
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
    if VERSION.fullmatch(value) is None:
        raise ProblemError(
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
    if not key.strip() or IDEMPOTENCY_KEY.fullmatch(key) is None:
        raise ProblemError(
            "validation",
            "Idempotency-Key must be 1 to 255 printable ASCII characters",
            errors={"Idempotency-Key": ["Must be 1 to 255 printable ASCII characters."]},
        )
    return key


_RECORD_FIELDS = ("tenant", "key", "fingerprint", "status_code", "body", "headers", "created_at")
_RECORDS = cast(Table, IdempotencyRecord.__table__)
"""A record goes in as a plain INSERT (engine.store.batch): on PostgreSQL in one statement
with the command's own writes."""


def _stored(tenant: str, key: str) -> IdempotencyRecord | None:
    with tranche().reading() as uow:
        return uow.session.get(IdempotencyRecord, (tenant, key))


def _replay(record: IdempotencyRecord, fingerprint: str, seal: Keyring | None) -> Response:
    if record.fingerprint != fingerprint:
        raise ProblemError(
            "idempotency_mismatch",
            "this Idempotency-Key was used with a different request; use a new key",
            idempotency_key=record.key,
        )
    headers = json.loads(record.headers)
    headers["Idempotent-Replayed"] = "true"
    body = record.body
    if seal is not None and body.startswith(SEALED):
        body = seal.decrypt(body.removeprefix(SEALED))
    return Response(body, status=record.status_code, headers=headers)


def run(
    command: Callable[[UnitOfWork], Result], body: Any = None, seal: Keyring | None = None
) -> Response:
    """Run `command` (which returns status, JSON body, headers) once per Idempotency-Key.

    A response that carries a secret (a new webhook's) is kept under its key encrypted
    with `seal`, so the secret is not at rest in clear there either."""
    key, tenant = _key(), auth.tenant()
    fingerprint = "" if key is None else _fingerprint(body)  # only a keyed request is replayed
    try:
        with conflicts_as_errors(), tranche().unit_of_work() as uow:
            status, payload, headers = command(uow)
            text = json.dumps(payload)
            headers = {"Content-Type": "application/json", **headers}
            if key is not None:
                record = {
                    "tenant": tenant,
                    "key": key,
                    "fingerprint": fingerprint,
                    "status_code": status,
                    "body": text if seal is None else SEALED + seal.encrypt(text),
                    "headers": json.dumps(headers),
                    "created_at": uow.clock.now(),
                }
                batch.insert_later(uow.session, _RECORDS, _RECORD_FIELDS, [record])
            uow.commit()
    except (TrancheError, ProblemError):
        if key is not None and (stored := _stored(tenant, key)) is not None:
            return _replay(stored, fingerprint, seal)
        raise
    return Response(text, status=status, headers=headers)


PURGE_BATCH = 10_000
"""Records forgotten per transaction: a backlog of millions never becomes one long DELETE."""


def purge_keys(tranche_: Tranche, keep: timedelta = KEEP_KEYS, batch: int = PURGE_BATCH) -> int:
    """Forget Idempotency-Keys older than `keep` (never less than 24 hours), a batch per
    transaction; returns how many. Run by `tranche deliver` and `tranche sweep`."""
    keep = max(keep, KEEP_KEYS)
    record = IdempotencyRecord.__table__.c
    purged = 0
    while True:
        with tranche_.unit_of_work() as uow:
            stale = (
                select(record.tenant, record.key)
                .where(record.created_at < uow.clock.now() - keep)
                .limit(batch)
            )
            result = uow.session.execute(
                delete(IdempotencyRecord).where(tuple_(record.tenant, record.key).in_(stale))
            )
            uow.commit()
        done = int(getattr(result, "rowcount", 0) or 0)
        purged += done
        if done < batch:
            return purged
