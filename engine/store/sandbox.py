"""The sandboxes of test-mode tenants: each one's test clock and its pretend rail's orders.

One row per sandbox tenant (engine.domain.sandbox), made with its first test key. The
clock stands still until advanced; the `fail_next_*` columns hold a failure the
integrator ordered for the next funding or payout, taken (and cleared) under the row's
lock by the command it fails.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, SQLColumnExpression, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.domain.errors import NotFoundError
from engine.domain.sandbox import TEST_PREFIX, is_test_tenant
from engine.store.models import Base, UTCDateTime

ORDERS = ("fail_next_funding", "fail_next_payout")
"""What the pretend rail can be told to do next, each a column holding the reason."""


class Sandbox(Base):
    __tablename__ = "sandboxes"
    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    now: Mapped[datetime] = mapped_column(UTCDateTime)
    fail_next_funding: Mapped[str | None] = mapped_column(Text)
    fail_next_payout: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


def live_only(tenant: SQLColumnExpression[str]) -> ColumnElement[bool]:
    """Rows of live tenants: what the wall-clock sweep may touch."""
    return func.substr(tenant, 1, len(TEST_PREFIX)) != TEST_PREFIX  # LIKE ignores case in SQLite


def tenant_scope(
    tenant_column: SQLColumnExpression[str], tenant: str | None
) -> ColumnElement[bool]:
    """Rows of one sandbox tenant (its clock's sweep), or of every live tenant (None)."""
    return live_only(tenant_column) if tenant is None else tenant_column == tenant


def open_sandbox(session: Session, tenant: str, now: datetime) -> Sandbox:
    """The tenant's sandbox, made with its clock at `now` if it has none yet."""
    found = session.get(Sandbox, tenant)
    if found is None:
        found = Sandbox(tenant=tenant, now=now.replace(microsecond=0), created_at=now)
        session.add(found)
        session.flush()
    return found


def sandbox_of(session: Session, tenant: str, lock: bool = False) -> Sandbox:
    """A sandbox tenant's row (locked for the transaction when asked)."""
    query = select(Sandbox).where(Sandbox.tenant == tenant)
    found = session.scalars(query.with_for_update() if lock else query).first()
    if found is None or not is_test_tenant(tenant):
        raise NotFoundError(f"tenant {tenant!r} has no sandbox")
    return found


def take_order(session: Session, tenant: str, order: str) -> str | None:
    """The failure ordered for the next funding or payout of a sandbox tenant, cleared
    as it is taken (the row stays locked until the command commits); None otherwise."""
    if not is_test_tenant(tenant):
        return None
    sandbox = sandbox_of(session, tenant, lock=True)
    reason = getattr(sandbox, order)
    if reason is not None:
        setattr(sandbox, order, None)
    return reason
