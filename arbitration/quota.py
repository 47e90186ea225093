"""Evidence quotas: how many items, and how many file bytes, a dispute and a tenant may hold.

Evidence is the one place where a party's input is stored without bound by the
case itself: each file is checked on its own (`evidence.EvidenceStore.check`),
and these limits stop a party, or a tenant's integration gone wrong, from
filling the store one allowed file at a time. The dispute is row-locked, and on
PostgreSQL the tenant's evidence takes a transaction-scoped advisory lock, before
the totals are read, so two uploads racing for the last place cannot both win.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text

from arbitration import disputes
from arbitration.errors import EvidenceQuotaError
from arbitration.models import Evidence
from arbitration.settings import Settings
from engine.domain.actors import Actor
from engine.service.uow import UnitOfWork
from engine.store.models import Dispute

_TENANT_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('tranche-evidence:' || :tenant))")


def add_evidence(
    uow: UnitOfWork,
    dispute_id: str,
    actor: Actor,
    settings: Settings,
    tenant: str | None = None,
    **kw: Any,
) -> Evidence:
    """`disputes.add_evidence`, refused once the dispute or its tenant holds its quota."""
    dispute = disputes.load(uow, dispute_id, lock=True, tenant=tenant)
    disputes.party_role(dispute, actor)  # a stranger learns nothing about the quota
    disputes.require_open(dispute)
    upload = kw.get("upload")
    check(uow, dispute, len(upload.data) if upload is not None else 0, settings)
    return disputes.add_evidence(uow, dispute_id, actor, settings, tenant=tenant, **kw)


def check(uow: UnitOfWork, dispute: Dispute, size: int, settings: Settings) -> None:
    """Refuse one more item of `size` file bytes if it would pass a limit."""
    if uow.database.is_postgres:
        uow.session.execute(_TENANT_LOCK, {"tenant": dispute.tenant})
    totals = select(func.count(Evidence.id), func.coalesce(func.sum(Evidence.size), 0))
    scopes = (
        ("dispute", totals.where(Evidence.dispute_id == dispute.id), settings.evidence_per_dispute),
        (
            "tenant",
            totals.join(Dispute, Dispute.id == Evidence.dispute_id).where(
                Dispute.tenant == dispute.tenant
            ),
            settings.evidence_per_tenant,
        ),
    )
    for scope, query, (most_items, most_bytes) in scopes:
        items, stored = uow.session.execute(query).one()
        if items + 1 > most_items:
            raise EvidenceQuotaError(
                f"this {scope} already holds {items} items of evidence, its limit",
                scope=scope,
                limit=most_items,
            )
        if stored + size > most_bytes:
            raise EvidenceQuotaError(
                f"this {scope} holds {stored} bytes of evidence files; {size} more would pass "
                f"its limit of {most_bytes}",
                scope=scope,
                limit=most_bytes,
            )
