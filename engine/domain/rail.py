"""Money at the payment rail's boundary: fundings, payouts and chargebacks, as pure rules.

Tranche never moves money itself; the integrator's rail does, and reports it. These
rules say what each report may do and which balanced legs record it (see
engine.domain.ledger_legs for the accounts). No database, no framework.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.domain.errors import FundingMismatchError, InsufficientBalanceError
from engine.domain.ledger_legs import (
    BUYER_PENDING,
    DEBT_CLEARING,
    ESCROW,
    PAID_OUT,
    PAYABLE,
    PAYABLE_PENDING,
    PAYOUT_IN_FLIGHT,
    PENDING_FUNDING,
    PLATFORM_LOSSES,
    RAIL_CHARGEBACKS,
    Leg,
)
from engine.domain.policy.document import (
    CHARGEBACK_SOURCES,
    PLATFORM,
    PROVIDER_DEBT,
    PROVIDER_UNPAID,
)

PENDING, CONFIRMED, FAILED, EXPIRED = "pending", "confirmed", "failed", "expired"
"""A funding's statuses: opened and awaiting the rail, then exactly one of the others."""
IN_FLIGHT, PAID, REVERSED = "in_flight", "paid", "reversed"
"""A payout's statuses (and FAILED): recorded, then paid or failed; a paid one may be
reversed by the rail afterwards (a transfer reversal)."""
BOOKED, WON, LOST = "booked", "won", "lost"
"""A chargeback's statuses: booked when reported, then won (reversed) or lost."""


def check_charge(expected: int, currency: str, amount: int, charged_currency: str) -> None:
    """The rail charged exactly what the milestone holds when funded, in its currency."""
    if charged_currency.upper() != currency or amount != expected:
        raise FundingMismatchError(
            f"the rail charged {amount} {charged_currency.upper()}, "
            f"but the milestone is funded with {expected} {currency}",
            expected_amount=expected,
            expected_currency=currency,
            amount=amount,
            currency=charged_currency.upper(),
        )


def funding_opened(amount: int) -> list[Leg]:
    return [Leg(BUYER_PENDING, -amount), Leg(PENDING_FUNDING, amount)]


def funding_closed(amount: int) -> list[Leg]:
    """A pending funding leaves `pending_funding`: voided, or posted with its hold."""
    return [Leg(PENDING_FUNDING, -amount), Leg(BUYER_PENDING, amount)]


def matured(amount: int, party: str) -> list[Leg]:
    """The security hold ran out: the amount becomes available to pay out."""
    return [Leg(PAYABLE_PENDING, -amount, party), Leg(PAYABLE, amount, party)]


def payout_recorded(amount: int, party: str, available: int) -> list[Leg]:
    """A payout or refund never takes more than is available on the contract."""
    if amount > available:
        raise InsufficientBalanceError(
            f"cannot pay out {amount}: {max(available, 0)} is available on this contract",
            amount=amount,
            available=max(available, 0),
        )
    return [Leg(PAYABLE, -amount, party), Leg(PAYOUT_IN_FLIGHT, amount, party)]


def payout_paid(amount: int, party: str) -> list[Leg]:
    return [Leg(PAYOUT_IN_FLIGHT, -amount, party), Leg(PAID_OUT, amount, party)]


def payout_failed(amount: int, party: str) -> list[Leg]:
    """A failed payout returns to what is available."""
    return [Leg(PAYOUT_IN_FLIGHT, -amount, party), Leg(PAYABLE, amount, party)]


def payout_reversed(amount: int, party: str) -> list[Leg]:
    """The rail took a paid payout back from the party: it is owed to them again."""
    return [Leg(PAID_OUT, -amount, party), Leg(PAYABLE, amount, party)]


def debt_paid_from(amount: int, party: str) -> list[Leg]:
    """On the contract whose credit repays a debt: the credit leaves for the debt."""
    return [Leg(PAYABLE, -amount, party), Leg(DEBT_CLEARING, amount, party)]


def debt_paid_to(amount: int, party: str) -> list[Leg]:
    """On the contract that holds the debt: the debt is repaid."""
    return [Leg(DEBT_CLEARING, -amount, party), Leg(PAYABLE, amount, party)]


@dataclass(frozen=True, slots=True)
class ChargebackSplit:
    """Who bore a chargeback, in minor units; the parts sum to the amount taken back."""

    amount: int
    from_escrow: int = 0
    from_available: int = 0
    from_pending: int = 0
    provider_debt: int = 0
    platform_loss: int = 0

    @property
    def from_provider(self) -> int:
        return self.from_available + self.from_pending + self.provider_debt

    def legs(self) -> list[Leg]:
        return [
            Leg(ESCROW, -self.from_escrow),
            Leg(PAYABLE, -(self.from_available + self.provider_debt), "provider"),
            Leg(PAYABLE_PENDING, -self.from_pending, "provider"),
            Leg(PLATFORM_LOSSES, -self.platform_loss),
            Leg(RAIL_CHARGEBACKS, self.amount),
        ]

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


def split_chargeback(
    amount: int,
    *,
    escrow: int,
    available: int,
    pending: int,
    provider_cap: int,
    order: tuple[str, ...] = CHARGEBACK_SOURCES,
) -> ChargebackSplit:
    """Book `amount` taken back from a funding in the stated order.

    The escrow still held for the funding goes back first (the buyer has their money
    back, through the card network). Then `order`: the provider's not-yet-paid-out
    balance on the contract (`available` first, then `pending`), a debt of the provider,
    the platform. The provider never bears more than `provider_cap`: what they were paid
    from this funding, net of fees, less what earlier chargebacks on it took from them.
    """
    rest = amount
    from_escrow = min(rest, max(escrow, 0))
    rest -= from_escrow
    cap = max(provider_cap, 0)
    parts = dict.fromkeys(("from_available", "from_pending", "provider_debt", "platform_loss"), 0)
    for source in order:
        if source == PROVIDER_UNPAID:
            for name, held in (("from_available", available), ("from_pending", pending)):
                take = min(rest, cap, max(held, 0))
                parts[name], rest, cap = take, rest - take, cap - take
        elif source == PROVIDER_DEBT:
            take = min(rest, cap)
            parts["provider_debt"], rest, cap = take, rest - take, cap - take
        elif source == PLATFORM:
            parts["platform_loss"], rest = rest, 0
    parts["platform_loss"] += rest  # the platform bears whatever the order left
    return ChargebackSplit(amount, from_escrow, **parts)


@dataclass(frozen=True, slots=True)
class PartyBalance:
    """What Tranche owes one party in one currency, over all their contracts of a tenant."""

    party_id: str
    currency: str
    pending: int = 0
    available: int = 0
    in_flight: int = 0
    paid_out: int = 0

    @property
    def owed(self) -> int:
        return self.pending + self.available + self.in_flight + self.paid_out

    @property
    def debt(self) -> int:
        return max(0, -self.available)

    @property
    def due(self) -> int:
        return max(0, self.available)

    def as_dict(self) -> dict[str, object]:
        return {
            "party_id": self.party_id,
            "currency": self.currency,
            "pending": self.pending,
            "available": self.available,
            "in_flight": self.in_flight,
            "paid_out": self.paid_out,
            "owed": self.owed,
            "debt": self.debt,
            "due": self.due,
        }
