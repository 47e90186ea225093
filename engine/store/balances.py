"""Each party's balance: what Tranche owes them, per tenant and currency, kept with the ledger.

A party's accounts are postings that name the party (engine.domain.ledger_legs). Their
sums are cached on one `party_balances` row per (tenant, party, currency), moved by the
same call that writes the postings (engine.store.ledger.post), by one upsert that also
takes the row's lock: whatever decides on a party's balance (a payout, a chargeback, a
debt's offset) runs one at a time per party, and `tranche audit verify` proves the row
equals the postings.

A *debt* is a contract on which the party's `payable` went negative (a chargeback the
provider bore beyond what they had). Every credit the party gets afterwards, on any
contract of the tenant, repays it first, by a pair of entries through `debt_clearing`;
so a party never has money available on one contract while owing on another, and a debt
only ever ends by being repaid or by a won chargeback.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.domain.errors import LedgerError
from engine.domain.ledger_legs import (
    CHARGEBACK,
    DEBT_OFFSET,
    PAID_OUT,
    PAYABLE,
    PAYABLE_PENDING,
    PAYOUT_IN_FLIGHT,
    Leg,
)
from engine.domain.policy.vocabulary import PARTIES
from engine.domain.rail import PartyBalance, debt_paid_from, debt_paid_to
from engine.store import ledger
from engine.store.models import Contract, PayableHold, Posting
from engine.store.models import PartyBalance as BalanceRow

COLUMNS = {PAYABLE_PENDING: "pending", PAYABLE: "available", PAYOUT_IN_FLIGHT: "in_flight"}
COLUMNS |= {PAID_OUT: "paid_out"}
"""The cached column of each party account (the clearing account always nets to zero)."""
_TABLE = cast(Table, BalanceRow.__table__)
_KEY = ("tenant", "party_id", "currency")
_UPSERTS: dict[str, Any] = {}


def party_of(contract: Contract, role: str | None) -> str | None:
    """The contract's party in `role`, for a party leg (None for a contract account)."""
    if role is None:
        return None
    if role not in PARTIES:
        raise LedgerError(f"a party account belongs to a buyer or a provider, not {role!r}")
    return contract.buyer_id if role == "buyer" else contract.provider_id


def role_of_party(contract: Contract, party_id: str | None) -> str | None:
    if party_id is None:
        return None
    return "buyer" if party_id == contract.buyer_id else "provider"


def _upsert(dialect: str) -> Any:
    """Add to a party's row, creating it at zero first: one statement that takes its lock."""
    statement = _UPSERTS.get(dialect)
    if statement is None:
        module: Any = postgresql if dialect == "postgresql" else sqlite
        values: dict[str, Any] = {n: bindparam(n) for n in (*_KEY, *COLUMNS.values())}
        inserted = module.insert(_TABLE).values(values)
        adds = {name: _TABLE.c[name] + inserted.excluded[name] for name in COLUMNS.values()}
        statement = inserted.on_conflict_do_update(index_elements=list(_KEY), set_=adds)
        statement = statement.returning(_TABLE.c.available, _TABLE.c.debt)
        _UPSERTS[dialect] = statement
    return statement


def count(
    session: Session,
    contract: Contract,
    kind: str,
    legs: Iterable[Leg],
    milestone_id: str | None,
    at: datetime,
    hold: timedelta | None,
    offset_debts: bool,
) -> list[str]:
    """Count one entry's party legs on the parties' rows, and hold what it credits; return
    the parties whose debts it lets `repay_debts` offset (once the entry is written)."""
    changes: dict[str, dict[str, int]] = {}
    for leg in legs:
        column = COLUMNS.get(leg.account)
        if leg.party is not None and column is not None:
            deltas = changes.setdefault(leg.party, dict.fromkeys(COLUMNS.values(), 0))
            deltas[column] += leg.amount
    dialect = session.get_bind().dialect.name
    owing = []
    for role, deltas in changes.items():
        party_id = party_of(contract, role)
        key = {"tenant": contract.tenant, "party_id": party_id, "currency": contract.currency}
        debt = session.execute(_upsert(dialect), key | deltas).one()[1]
        if hold is not None and deltas["pending"] > 0:
            hold_row = PayableHold(
                tenant=contract.tenant,
                party_id=party_id,
                contract_id=contract.id,
                milestone_id=milestone_id,
                amount=deltas["pending"],
                available_at=at + hold,
            )
            session.add(hold_row)
        credited = deltas["available"] > 0 and debt > 0
        if offset_debts and (credited or (kind == CHARGEBACK and deltas["available"] < 0)):
            owing.append(str(party_id))
    return owing


_PAYABLE_BY_CONTRACT = (
    select(Posting.contract_id, func.sum(Posting.amount))
    .join(Contract, Contract.id == Posting.contract_id)
    .where(
        Posting.party_id == bindparam("party_id"),
        Posting.account == PAYABLE,
        Contract.tenant == bindparam("tenant"),
        Contract.currency == bindparam("currency"),
    )
    .group_by(Posting.contract_id, Contract.created_at)
    .order_by(Contract.created_at, Posting.contract_id)
)


def payable_by_contract(session: Session, tenant: str, party_id: str, currency: str) -> dict:
    """The party's `payable` on each of their contracts (negative: a debt), oldest first."""
    params = {"tenant": tenant, "party_id": party_id, "currency": currency}
    return {
        contract: int(total) for contract, total in session.execute(_PAYABLE_BY_CONTRACT, params)
    }


def repay_debts(session: Session, tenant: str, party_id: str, currency: str, at: datetime) -> None:
    """Repay the party's debts, oldest first, from what they have on their other contracts."""
    payable = payable_by_contract(session, tenant, party_id, currency)
    debts = [[contract, -total] for contract, total in payable.items() if total < 0]
    credits = [[contract, total] for contract, total in payable.items() if total > 0]
    for debt in debts:
        while debt[1] and credits:
            credit = credits[0]
            amount = min(debt[1], credit[1])
            _repay(session, str(credit[0]), str(debt[0]), party_id, amount, at)
            debt[1] -= amount
            credit[1] -= amount
            if not credit[1]:
                credits.pop(0)
    session.execute(
        update(BalanceRow)
        .where(
            and_(
                *(
                    getattr(BalanceRow, k) == v
                    for k, v in zip(_KEY, (tenant, party_id, currency), strict=True)
                )
            )
        )
        .values(debt=sum(owed for _, owed in debts))
        .execution_options(synchronize_session=False)
    )


def _repay(
    session: Session, creditor: str, debtor: str, party_id: str, amount: int, at: datetime
) -> None:
    for contract_id, legs, memo in (
        (creditor, debt_paid_from, f"repays {party_id}'s debt on contract {debtor}"),
        (debtor, debt_paid_to, f"repaid from {party_id}'s credit on contract {creditor}"),
    ):
        contract = session.get(Contract, contract_id)
        assert contract is not None
        role = str(role_of_party(contract, party_id))
        ledger.post(
            session, contract, DEBT_OFFSET, legs(amount, role), at, memo=memo, offset_debts=False
        )


def balances_of(session: Session, tenant: str, party_id: str) -> list[PartyBalance]:
    """The party's balance in each currency they were ever owed money in."""
    rows = session.scalars(
        select(BalanceRow)
        .where(BalanceRow.tenant == tenant, BalanceRow.party_id == party_id)
        .order_by(BalanceRow.currency)
    )
    return [_balance(row) for row in rows]


def _balance(row: BalanceRow) -> PartyBalance:
    return PartyBalance(
        row.party_id, row.currency, row.pending, row.available, row.in_flight, row.paid_out
    )


def lock(session: Session, tenant: str, party_id: str, currency: str) -> PartyBalance | None:
    """The party's balance, its row locked (PostgreSQL; SQLite's writer holds the database)."""
    row = session.get(
        BalanceRow,
        (tenant, party_id, currency),
        with_for_update=session.get_bind().dialect.name == "postgresql",
        populate_existing=True,
    )
    return None if row is None else _balance(row)


def due(session: Session, tenant: str, currency: str | None = None) -> list[PartyBalance]:
    """Every party of the tenant with money available to pay out, largest first."""
    query = select(BalanceRow).where(BalanceRow.tenant == tenant, BalanceRow.available > 0)
    if currency is not None:
        query = query.where(BalanceRow.currency == currency)
    order = (BalanceRow.currency, BalanceRow.available.desc(), BalanceRow.party_id)
    return [_balance(row) for row in session.scalars(query.order_by(*order).limit(1000))]
