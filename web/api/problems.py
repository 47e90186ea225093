"""RFC 9457 problem details: the one error shape of /v1.

Every refusal is a `ProblemError` (or an engine `TrancheError`, or a Werkzeug HTTP
error) and one handler turns it into `application/problem+json` with a stable
`type` per error code. Codes come from the exception class, never from parsing
a message, so clients can switch on `type` (or `code`) safely.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from engine.domain.errors import TrancheError
from engine.store.db import is_unavailable

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:tranche:problem:"
RETRY_AFTER = 5
"""Seconds a client is asked to wait (Retry-After) when the database cannot be reached."""
log = logging.getLogger(__name__)

STATUS_BY_CODE = {
    "validation": 422,
    "invalid_amount": 422,
    "invalid_as_of": 422,
    "unknown_currency": 422,
    "currency_mismatch": 422,
    "exceeds_agreed": 422,
    "policy_invalid": 422,
    "idempotency_mismatch": 422,
    "malformed_request": 400,
    "unauthorized": 401,
    "not_a_party": 403,
    "not_found": 404,
    "unknown_event": 404,
    "method_not_allowed": 405,
    "not_acceptable": 406,
    "forbidden_event": 409,
    "insufficient_escrow": 409,
    "conflict": 409,
    "dispute_closed": 409,
    "evidence_rejected": 422,
    "evidence_quota": 422,
    "ledger_unbalanced": 409,
    "precondition_failed": 412,
    "funding_pending": 409,
    "funding_mismatch": 422,
    "report_invalid": 422,
    "duplicate_reference": 409,
    "already_settled": 409,
    "insufficient_balance": 409,
    "clock_not_forward": 409,
    "test_mode_only": 403,
    "too_large": 413,
    "unsupported_media_type": 415,
    "internal": 500,
    "database_unavailable": 503,
    "diagram_unavailable": 503,
    "encryption_unconfigured": 503,
}
TITLES = {
    "validation": "The request is not valid",
    "invalid_amount": "The amount is not valid",
    "invalid_as_of": "The instant is not valid",
    "unknown_currency": "Unknown currency",
    "currency_mismatch": "Currencies do not match",
    "exceeds_agreed": "Milestones would exceed the agreed amount",
    "policy_invalid": "The policy is not valid",
    "idempotency_mismatch": "Idempotency-Key reused with a different request",
    "malformed_request": "The request could not be read",
    "unauthorized": "A valid API key is required",
    "not_a_party": "The actor is not a party to this contract",
    "not_found": "Not found",
    "unknown_event": "The policy has no such event",
    "method_not_allowed": "Method not allowed",
    "not_acceptable": "None of the media types the Accept header names can be given",
    "forbidden_event": "The event is not allowed now",
    "insufficient_escrow": "Not enough money in escrow",
    "conflict": "Changed by another request",
    "dispute_closed": "The dispute is already decided",
    "evidence_rejected": "The evidence file is refused",
    "evidence_quota": "The dispute or the tenant holds all the evidence it may",
    "ledger_unbalanced": "The ledger would not balance",
    "precondition_failed": "The milestone changed since the version named in If-Match",
    "funding_pending": "A funding awaits the payment rail",
    "funding_mismatch": "The rail charged another amount or currency",
    "report_invalid": "The rail's report cannot be read",
    "duplicate_reference": "That rail reference is already recorded",
    "already_settled": "Already settled",
    "insufficient_balance": "Not that much is available to pay out",
    "clock_not_forward": "A test clock only moves forward",
    "test_mode_only": "Only a test-mode API key may do this",
    "too_large": "The request body is too large",
    "unsupported_media_type": "Send the body as application/json",
    "internal": "Internal error",
    "database_unavailable": "The database cannot be reached just now; retry later",
    "diagram_unavailable": "The drawing program is not available",
    "encryption_unconfigured": "The server has no key to encrypt webhook secrets",
}
CODE_BY_STATUS = {400: "malformed_request", 401: "unauthorized", 404: "not_found"}
CODE_BY_STATUS |= {
    405: "method_not_allowed",
    412: "precondition_failed",
    413: "too_large",
    415: "unsupported_media_type",
}
CODE_BY_STATUS |= {409: "conflict", 422: "validation"}


class ProblemError(Exception):
    """A refusal made by the HTTP layer itself (authentication, headers, idempotency)."""

    def __init__(self, code: str, detail: str, **fields: Any) -> None:
        super().__init__(detail)
        self.code, self.detail, self.fields = code, detail, fields


def problem_response(
    code: str, detail: str, fields: dict[str, Any] | None = None, status: int | None = None
) -> Response:
    status = status or STATUS_BY_CODE.get(code, 400)
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + code,
        "title": TITLES.get(code, code.replace("_", " ").capitalize()),
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.path,
    }
    for name, value in (fields or {}).items():
        body.setdefault(name, value)
    headers = {"Content-Type": PROBLEM_JSON}
    if code == "unauthorized":
        headers["WWW-Authenticate"] = 'Bearer realm="tranche"'
    return Response(json.dumps(body, default=str), status=status, headers=headers)


def _field_errors(messages: Any) -> dict[str, Any]:
    """webargs nests messages by location ({"json": {...}}); clients want the fields."""
    if isinstance(messages, dict) and len(messages) == 1:
        (location, inner), *_ = messages.items()
        if location in ("json", "query", "headers", "path", "view_args"):
            return inner if isinstance(inner, dict) else {"_body": inner}
    return messages if isinstance(messages, dict) else {"_body": messages}


def from_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    messages = (getattr(exc, "data", None) or {}).get("messages")
    if messages is not None:
        errors = _field_errors(messages)
        if status == 400 or errors == {"_body": ["Invalid JSON body."]}:
            return problem_response("malformed_request", "the body is not valid JSON", status=400)
        return problem_response(
            "validation", "some fields are not valid", {"errors": errors}, status=422
        )
    code = CODE_BY_STATUS.get(status, "http_" + str(status))
    detail = exc.description or exc.name
    fields: dict[str, Any] = {}
    if status == 405 and getattr(exc, "valid_methods", None):
        fields["allowed_methods"] = sorted(exc.valid_methods or [])
    if status == 413:
        detail = f"the body is larger than this route's limit of {request.max_content_length} bytes"
        fields["limit"] = request.max_content_length
    response = problem_response(code, detail, fields, status=status)
    if status == 405 and fields:
        response.headers["Allow"] = ", ".join(fields["allowed_methods"])
    return response


def install(app: Flask, prefix: str = "/v1") -> None:
    """Problem+json for every error under `prefix`; other paths keep Flask's defaults."""

    def on_problem(exc: ProblemError) -> Response:
        return problem_response(exc.code, exc.detail, exc.fields)

    def on_tranche(exc: TrancheError) -> Response:
        return problem_response(exc.code, exc.message, exc.details())

    def on_http(exc: HTTPException) -> Any:
        if not request.path.startswith(prefix):
            return exc
        return from_http_exception(exc)

    def on_database(exc: DBAPIError) -> Any:
        if not is_unavailable(exc):
            return on_unexpected(exc)
        log.warning("database unavailable on %s %s: %s", request.method, request.path, exc.orig)
        headers = {"Retry-After": str(RETRY_AFTER)}
        if not request.path.startswith(prefix):
            return ServiceUnavailable(TITLES["database_unavailable"]).get_response(), 503, headers
        response = problem_response(
            "database_unavailable",
            "the database could not be reached or dropped the connection; if this was a "
            "command, retry it with the same Idempotency-Key",
            {"retry_after": RETRY_AFTER},
        )
        response.headers.update(headers)
        return response

    def on_unexpected(exc: Exception) -> Any:
        if isinstance(exc, HTTPException):
            return on_http(exc)
        log.exception("unexpected error on %s %s", request.method, request.path)
        if not request.path.startswith(prefix):
            raise exc
        return problem_response("internal", "an unexpected error occurred; it was logged")

    app.register_error_handler(ProblemError, on_problem)
    app.register_error_handler(TrancheError, on_tranche)
    app.register_error_handler(HTTPException, on_http)
    app.register_error_handler(DBAPIError, on_database)
    app.register_error_handler(Exception, on_unexpected)
