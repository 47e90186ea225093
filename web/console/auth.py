"""Sign-in, the session, CSRF tokens and role checks for the console.

The session cookie is signed, HttpOnly, SameSite=Lax and Secure (unless the
deployment says otherwise for plain-HTTP development); it carries only a session
token and a CSRF token. The session itself lives in the database
(arbitration.sessions) and is checked on every request, so signing out, a password
reset or a deactivation ends it even for a copy of the cookie. Every POST must echo
the CSRF token.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, current_app, g, redirect, request, session, url_for

from arbitration.models import Staff
from arbitration.service import Arbitration
from arbitration.staff import SENIOR

CSRF_FIELD = "csrf_token"


def arbitration() -> Arbitration:
    return current_app.extensions["arbitration"]


def client_address() -> str:
    """The peer address; behind a proxy, configure ProxyFix so this is the client's."""
    return (request.remote_addr or "")[:64]


def csrf_token() -> str:
    token = session.get(CSRF_FIELD)
    if not token:
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Refuse any state-changing request that does not echo the session's token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.form.get(CSRF_FIELD, "")
    expected = session.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
        abort(
            400,
            description="This form has expired or was not sent from the console. "
            "Reload the page and try again.",
        )


SESSION_FIELD = "session"


def sign_in(staff: Staff) -> None:
    token = arbitration().start_session(
        staff, client_address(), current_app.permanent_session_lifetime
    )
    session.clear()
    session.permanent = True
    session[SESSION_FIELD] = token
    session[CSRF_FIELD] = secrets.token_urlsafe(32)


def sign_out() -> None:
    arbitration().end_session(session.get(SESSION_FIELD), g.staff, client_address())
    session.clear()


def load_staff() -> None:
    token = session.get(SESSION_FIELD)
    g.staff = arbitration().session_staff(token) if token else None
    if token and g.staff is None:
        session.clear()  # signed out elsewhere, expired, or the account was deactivated


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("staff") is None:
            return redirect(url_for("console.login", next=request.full_path))
        return view(*args, **kwargs)

    return wrapped


def senior_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.staff.role != SENIOR:
            abort(403, description="Only senior staff can do this.")
        return view(*args, **kwargs)

    return wrapped


def safe_next(target: str | None) -> str:
    """Only redirect back inside the console, never to another site."""
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return url_for("console.queue")
