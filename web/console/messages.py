"""Refusals in the words staff read: amounts in major units with their currency.

The domain's errors carry structured fields (in minor units, for the API); the
console words the ones about money itself and keeps the rest as they are.
"""

from __future__ import annotations

from engine.domain.errors import InvalidAmountError, TrancheError
from engine.domain.money import Money


def staff_message(exc: TrancheError, currency: str) -> str:
    fields = exc.fields
    if isinstance(exc, InvalidAmountError) and {"escrow", "to_provider", "to_buyer"} <= set(fields):
        escrow, provider, buyer = (
            Money(int(fields[k] or 0), currency) for k in ("escrow", "to_provider", "to_buyer")
        )
        return (
            f"The two amounts must add up to the {escrow.format()} in escrow: "
            f"{provider.format()} to the provider + {buyer.format()} to the buyer "
            f"= {(provider + buyer).format()}."
        )
    return exc.message
