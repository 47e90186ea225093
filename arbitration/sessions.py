"""Console sessions kept server-side, so that ending one works whatever the cookie says.

The cookie carries a random token; the table keeps only its SHA-256, the staff member,
and when the session began, expires and ended. Signing out ends one session; a password
reset or a deactivation ends all of the staff member's.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, or_, select, update

from arbitration.models import Staff, StaffSession
from engine.service.uow import UnitOfWork


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(uow: UnitOfWork, staff: Staff, address: str, lifetime: timedelta) -> str:
    """A new session for `staff`; the token to put in the cookie (never stored)."""
    token = secrets.token_urlsafe(32)
    now = uow.clock.now()
    uow.session.add(
        StaffSession(
            id=_digest(token),
            staff_id=staff.id,
            address=(address or "")[:64],
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    return token


def staff_of(uow: UnitOfWork, token: object) -> Staff | None:
    """The active staff member whose live session this token opens, else None."""
    if not isinstance(token, str) or not token or len(token) > 100:
        return None
    query = (
        select(Staff)
        .join(StaffSession, StaffSession.staff_id == Staff.id)
        .where(
            StaffSession.id == _digest(token),
            StaffSession.ended_at.is_(None),
            StaffSession.expires_at > uow.clock.now(),
            Staff.active,
        )
    )
    return uow.session.scalars(query).first()


def end(uow: UnitOfWork, token: object) -> None:
    """End the session this token opens (signing out)."""
    if isinstance(token, str) and token:
        uow.session.execute(
            update(StaffSession)
            .where(StaffSession.id == _digest(token), StaffSession.ended_at.is_(None))
            .values(ended_at=uow.clock.now())
        )


def end_all(uow: UnitOfWork, staff_id: str) -> int:
    """End every live session of a staff member; how many there were."""
    result = uow.session.execute(
        update(StaffSession)
        .where(StaffSession.staff_id == staff_id, StaffSession.ended_at.is_(None))
        .values(ended_at=uow.clock.now())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def purge(uow: UnitOfWork) -> int:
    """Forget sessions that ended or expired (run by `tranche sweep`)."""
    now = uow.clock.now()
    result = uow.session.execute(
        delete(StaffSession).where(
            or_(StaffSession.ended_at.is_not(None), StaffSession.expires_at <= now)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
