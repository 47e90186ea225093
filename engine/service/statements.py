"""A contract's statement for its parties: the query behind `GET /v1/contracts/{id}/statement`
and `tranche statement` (rendered as CSV or PDF by web.statements)."""

from __future__ import annotations

from engine.domain.statement import Statement, build
from engine.service.contracts import get_contract
from engine.service.uow import UnitOfWork
from engine.store.statements import entries


def statement(
    uow: UnitOfWork, contract_id: str, tenant: str | None = None, party: str | None = None
) -> Statement:
    """The contract's movements with running balances, as of now (the tenant's contract
    only, when a tenant is given), optionally prepared for the buyer or the provider."""
    contract = get_contract(uow, contract_id, tenant)
    return build(
        contract_id=contract.id,
        title=contract.title,
        buyer_id=contract.buyer_id,
        provider_id=contract.provider_id,
        currency=contract.currency,
        agreed=contract.agreed_amount,
        opened_at=contract.created_at,
        generated_at=uow.clock.now(),
        entries=entries(uow.session, contract),
        party=party,
    )
