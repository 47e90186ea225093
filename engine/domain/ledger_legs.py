"""The ledger's accounts and the balanced legs of each money movement: pure, no database.

Design: an *entry* is one money movement; its *postings* are signed amounts on
accounts, and they always sum to zero (invariant 2). `decide` computes the legs
of every movement it decides; the store writes them (engine.store.ledger).

Accounts of a contract (and of one milestone, where the posting names it):

- ``buyer_funding``    money the buyer paid in (goes negative as the buyer pays)
- ``buyer_pending``    a two-phase funding opened and not yet confirmed by the rail
- ``pending_funding``  its counterpart: shown beside escrow, never counted in it
- ``escrow``           held for one milestone
- ``platform_fees``    the platform's fee on payments to the provider
- ``rail_chargebacks`` what the payment rail took back after a charge (positive)
- ``platform_losses``  goes negative by what a chargeback cost the platform

Accounts of a party (the posting names the party too; the balance of a party is the
sum over all its contracts of the tenant, per currency):

- ``payable_pending``  owed, in the policy's security hold after a release
- ``payable``          owed and available to pay out; negative is a debt
- ``payout_in_flight`` a payout or refund recorded, not yet confirmed by the rail
- ``paid_out``         confirmed by the rail as paid to the party
- ``debt_clearing``    moves a debt from one contract to the credit that repays it on
                       another; it sums to zero over the party's contracts

So for every party and currency: owed = paid out + payable + pending + in flight.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.domain.money import share
from engine.domain.policy.vocabulary import HOLD, REFUND, RELEASE, Movement

BUYER_FUNDING = "buyer_funding"
BUYER_PENDING = "buyer_pending"
PENDING_FUNDING = "pending_funding"
ESCROW = "escrow"
PLATFORM_FEES = "platform_fees"
RAIL_CHARGEBACKS = "rail_chargebacks"
PLATFORM_LOSSES = "platform_losses"
PAYABLE_PENDING = "payable_pending"
PAYABLE = "payable"
PAYOUT_IN_FLIGHT = "payout_in_flight"
PAID_OUT = "paid_out"
DEBT_CLEARING = "debt_clearing"

DIRECT = "direct"
"""Entry kind of a payment from buyer to provider outside any milestone."""
FUNDING_OPENED, FUNDING_CLOSED = "funding_opened", "funding_closed"
"""Entry kinds of a two-phase funding: opened, then closed exactly once (voided, or
posted beside the hold that funds the milestone)."""
MATURED = "matured"
CHARGEBACK = "chargeback"
PAYOUT, PAYOUT_PAID, PAYOUT_FAILED, PAYOUT_REVERSED = (
    "payout",
    "payout_paid",
    "payout_failed",
    "payout_reversed",
)
DEBT_OFFSET = "debt_offset"


@dataclass(frozen=True, slots=True)
class Leg:
    """A signed amount on an account; `party` names the role ("buyer", "provider") whose
    account it is, for a party account."""

    account: str
    amount: int
    party: str | None = None


def legs_for(movement: Movement, fee_bps: int, held: bool = False) -> list[Leg]:
    """The balanced legs of one movement; fees come out of the provider's side.

    What the provider is paid is owed to them (`payable`), or in the policy's security
    hold first (`held`); what is refunded is owed to the buyer.
    """
    amount = movement.amount
    if movement.kind == HOLD:
        return [Leg(BUYER_FUNDING, -amount), Leg(ESCROW, amount)]
    if movement.kind == REFUND:
        return [Leg(ESCROW, -amount), Leg(PAYABLE, amount, "buyer")]
    fee = share(amount, fee_bps)
    source = Leg(ESCROW, -amount) if movement.kind == RELEASE else None
    return [
        source or Leg(BUYER_FUNDING, -amount),
        Leg(PAYABLE_PENDING if held else PAYABLE, amount - fee, "provider"),
        *([Leg(PLATFORM_FEES, fee)] if fee else []),
    ]
