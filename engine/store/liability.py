"""Liability and aging as of an instant, read from the ledger (engine.domain.liability).

The figures as of T are the sums of the postings of every entry made at or before T.
Summing them from the start reads the whole ledger; instead each report reads the
figures *now* from the caches that the call writing the postings keeps in step with
them (each milestone's escrow and pending funding, each party's balance row:
engine.store.ledger, balances; `tranche audit verify` proves both equal the postings)
and takes away the postings of the entries made after T, found by their `created_at`
index. A month-end report run in the following days reads the caches and a few days of
postings, however long the ledger. Both parts are one statement, so they come from one
snapshot of the database even while commands commit.

Per party: a debt of one party is never netted against what another is owed, so each
party's net is taken before it is split into available (positive) and debt (negative).
Party ids are a tenant's own, so platform-wide figures still net per tenant and party.
Platform-wide figures leave out sandbox tenants (engine.domain.sandbox): their money is
pretend, and their clocks are not the platform's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, and_, case, func, literal, select, text, union_all
from sqlalchemy.orm import Session

from engine.domain.ledger_legs import (
    ESCROW,
    PAYABLE,
    PAYABLE_PENDING,
    PAYOUT_IN_FLIGHT,
    PENDING_FUNDING,
)
from engine.domain.liability import FIGURES, Credit, Liability
from engine.store.models import Contract, LedgerEntry, Milestone, PartyBalance, Posting
from engine.store.sandbox import live_only, tenant_scope

_P, _E = cast(Table, Posting.__table__), cast(Table, LedgerEntry.__table__)
_C, _M = cast(Table, Contract.__table__), cast(Table, Milestone.__table__)
_B = cast(Table, PartyBalance.__table__)
_PARTY = {PAYABLE_PENDING: "pending", PAYABLE: "available", PAYOUT_IN_FLIGHT: "in_flight"}
"""The party accounts that are money held for the party, and their balance row's column."""


def _undone(later: Any, account: str) -> Any:
    """What the postings after the instant moved on `account`, to take back from now."""
    return -func.sum(case((later.c.account == account, later.c.amount), else_=0))


def _postings(tenant: str | None, accounts: list[str], when: Any, by_time: bool = False) -> Any:
    """Postings on `accounts` of the entries `when` selects, of the tenant's contracts.

    `by_time` (SQLite, for the entries after an instant): the tenant is matched without
    its index, so that the entries' `created_at` index leads; else SQLite reads every
    posting of the tenant to keep the few made after the instant. PostgreSQL's planner
    weighs both itself, and misjudges the disguised match (it then reads them all)."""
    query = (
        select()
        .select_from(_P.join(_E, _E.c.id == _P.c.entry_id).join(_C, _C.c.id == _P.c.contract_id))
        .where(_P.c.account.in_(accounts), when)
    )
    if tenant is None:
        return query.where(live_only(_C.c.tenant))  # a sandbox's pretend money is no one's
    return query.where((_C.c.tenant.concat("") if by_time else _C.c.tenant) == tenant)


def _later(session: Session, tenant: str | None, as_of: datetime) -> Any:
    """The postings made after the instant on the accounts the reports read, summed per
    tenant, party, currency and account: read once, for the parties and the escrow.

    PostgreSQL would spend more compiling this one statement (JIT) than running it on a
    recent instant: not here."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
    key = (_C.c.tenant, _P.c.party_id, _P.c.currency, _P.c.account)
    accounts = [*_PARTY, ESCROW, PENDING_FUNDING]
    return (
        _postings(tenant, accounts, _E.c.created_at > as_of, dialect == "sqlite")
        .add_columns(*key, func.sum(_P.c.amount).label("amount"))
        .group_by(*key)
        .cte("later")
    )


def _per_party(later: Any, tenant: str | None) -> Any:
    """Each party's pending, available and in-flight sums as of the instant: the balance
    row less the postings after it."""
    now = select(_B.c.tenant, _B.c.party_id, _B.c.currency, *(_B.c[c] for c in _PARTY.values()))
    now = now.where(tenant_scope(_B.c.tenant, tenant))
    key = (later.c.tenant, later.c.party_id, later.c.currency)
    taken = (
        select(
            *key,
            *(_undone(later, a).label(c) for a, c in _PARTY.items()),
        )
        .where(later.c.party_id.is_not(None))
        .group_by(*key)
    )
    both = union_all(now, taken).subquery("parties")
    key = (both.c.tenant, both.c.party_id, both.c.currency)
    sums = (func.sum(both.c[c]).label(c) for c in _PARTY.values())
    return select(*key, *sums).group_by(*key).subquery("per_party")


def _lines(query: Select[Any], columns: dict[str, Any], currency: Any) -> Select[Any]:
    """One branch of the report: `columns` (the other figures zero) per currency."""
    figures = (columns.get(name, literal(0)).label(name) for name in FIGURES)
    return query.add_columns(currency.label("currency"), *figures).group_by(currency)


def liability(session: Session, as_of: datetime, tenant: str | None) -> list[Liability]:
    """What the tenant (every tenant: None) held for others per currency as of `as_of`."""
    later = _later(session, tenant, as_of)
    party = _per_party(later, tenant)
    positive = case((party.c.available > 0, party.c.available), else_=0)
    negative = case((party.c.available < 0, -party.c.available), else_=0)
    parties = _lines(
        select().select_from(party),
        {
            "held": func.sum(party.c.pending),
            "available": func.sum(positive),
            "in_flight": func.sum(party.c.in_flight),
            "debts": func.sum(negative),
        },
        party.c.currency,
    )
    milestones = select().select_from(_M.join(_C, _C.c.id == _M.c.contract_id))
    milestones = milestones.where(tenant_scope(_C.c.tenant, tenant))
    escrow_now = _lines(
        milestones,
        {"in_escrow": func.sum(_M.c.escrow), "pending_funding": func.sum(_M.c.pending_funding)},
        _C.c.currency,
    )
    escrow_later = _lines(
        select().select_from(later),
        {
            name: _undone(later, account)
            for name, account in (("in_escrow", ESCROW), ("pending_funding", PENDING_FUNDING))
        },
        later.c.currency,
    )
    lines = union_all(parties, escrow_now, escrow_later).subquery("lines")
    report = select(lines.c.currency, *(func.sum(lines.c[n]) for n in FIGURES))
    rows = session.execute(report.group_by(lines.c.currency).order_by(lines.c.currency))
    found = [Liability(row[0], *(int(v or 0) for v in row[1:])) for row in rows]
    return [line for line in found if any(line.as_dict()[n] for n in FIGURES)]


def owed_credits(session: Session, as_of: datetime, tenant: str | None) -> list[Credit]:
    """The credits each party is still owed as of `as_of`, first in, first out.

    A party's credits are the instants at which their held and available money grew, net
    (a hold maturing, or a debt moved between their contracts, nets to nothing); what they
    are owed (held + available, when positive) is their newest credits, the last one
    counted only in part."""
    party = _per_party(_later(session, tenant, as_of), tenant)
    owed = party.c.pending + party.c.available
    owed_now = (
        select(party.c.tenant, party.c.party_id, party.c.currency, owed.label("owed"))
        .where(owed > 0)
        .subquery("owed")
    )
    net = func.sum(_P.c.amount)
    credits = (
        _postings(tenant, [PAYABLE, PAYABLE_PENDING], _E.c.created_at <= as_of)
        .join(
            owed_now,
            and_(
                owed_now.c.tenant == _C.c.tenant,
                owed_now.c.party_id == _P.c.party_id,
                owed_now.c.currency == _P.c.currency,
            ),
        )
        .add_columns(_C.c.tenant, _P.c.party_id, _P.c.currency, owed_now.c.owed)
        .add_columns(_E.c.created_at, net.label("amount"))
        .group_by(_C.c.tenant, _P.c.party_id, _P.c.currency, owed_now.c.owed, _E.c.created_at)
        .having(net > 0)
        .subquery("credits")
    )
    key = (credits.c.tenant, credits.c.party_id, credits.c.currency)
    newer = func.sum(credits.c.amount).over(
        partition_by=key, order_by=credits.c.created_at.desc(), rows=(None, 0)
    )
    running = select(credits, newer.label("newer")).subquery("running")
    before = running.c.newer - running.c.amount  # owed by credits newer than this one
    portion = case(
        (running.c.newer <= running.c.owed, running.c.amount), else_=running.c.owed - before
    )
    rows = session.execute(
        select(running.c.tenant, running.c.party_id, running.c.currency)
        .add_columns(running.c.created_at, portion)
        .where(before < running.c.owed)
        .order_by(running.c.tenant, running.c.currency, running.c.party_id, running.c.created_at)
    )
    return [
        Credit(owner, party_id, currency, at, int(amount))
        for owner, party_id, currency, at, amount in rows
    ]
