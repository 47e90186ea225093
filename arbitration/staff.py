"""Staff accounts: argon2id password hashes, login throttling, roles.

Reviewers claim cases and rule; seniors also approve large rulings (two-person
rule) and reassign cases. A wrong password and an unknown email get the same
answer and cost the same time, so the login form does not reveal who has an account.
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from arbitration import audit
from arbitration.errors import LoginRefusedError, LoginThrottledError
from arbitration.models import Staff
from arbitration.settings import Settings
from engine.domain.errors import ConflictError, ValidationError
from engine.service.uow import UnitOfWork
from engine.store.models import new_id

REVIEWER, SENIOR = "reviewer", "senior"
ROLES = (REVIEWER, SENIOR)
MIN_PASSWORD = 12
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_DUMMY = _hasher.hash("an unguessable dummy password for timing")


def normalise_email(email: object) -> str:
    if not isinstance(email, str) or not _EMAIL.match(email.strip()) or len(email) > 254:
        raise ValidationError(f"{email!r} is not an email address", field="email")
    return email.strip().lower()


def create_staff(uow: UnitOfWork, email: str, role: str, password: str) -> Staff:
    email = normalise_email(email)
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}", field="role")
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ValidationError(
            f"the password must be at least {MIN_PASSWORD} characters", field="password"
        )
    if uow.session.scalar(select(func.count()).where(Staff.email == email)):
        raise ConflictError(f"a staff account for {email} already exists", email=email)
    now = uow.clock.now()
    staff = Staff(
        id=new_id("st"),
        email=email,
        role=role,
        password_hash=_hasher.hash(password),
        active=True,
        failed_logins=0,
        created_at=now,
    )
    uow.session.add(staff)
    audit.record(uow.session, None, "staff_created", "cli", now, staff=staff.id, role=role)
    uow.session.flush()
    return staff


def authenticate(
    uow: UnitOfWork, email: str, password: str, address: str, settings: Settings
) -> Staff:
    """The staff member, or LoginRefusedError / LoginThrottledError. Caller commits either way."""
    now = uow.clock.now()
    staff = uow.session.scalars(
        select(Staff).where(Staff.email == str(email or "").strip().lower())
    ).first()
    if staff is None or not staff.active:
        _verify(_DUMMY, password)
        audit.record(uow.session, None, "login_failed", address, now, email=str(email)[:254])
        raise LoginRefusedError("wrong email or password")
    if staff.locked_until is not None and staff.locked_until > now:
        audit.record(uow.session, staff.id, "login_throttled", address, now)
        raise LoginThrottledError(
            "too many failed attempts; try again later",
            retry_after=staff.locked_until.isoformat(),
        )
    if not _verify(staff.password_hash, password):
        staff.failed_logins += 1
        if staff.failed_logins >= settings.max_failed_logins:
            staff.locked_until = now + settings.lockout
            staff.failed_logins = 0
        audit.record(uow.session, staff.id, "login_failed", address, now)
        raise LoginRefusedError("wrong email or password")
    staff.failed_logins, staff.locked_until, staff.last_login_at = 0, None, now
    if _hasher.check_needs_rehash(staff.password_hash):
        staff.password_hash = _hasher.hash(password)
    audit.record(uow.session, staff.id, "login", address, now)
    return staff


def _verify(hashed: str, password: object) -> bool:
    try:
        return _hasher.verify(hashed, str(password or ""))
    except (VerificationError, InvalidHashError):
        return False


def get_staff(uow: UnitOfWork, staff_id: str | None) -> Staff | None:
    staff = uow.session.get(Staff, staff_id) if staff_id else None
    return staff if staff is not None and staff.active else None


def all_staff(uow: UnitOfWork) -> list[Staff]:
    return list(uow.session.scalars(select(Staff).where(Staff.active).order_by(Staff.email)))
