"""What every request of the peer goes through, in Tranche's order: the body's media type,
the API key, the JSON body; then (per view) its fields, Tranche-Actor, If-Match,
Idempotency-Key; then the command, once per Idempotency-Key. Refusals are RFC 9457
problem+json with Tranche's `type` and `status` (web/api/problems.py).
"""

import hashlib
import json
import re
import time
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, OperationalError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django_fsm import ConcurrentTransition

from .models import ApiKey, IdempotencyRecord

TYPE_PREFIX = "urn:tranche:problem:"
STATUS = {
    "validation": 422,
    "unknown_currency": 422,
    "exceeds_agreed": 422,
    "idempotency_mismatch": 422,
    "malformed_request": 400,
    "unauthorized": 401,
    "not_a_party": 403,
    "not_found": 404,
    "unknown_event": 404,
    "method_not_allowed": 405,
    "forbidden_event": 409,
    "conflict": 409,
    "precondition_failed": 412,
    "unsupported_media_type": 415,
    "not_implemented": 501,
}
PARTY_ID = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,126}[\x21-\x7e])?")
IDEMPOTENCY_KEY = re.compile("[\x20-\x7e]{1,255}")
VERSION = re.compile("[0-9]{1,9}")
FORBIDDEN = re.compile("[\x00\ud800-\udfff]")
MAX_DEPTH = 32
KEY_CACHE_SECONDS = 30.0
"""A key looked up once is trusted this long by this process, as Tranche's KeyCache."""
_keys: dict[str, tuple[str, float]] = {}


class Problem(Exception):
    def __init__(self, code: str, detail: str, **fields: Any) -> None:
        super().__init__(detail)
        self.code, self.detail, self.fields = code, detail, fields

    def response(self, request: HttpRequest) -> HttpResponse:
        body = {
            "type": TYPE_PREFIX + self.code,
            "title": self.code.replace("_", " ").capitalize(),
            "status": STATUS[self.code],
            "detail": self.detail,
            "code": self.code,
            "instance": request.path,
        } | self.fields
        response = HttpResponse(
            json.dumps(body), status=STATUS[self.code], content_type="application/problem+json"
        )
        if self.code == "unauthorized":
            response["WWW-Authenticate"] = 'Bearer realm="tranche"'
        return response


def invalid(field: str, message: str) -> Problem:
    return Problem("validation", "some fields are not valid", errors={field: [message]})


def tenant_of(request: HttpRequest) -> str:
    """The API key's tenant: the key's SHA-256 looked up, cached per process."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Problem("unauthorized", "send 'Authorization: Bearer <API key>'")
    hashed = hashlib.sha256(key.strip().encode()).hexdigest()
    hit = _keys.get(hashed)
    if hit and hit[1] > time.monotonic():
        return hit[0]
    row = ApiKey.objects.filter(key_hash=hashed, revoked_at=None).first()
    if row is None:
        _keys.pop(hashed, None)
        raise Problem("unauthorized", "the API key is unknown or revoked")
    _keys[hashed] = (row.tenant, time.monotonic() + KEY_CACHE_SECONDS)
    return row.tenant


def read(request: HttpRequest) -> tuple[str, Any]:
    """The tenant and the JSON body ({} if none), checked in Tranche's order."""
    data = request.body
    media = request.content_type or ""
    if data and not (
        media == "application/json" or media.startswith("application/") and media.endswith("+json")
    ):
        raise Problem(
            "unsupported_media_type",
            f"send the body as application/json, not {request.content_type or 'nothing'}",
        )
    tenant = tenant_of(request)
    if not data:
        return tenant, {}
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        raise Problem("malformed_request", "the body is not valid JSON") from None
    _walk(body)
    return tenant, body


def _walk(value: Any, depth: int = 0) -> None:
    """No view of /v1 takes JSON nested deeper than 32, nor a NUL or lone surrogate in text
    (PostgreSQL refuses the one, no encoding stores the other): Tranche's web/api/body.py."""
    if isinstance(value, str):
        if FORBIDDEN.search(value):
            raise invalid("_body", "Contains a NUL or an unpaired surrogate character.")
        return
    if not isinstance(value, dict | list):
        return
    if depth >= MAX_DEPTH:
        raise Problem("malformed_request", f"the JSON is nested deeper than {MAX_DEPTH} levels")
    for name, child in value.items() if isinstance(value, dict) else enumerate(value):
        _walk(name, depth + 1)
        _walk(child, depth + 1)


def actor(request: HttpRequest, required: bool = True) -> str | None:
    name = request.headers.get("Tranche-Actor")
    if name is None or not name.strip():
        if required:
            raise Problem(
                "validation",
                "name the acting user in the Tranche-Actor header",
                errors={"Tranche-Actor": ["Missing header."]},
            )
        return None
    if PARTY_ID.fullmatch(name.strip()) is None:
        raise invalid("Tranche-Actor", "1 to 128 printable ASCII characters")
    return name.strip()


def if_match(request: HttpRequest) -> int | None:
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    value = header.strip().removeprefix("W/").strip('"')
    if VERSION.fullmatch(value) is None:
        raise Problem(
            "precondition_failed", "If-Match names no version of this milestone", if_match=header
        )
    return int(value)


def idempotency_key(request: HttpRequest) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and (not key.strip() or IDEMPOTENCY_KEY.fullmatch(key) is None):
        raise Problem(
            "validation",
            "Idempotency-Key must be 1 to 255 printable ASCII characters",
            errors={"Idempotency-Key": ["Must be 1 to 255 printable ASCII characters."]},
        )
    return key


Result = tuple[int, dict[str, Any], dict[str, str]]


def run(
    request: HttpRequest, tenant: str, key: str | None, body: Any, command: Callable[[], Result]
) -> HttpResponse:
    """Run `command` in one transaction with its Idempotency-Key record, as Tranche's
    web/api/commands.py does: the record is inserted after the command, so a request
    meeting a committed key fails that INSERT, rolls everything back and replays the stored
    answer (the same key with another request is refused). A refusal stores nothing."""
    actor_name = request.headers.get("Tranche-Actor", "")
    canonical = json.dumps([request.method, request.path, actor_name, body], sort_keys=True)
    fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
    try:
        with transaction.atomic():
            status, payload, headers = command()
            text = json.dumps(payload)
            headers = {"Content-Type": "application/json", **headers}
            if key is not None:
                IdempotencyRecord.objects.create(
                    tenant=tenant,
                    key=key,
                    fingerprint=fingerprint,
                    status_code=status,
                    body=text,
                    headers=json.dumps(headers),
                    created_at=timezone.now(),
                )
    except (Problem, IntegrityError, ConcurrentTransition, OperationalError) as refused:
        stored = None if key is None else IdempotencyRecord.objects.filter(pk=(tenant, key)).first()
        if stored is None and isinstance(refused, Problem):
            raise
        if stored is None:  # a lost race, as Tranche's conflicts_as_errors says it
            raise Problem(
                "conflict",
                "another command changed this record first; nothing was applied",
                cause=type(refused).__name__,
            ) from refused
        if stored.fingerprint != fingerprint:
            raise Problem(
                "idempotency_mismatch",
                "this Idempotency-Key was used with a different request; use a new key",
                idempotency_key=key,
            ) from None
        response = HttpResponse(stored.body, status=stored.status_code)
        for name, value in json.loads(stored.headers).items():
            response[name] = value
        response["Idempotent-Replayed"] = "true"
        return response
    response = HttpResponse(text, status=status)
    for name, value in headers.items():
        response[name] = value
    return response
