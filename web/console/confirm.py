"""The signed confirmation of a previewed ruling or approval.

The preview page shows the exact postings of one split of one version of a case; its
"Confirm" form carries only a token signed with the app's secret key, holding that
split, that version and the staff member it was shown to. The server commits what
the token holds, never what a form field says, and the domain refuses it if the
case has moved on since (its version), so what is committed is what was shown.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from engine.domain.errors import ValidationError

MAX_AGE_SECONDS = 30 * 60
_SALT = "tranche-console-confirm"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt=_SALT)


def sign(kind: str, staff_id: str, **payload: Any) -> str:
    return _serializer().dumps({"kind": kind, "staff": staff_id, **payload})


def unsign(token: str, kind: str, staff_id: str) -> dict[str, Any]:
    """The payload, if this token was signed here, for this action and this staff member."""
    try:
        payload = _serializer().loads(token or "", max_age=MAX_AGE_SECONDS)
    except BadSignature:
        payload = None
    if not isinstance(payload, dict) or (payload.get("kind"), payload.get("staff")) != (
        kind,
        staff_id,
    ):
        raise ValidationError(
            "This confirmation has expired or was altered. Nothing was done; review it again.",
            field="token",
        )
    return payload
