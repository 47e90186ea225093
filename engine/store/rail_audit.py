"""The rail's invariants, checked against the append-only ledger by `tranche audit verify`.

- every party's cached balance equals the sums of their postings, and their debt is what
  their contracts in debt owe (engine.store.balances);
- what moves a debt between contracts nets to zero for every party;
- the payouts in flight and paid out on the ledger are exactly those the payout records
  say (so none is paid twice, and none is forgotten);
- a funding's pending money is on the ledger exactly while the funding is pending.

Each finding is a sentence naming the record; the list is empty on a sound database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from engine.domain.ledger_legs import (
    DEBT_CLEARING,
    PAID_OUT,
    PAYABLE,
    PAYOUT_IN_FLIGHT,
    PENDING_FUNDING,
)
from engine.domain.rail import IN_FLIGHT, PAID, PENDING, REVERSED
from engine.store.balances import COLUMNS
from engine.store.models import Contract, Funding, PartyBalance, Payout, Posting

Key = tuple[str, str, str]


def rail_findings(session: Session) -> list[str]:
    return [*_balances(session), *_payouts(session), *_fundings(session)]


def _party_totals(session: Session) -> dict[Key, dict[str, int]]:
    rows = session.execute(
        select(
            Contract.tenant,
            Posting.party_id,
            Contract.currency,
            Posting.account,
            func.sum(Posting.amount),
        )
        .join(Contract, Contract.id == Posting.contract_id)
        .where(Posting.party_id.is_not(None))
        .group_by(Contract.tenant, Posting.party_id, Contract.currency, Posting.account)
    )
    totals: dict[Key, dict[str, int]] = defaultdict(dict)
    for tenant, party, currency, account, total in rows:
        totals[(tenant, str(party), currency)][account] = int(total)
    return totals


def _debts(session: Session) -> dict[Key, int]:
    per_contract = (
        select(
            Contract.tenant.label("tenant"),
            Posting.party_id.label("party"),
            Contract.currency.label("currency"),
            func.sum(Posting.amount).label("payable"),
        )
        .join(Contract, Contract.id == Posting.contract_id)
        .where(Posting.account == PAYABLE)
        .group_by(Contract.tenant, Posting.party_id, Contract.currency, Posting.contract_id)
        .subquery()
    )
    rows = session.execute(
        select(
            per_contract.c.tenant,
            per_contract.c.party,
            per_contract.c.currency,
            func.sum(case((per_contract.c.payable < 0, -per_contract.c.payable), else_=0)),
        ).group_by(per_contract.c.tenant, per_contract.c.party, per_contract.c.currency)
    )
    return {(t, p, c): int(d) for t, p, c, d in rows}


def _balances(session: Session) -> Iterator[str]:
    totals, debts = _party_totals(session), _debts(session)
    rows = {(r.tenant, r.party_id, r.currency): r for r in session.scalars(select(PartyBalance))}
    for key in sorted(set(totals) | set(rows)):
        sums, row = totals.get(key, {}), rows.get(key)
        name = f"party {key[1]} of tenant {key[0]} in {key[2]}"
        for account, column in COLUMNS.items():
            cached, posted = getattr(row, column) if row is not None else 0, sums.get(account, 0)
            if cached != posted:
                yield f"{name}: {column} is {cached} on its balance, {posted} by its postings"
        if row is not None and row.debt != debts.get(key, 0):
            yield f"{name}: debt is {row.debt} on its balance, {debts.get(key, 0)} by its contracts"
        if sums.get(DEBT_CLEARING, 0):
            yield f"{name}: repaid debts do not net to zero ({sums[DEBT_CLEARING]})"


def _payouts(session: Session) -> Iterator[str]:
    """The ledger's in-flight and paid-out money is exactly what the payout records say."""
    recorded: dict[Key, dict[str, int]] = defaultdict(lambda: {PAYOUT_IN_FLIGHT: 0, PAID_OUT: 0})
    for payout in session.scalars(select(Payout)):
        key = (payout.tenant, payout.party_id, payout.currency)
        if payout.status == IN_FLIGHT:
            recorded[key][PAYOUT_IN_FLIGHT] += payout.amount
        elif payout.status in (PAID, REVERSED):
            recorded[key][PAID_OUT] += payout.amount - payout.reversed_amount
    totals = _party_totals(session)
    for key in sorted(set(recorded) | set(totals)):
        for account in (PAYOUT_IN_FLIGHT, PAID_OUT):
            ledger = totals.get(key, {}).get(account, 0)
            said = recorded[key][account] if key in recorded else 0
            if ledger != said:
                yield (
                    f"party {key[1]} of tenant {key[0]} in {key[2]}: {account} is {ledger} on the "
                    f"ledger, {said} by the payout records"
                )


def _fundings(session: Session) -> Iterator[str]:
    """Money is pending on a milestone exactly while one of its fundings is pending."""
    pending: dict[str | None, int] = dict(
        session.execute(
            select(Funding.milestone_id, func.sum(Funding.amount))
            .where(Funding.status == PENDING)
            .group_by(Funding.milestone_id)
        ).all()
    )
    ledger: dict[str | None, int] = dict(
        session.execute(
            select(Posting.milestone_id, func.sum(Posting.amount))
            .where(Posting.account == PENDING_FUNDING)
            .group_by(Posting.milestone_id)
            .having(func.sum(Posting.amount) != 0)
        ).all()
    )
    for milestone_id in sorted(set(pending) | set(ledger), key=str):
        if pending.get(milestone_id, 0) != ledger.get(milestone_id, 0):
            yield (
                f"milestone {milestone_id}: {ledger.get(milestone_id, 0)} pending funding on the "
                f"ledger, {pending.get(milestone_id, 0)} by its pending fundings"
            )
