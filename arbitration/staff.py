"""Staff accounts: argon2id password hashes, sign-in (throttled), roles, and their upkeep.

Reviewers claim cases and rule; seniors also approve large rulings (two-person
rule) and reassign cases. A wrong password and an unknown email get the same
answer and cost the same time, so the login form does not reveal who has an account.
Resetting a password, unlocking, deactivating and changing a role are operator
commands (`tranche staff ...`), each audited; the first and the third end the
account's console sessions.
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from arbitration import audit, sessions, throttle
from arbitration.errors import LoginRefusedError, LoginThrottledError, StaffForbiddenError
from arbitration.models import Staff
from arbitration.settings import Settings
from engine.domain.errors import ConflictError, NotFoundError, ValidationError
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


def _check_role(role: object) -> None:
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}", field="role")


def _hash(password: object) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ValidationError(
            f"the password must be at least {MIN_PASSWORD} characters", field="password"
        )
    return _hasher.hash(password)


def create_staff(uow: UnitOfWork, email: str, role: str, password: str) -> Staff:
    email = normalise_email(email)
    _check_role(role)
    password_hash = _hash(password)
    if uow.session.scalar(select(func.count()).where(Staff.email == email)):
        raise ConflictError(f"a staff account for {email} already exists", email=email)
    now = uow.clock.now()
    staff = Staff(
        id=new_id("st"),
        email=email,
        role=role,
        password_hash=password_hash,
        active=True,
        created_at=now,
    )
    uow.session.add(staff)
    audit.record(uow.session, None, "staff_created", "cli", now, staff=staff.id, role=role)
    uow.session.flush()
    return staff


def authenticate(
    uow: UnitOfWork, email: str, password: str, address: str, settings: Settings
) -> Staff:
    """The staff member, or LoginRefusedError / LoginThrottledError. Caller commits either way.

    The throttle's rows are locked before anything is read, so parallel attempts are
    counted one by one. An unknown email is throttled and hashed exactly like a known
    one: neither the answer nor its cost tells whether the email belongs to staff.
    """
    now = uow.clock.now()
    typed = str(email or "").strip().lower()[:254]
    keys = throttle.lock(uow, typed, address, settings)
    staff = uow.session.scalars(select(Staff).where(Staff.email == typed)).first()
    staff_id = staff.id if staff is not None else None
    blocked_until = keys.blocked_until(now)
    if blocked_until is not None:
        audit.record(uow.session, staff_id, "login_throttled", address, now, email=typed)
        raise LoginThrottledError(
            "too many failed attempts; try again later", retry_after=blocked_until.isoformat()
        )
    usable = staff if staff is not None and staff.active else None
    if not _verify(usable.password_hash if usable else _DUMMY, password) or usable is None:
        throttle.failed(keys, settings, now)
        audit.record(uow.session, staff_id, "login_failed", address, now, email=typed)
        raise LoginRefusedError("wrong email or password")
    throttle.forgive_account(keys)
    usable.last_login_at = now
    if _hasher.check_needs_rehash(usable.password_hash):
        usable.password_hash = _hasher.hash(password)
    audit.record(uow.session, usable.id, "login", address, now)
    return usable


def _verify(hashed: str, password: object) -> bool:
    try:
        return _hasher.verify(hashed, str(password or ""))
    except (VerificationError, InvalidHashError):
        return False


def get_staff(uow: UnitOfWork, staff_id: str | None, lock: bool = False) -> Staff | None:
    """The active staff member; `lock` reads the row afresh and holds it (FOR SHARE on
    PostgreSQL) so a role change or deactivation waits until the command is done."""
    if not staff_id:
        return None
    share = {"read": True} if lock and uow.database.is_postgres else None
    staff = uow.session.get(Staff, staff_id, with_for_update=share, populate_existing=lock)
    return staff if staff is not None and staff.active else None


def acting(uow: UnitOfWork, who: Staff) -> Staff:
    """The staff member acting, as the database has them now (role, active), row held.

    The console read them at the start of the request; an operator may have changed
    the role or deactivated the account since.
    """
    current = get_staff(uow, who.id, lock=True)
    if current is None:
        raise StaffForbiddenError("this staff account is deactivated", staff=who.id)
    return current


def all_staff(uow: UnitOfWork) -> list[Staff]:
    return list(uow.session.scalars(select(Staff).where(Staff.active).order_by(Staff.email)))


# upkeep (operator commands) ---------------------------------------------------------------
def _account(uow: UnitOfWork, email: str) -> Staff:
    """The account of `email`, its row locked before anything about it is decided."""
    query = select(Staff).where(Staff.email == normalise_email(email))
    if uow.database.is_postgres:
        query = query.with_for_update()
    staff = uow.session.scalars(query.execution_options(populate_existing=True)).first()
    if staff is None:
        raise NotFoundError(f"no staff account for {email}", email=email)
    return staff


def _audited(uow: UnitOfWork, staff: Staff, action: str, **detail: object) -> Staff:
    audit.record(uow.session, None, action, "cli", uow.clock.now(), staff=staff.id, **detail)
    uow.session.flush()
    return staff


def reset_password(uow: UnitOfWork, email: str, password: str) -> Staff:
    """A new password; every console session of the account ends, and its block too."""
    staff = _account(uow, email)
    staff.password_hash = _hash(password)
    ended = sessions.end_all(uow, staff.id)
    throttle.clear_account(uow, staff.email)
    return _audited(uow, staff, "password_reset", sessions_ended=ended)


def unlock(uow: UnitOfWork, email: str) -> Staff:
    """Forget the account's failed sign-ins (its address-based back-off stays)."""
    staff = _account(uow, email)
    return _audited(uow, staff, "unlock", was_counted=throttle.clear_account(uow, staff.email))


def deactivate(uow: UnitOfWork, email: str) -> Staff:
    """No more sign-ins; every console session of the account ends at once."""
    staff = _account(uow, email)
    if not staff.active:
        raise ConflictError(f"{staff.email} is already deactivated", email=staff.email)
    staff.active = False
    return _audited(uow, staff, "deactivate", sessions_ended=sessions.end_all(uow, staff.id))


def set_role(uow: UnitOfWork, email: str, role: str) -> Staff:
    """Reviewer or senior; the console reads the role afresh on every request."""
    _check_role(role)
    staff = _account(uow, email)
    before, staff.role = staff.role, role
    return _audited(uow, staff, "role_changed", before=before, after=role)
