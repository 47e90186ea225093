"""Money in django-hordak's double-entry ledger: one Transaction per movement, its Legs
balanced (hordak's deferred PostgreSQL trigger refuses a transaction that is not).

Four accounts, made once by `manage.py peer_setup`: what buyers paid in (an asset), escrow
and what is owed to providers (liabilities), the platform's fees (income). Amounts are
integer minor units (HORDAK_DECIMAL_PLACES = 0), as Tranche's postings; a Transaction's
description names the milestone and a provider's Leg the provider.
"""

from datetime import datetime

from djmoney.money import Money
from hordak.models import Account, AccountType, Leg, Transaction

from .models import FEE_BPS

CHART = {  # code: (name, type)
    "1": ("Buyer funding", AccountType.asset),
    "2": ("Escrow", AccountType.liability),
    "3": ("Owed to providers", AccountType.liability),
    "4": ("Platform fees", AccountType.income),
}
BUYER_FUNDING, ESCROW, PAYABLE, FEES = CHART
_ids: dict[str, int] = {}


def account(code: str) -> int:
    """An account's id, read once per process (the chart never changes)."""
    if not _ids:
        _ids.update(Account.objects.filter(code__in=CHART).values_list("code", "id"))
    return _ids[code]


def fee_of(amount: int) -> int:
    """The platform's share of a payment to the provider, rounded down (Tranche's `share`)."""
    return amount * FEE_BPS // 10_000


def legs_for(kind: str, amount: int, provider: str) -> list[tuple[str, str, int, str]]:
    """(account, debit or credit, amount, description) of one movement; the fee comes out of
    the provider's side, rounded down, as Tranche's `share`."""
    if kind == "hold":
        return [(BUYER_FUNDING, "debit", amount, ""), (ESCROW, "credit", amount, "")]
    fee = fee_of(amount)
    legs = [(ESCROW, "debit", amount, ""), (PAYABLE, "credit", amount - fee, provider)]
    return legs + ([(FEES, "credit", fee, "")] if fee else [])


def post(kind: str, amount: int, currency: str, milestone_id: str, provider: str, now: datetime):
    """Write the movement; return the hordak Transaction's id."""
    entry = Transaction.objects.create(
        timestamp=now, date=now.date(), description=f"{kind} {milestone_id}"
    )
    Leg.objects.bulk_create(
        Leg(
            transaction=entry,
            account_id=account(code),
            description=description,
            **{side: Money(value, currency)},
        )
        for code, side, value, description in legs_for(kind, amount, provider)
    )
    return entry.id
