"""A sandbox tenant's test clock and pretend rail (see engine.domain.sandbox).

The clock moves here; what falls due as it moves is fired by the same sweeps as live
time (web.sweeping), scoped to the tenant. The pretend rail fails the next funding or
payout when told to, in the very transaction that records it, and brings a chargeback
on demand through the same command as a real rail's report.
"""

from __future__ import annotations

import secrets
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from functools import partial

from engine.domain.clock import tenant_time
from engine.domain.errors import ValidationError
from engine.domain.sandbox import advanced, failure_reason, is_test_tenant
from engine.service import chargebacks, fundings, payouts
from engine.service.tranche import Service
from engine.service.uow import UnitOfWork
from engine.store import sandbox
from engine.store.models import Chargeback, Funding, Payout

RESPOND_WITHIN = timedelta(days=7)
"""The pretend network's deadline to answer a chargeback, as card networks commonly give."""


def clock(uow: UnitOfWork, tenant: str) -> datetime:
    return sandbox.sandbox_of(uow.session, tenant).now


def tenant_clock(service: Service, tenant: str) -> AbstractContextManager[None]:
    """Run a block's commands on the tenant's test clock (a sandbox) or, for a live
    tenant, on the service's own clock (no query is made)."""
    moment = service.read(partial(clock, tenant=tenant)) if is_test_tenant(tenant) else None
    return tenant_time(moment)


def move_clock(
    uow: UnitOfWork, tenant: str, to: datetime | None = None, by: timedelta | None = None
) -> tuple[datetime, datetime]:
    """Move the tenant's clock to `to`, or `by` from where it stands (forward only); the
    row's lock orders advances, so two at once never both start from the same time."""
    row = sandbox.sandbox_of(uow.session, tenant, lock=True)
    before = row.now
    row.now = advanced(before, to, by)
    return before, row.now


def order_failure(uow: UnitOfWork, tenant: str, order: str, reason: object) -> str:
    """Have the pretend rail fail the tenant's next funding or payout with `reason`."""
    row = sandbox.sandbox_of(uow.session, tenant, lock=True)
    setattr(row, order, failure_reason(reason))
    return getattr(row, order)


def funding_opened(uow: UnitOfWork, funding: Funding) -> Funding:
    """A pending funding just opened: fail it now if the sandbox was told to."""
    reason = sandbox.take_order(uow.session, funding.tenant, "fail_next_funding")
    if reason is None:
        return funding
    return fundings.fail_funding(uow, funding.id, reason, funding.tenant)


def payout_recorded(uow: UnitOfWork, payout: Payout) -> Payout:
    """A payout or refund just recorded: fail it now if the sandbox was told to."""
    reason = sandbox.take_order(uow.session, payout.tenant, "fail_next_payout")
    if reason is None:
        return payout
    return payouts.settle_payout(uow, payout.id, False, reason, payout.tenant)


def bring_chargeback(
    uow: UnitOfWork, tenant: str, funding_id: str, amount: int | None, reason: str
) -> Chargeback:
    """The pretend network takes back (part of) a confirmed funding of the tenant's."""
    funding = fundings.get_funding(uow, funding_id, tenant)
    if funding.rail_reference is None:
        raise ValidationError(
            f"the funding {funding_id} was recorded without a rail reference: a chargeback "
            "needs a funding the rail confirmed",
            field="funding_id",
        )
    return chargebacks.report_chargeback(
        uow,
        tenant,
        funding.rail_reference,
        "cb_test_" + secrets.token_hex(8),
        funding.amount if amount is None else amount,
        funding.currency,
        reason,
        uow.clock.now() + RESPOND_WITHIN,
    )
