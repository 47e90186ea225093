"""The ledger's accounts and the balanced legs of each money movement: pure, no database.

Design: an *entry* is one money movement; its *postings* are signed amounts on
accounts, and they always sum to zero (invariant 2). `decide` computes the legs
of every movement it decides; the store writes them (engine.store.ledger).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.domain.money import share
from engine.domain.policy.vocabulary import HOLD, REFUND, RELEASE, Movement

BUYER_FUNDING = "buyer_funding"
ESCROW = "escrow"
PROVIDER_PAYABLE = "provider_payable"
BUYER_REFUNDS = "buyer_refunds"
PLATFORM_FEES = "platform_fees"
DIRECT = "direct"
"""Entry kind of a payment from buyer to provider outside any milestone."""


@dataclass(frozen=True, slots=True)
class Leg:
    account: str
    amount: int


def legs_for(movement: Movement, fee_bps: int) -> list[Leg]:
    """The balanced legs of one movement; fees come out of the provider's side."""
    amount = movement.amount
    if movement.kind == HOLD:
        return [Leg(BUYER_FUNDING, -amount), Leg(ESCROW, amount)]
    if movement.kind == REFUND:
        return [Leg(ESCROW, -amount), Leg(BUYER_REFUNDS, amount)]
    fee = share(amount, fee_bps)
    source = Leg(ESCROW, -amount) if movement.kind == RELEASE else None
    return [
        source or Leg(BUYER_FUNDING, -amount),
        Leg(PROVIDER_PAYABLE, amount - fee),
        *([Leg(PLATFORM_FEES, fee)] if fee else []),
    ]
