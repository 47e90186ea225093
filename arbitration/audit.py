"""The staff audit trail: one append-only row per staff action (who, when, what, where)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from arbitration.models import StaffAudit


def record(
    session: Session,
    staff_id: str | None,
    action: str,
    address: str,
    now: datetime,
    dispute_id: str | None = None,
    **detail: Any,
) -> StaffAudit:
    row = StaffAudit(
        staff_id=staff_id,
        action=action,
        dispute_id=dispute_id,
        detail=json.dumps(detail, sort_keys=True, default=str),
        address=(address or "")[:64],
        created_at=now,
    )
    session.add(row)
    return row


def trail(session: Session, dispute_id: str | None = None, limit: int = 200) -> list[StaffAudit]:
    """Newest first; one case's trail, or everything."""
    query = select(StaffAudit).order_by(StaffAudit.id.desc()).limit(limit)
    if dispute_id is not None:
        query = query.where(StaffAudit.dispute_id == dispute_id)
    return list(session.scalars(query))
