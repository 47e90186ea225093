"""Everything that falls due as time passes, in one place: `tranche sweep` runs it on the
wall clock for live tenants, and a sandbox's test clock runs it for its own tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from arbitration.deadlines import Lapsed
from arbitration.service import Arbitration
from engine.domain.clock import tenant_time
from engine.service.tranche import Tranche
from engine.store.timers import Fired


@dataclass(frozen=True)
class Swept:
    fired: list[Fired]
    """Milestone timers: review periods, refund deadlines, and the policy's other timers."""
    lapsed: list[Lapsed]
    """Disputes whose response deadline passed."""
    expired: list[str]
    """Pending fundings past their deadline."""
    matured: list[int]
    """Credits whose security hold ran out."""


def sweep_due(
    tranche: Tranche,
    arbitration: Arbitration,
    now: datetime | None = None,
    tenant: str | None = None,
    limit: int | None = None,
) -> Swept:
    """Do what is due at `now`, each step in transactions of its own, safe beside other
    sweepers: for every live tenant, or for one sandbox tenant as of its test clock."""
    now = now or tranche.clock.now()
    with tenant_time(now if tenant is not None else None):
        fired = tranche.sweep(now=now, limit=limit, tenant=tenant)
        lapsed = arbitration.sweep(now, tenant)
        expired, matured = tranche.settle_rail(now, tenant)
    return Swept(fired, lapsed, expired, matured)
