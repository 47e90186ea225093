"""Finding a funding, payout or chargeback: by its id within a tenant, or by the rail's
reference for it (unique per tenant, so one query answers either way)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.domain.errors import NotFoundError

R = TypeVar("R")


def owned(session: Session, model: type[R], key: str, tenant: str | None, kind: str) -> R:
    """The record `key`, if the tenant's (any tenant's when None); else NotFoundError."""
    found: Any = session.get(model, key)
    if found is None or (tenant is not None and found.tenant != tenant):
        raise NotFoundError(f"no {kind} {key!r}", **{f"{kind}_id": key})
    return found  # type: ignore[no-any-return]


def by_reference(session: Session, model: Any, tenant: str, reference: str) -> Any:
    """The tenant's record with the rail's `reference`, or None."""
    query = select(model).where(model.tenant == tenant, model.rail_reference == reference)
    return session.scalars(query).first()
