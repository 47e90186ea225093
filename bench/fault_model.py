"""The fault-injection harness's own model of what the server acknowledged.

An oracle written apart from the engine: the fixed-price policy's money table, again,
by hand. Each acknowledged (2xx) answer is applied here once; at the end a contract's
figures, its milestones' states and figures, and its events in order must be exactly
what this model says. A key that acted twice, an acknowledged command that was lost, or
money moved twice shows as a difference.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

FEE_BPS = 500
"""fixed-price's platform fee, taken from every payment to the provider."""

TRANSITIONS: dict[str, tuple[str, str | None]] = {
    "fund": ("funded", "hold"),
    "cancel": ("cancelled", None),
    "submit": ("submitted", None),
    "release": ("same", "release"),
    "approve": ("approved", "release_rest"),
    "request_changes": ("funded", None),
    "request_refund": ("refund_requested", None),
    "accept_refund": ("refunded", "refund_rest"),
    "withdraw_refund_request": ("funded", None),
    "refund": ("refunded", "refund_rest"),
}
"""Milestone event -> (state after it, money it moves), as policies/fixed-price.yaml says."""

Step = tuple[Any, ...]
SCENARIOS: dict[str, list[Step]] = {
    "approved": [("fire", "fund", "buyer"), ("fire", "submit", "provider"),
                 ("fire", "approve", "buyer")],
    "partial releases": [
        ("fire", "fund", "buyer"), ("fire", "release", "buyer", 3),
        ("fire", "submit", "provider"), ("fire", "request_changes", "buyer"),
        ("fire", "submit", "provider"), ("fire", "release", "buyer", 2),
        ("fire", "approve", "buyer"),
    ],
    "refund accepted": [("fire", "fund", "buyer"), ("fire", "request_refund", "buyer"),
                        ("fire", "accept_refund", "provider")],
    "refund withdrawn": [
        ("fire", "fund", "buyer"), ("fire", "request_refund", "buyer"),
        ("fire", "withdraw_refund_request", "buyer"), ("fire", "submit", "provider"),
        ("fire", "approve", "buyer"),
    ],
    "refund lapses on delivery": [
        ("fire", "fund", "buyer"), ("fire", "request_refund", "buyer"),
        ("fire", "submit", "provider"), ("fire", "approve", "buyer"),
    ],
    "provider refunds": [("fire", "fund", "buyer"), ("fire", "submit", "provider"),
                         ("fire", "refund", "provider")],
    "cancelled": [("fire", "cancel", "provider")],
    "settled": [
        ("fire", "fund", "buyer"), ("fire", "submit", "provider"), ("dispute", "buyer"),
        ("offer", "provider", 6000), ("accept", "buyer"),
    ],
    "conceded to the provider": [
        ("fire", "fund", "buyer"), ("dispute", "provider"), ("offer", "buyer", 10_000),
        ("accept", "provider"),
    ],
    "conceded to the buyer": [
        ("fire", "fund", "buyer"), ("fire", "release", "buyer", 4), ("dispute", "buyer"),
        ("offer", "provider", 0), ("accept", "buyer"),
    ],
    "dispute withdrawn": [
        ("fire", "fund", "buyer"), ("fire", "submit", "provider"), ("dispute", "buyer"),
        ("withdraw", "buyer"), ("fire", "approve", "buyer"),
    ],
    "approve races refund": [
        ("fire", "fund", "buyer"), ("race", ("approve", "buyer"), ("refund", "provider")),
    ],
    "one key sent twice at once": [
        ("fire", "fund", "buyer"), ("twice", "release", "buyer", 2),
        ("twice", "approve", "buyer"),
    ],
    "two-phase funding confirmed twice at once, paid out, charged back": [
        ("rail fund",), ("confirm twice",), ("fire", "submit", "provider"),
        ("fire", "approve", "buyer"), ("payout",), ("chargeback",),
    ],
    "two-phase funding fails, then funded on the buyer's word": [
        ("rail fund",), ("fail",), ("fire", "fund", "buyer"), ("fire", "submit", "provider"),
        ("fire", "refund", "provider"),
    ],
    "charged back while in escrow": [("charged fund",), ("chargeback",)],
}  # fmt: skip
"""Every kind of milestone lifecycle the harness drives; a number after `release` divides
the escrow held then, an offer's number is the provider's share in basis points. The
rail's steps: a two-phase funding opened, confirmed (by two connections at once: exactly
one may) or failed; a funding confirmed first; everything due to the provider paid out;
the whole funding charged back."""

CONTRACT_STEPS: list[Step] = [
    ("pay",),
    ("request", "pay"),
    ("request", "decline"),
    ("request", "pay twice"),
]
"""Contract-level money: a direct payment, a payment request paid or declined, and a
request paid from two connections at once with two keys (exactly one may pay)."""


def fee(amount: int) -> int:
    return amount * FEE_BPS // 10_000


@dataclass
class MilestoneModel:
    id: str
    amount: int
    steps: list[Step]
    state: str = "proposed"
    funded: int = 0
    escrow: int = 0
    released: int = 0
    refunded: int = 0
    fees: int = 0
    previous: str | None = None
    dispute: str | None = None
    offer: tuple[str, int, int] | None = None
    """(offer id, to provider, to buyer) of the open dispute's offer."""
    pending: int = 0
    funding: str | None = None  # the pending funding's id
    reference: str | None = None  # the rail reference that funded it
    charged_back: int = 0
    reclaimed: int = 0  # what the chargebacks took back from escrow
    borne: int = 0  # what the provider bore of the chargebacks

    def charge_back(self) -> int:
        """The whole funding taken back: escrow first, then the provider, up to what they
        were paid from it; the platform the rest. What the provider bore is returned."""
        amount = self.amount
        from_escrow = min(amount, self.escrow)
        borne = min(amount - from_escrow, self.released - self.fees - self.borne)
        self.escrow -= from_escrow
        self.refunded += from_escrow
        self.reclaimed += from_escrow
        self.charged_back += amount
        self.borne += borne
        return borne

    def release(self, amount: int) -> None:
        self.escrow -= amount
        self.released += amount
        self.fees += fee(amount)

    def refund(self, amount: int) -> None:
        self.escrow -= amount
        self.refunded += amount

    def fire(self, event: str, amount: int | None = None) -> None:
        target, money = TRANSITIONS[event]
        if money == "hold":
            self.funded += self.amount
            self.escrow += self.amount
        elif money == "release":
            self.release(amount or 0)
        elif money == "release_rest":
            self.release(self.escrow)
        elif money == "refund_rest":
            self.refund(self.escrow)
        if target != "same":
            self.state = target

    def settle(self, to_provider: int, to_buyer: int) -> None:
        self.release(to_provider)
        self.refund(to_buyer)
        self.state = "refunded" if not to_provider else "approved" if not to_buyer else "settled"

    def figures(self) -> dict[str, int]:
        return {
            "funded": self.funded,
            "in_escrow": self.escrow,
            "released": self.released,
            "refunded": self.refunded,
            "fees": self.fees,
            "pending_funding": self.pending,
            "charged_back": self.charged_back,
        }


@dataclass
class ContractModel:
    id: str
    buyer: str
    provider: str
    agreed: int
    milestones: list[MilestoneModel]
    steps: list[Step]
    direct: int = 0
    direct_fees: int = 0
    paid_out: int = 0
    events: list[tuple[str, str | None]] = field(default_factory=list)
    """(type, milestone id) of every event the acknowledged answers imply, in order."""
    diverged: str | None = None

    def pay(self, amount: int) -> None:
        self.direct += amount
        self.direct_fees += fee(amount)
        self.events.append(("payment_made", None))

    def figures(self) -> dict[str, int]:
        released = sum(m.released for m in self.milestones)
        paid = released + self.direct
        return {
            "agreed": self.agreed,
            "funded": sum(m.funded for m in self.milestones),
            "in_escrow": sum(m.escrow for m in self.milestones),
            "released": released,
            "direct_payments": self.direct,
            "paid_to_date": paid,
            "refunded": sum(m.refunded for m in self.milestones),
            "fees": sum(m.fees for m in self.milestones) + self.direct_fees,
            "remaining": self.agreed - paid,
            "pending_funding": sum(m.pending for m in self.milestones),
            "charged_back": sum(m.charged_back for m in self.milestones),
        }

    def owed(self) -> dict[str, int]:
        """What Tranche owes each party: the provider what they were paid net of fees, less
        what chargebacks took from them; the buyer their refunds, less what the card network
        already gave back from escrow."""
        ms = self.milestones
        return {
            self.provider: sum(m.released - m.fees - m.borne for m in ms)
            + self.direct
            - self.direct_fees,
            self.buyer: sum(m.refunded - m.reclaimed for m in ms),
        }


Plan = tuple[list[tuple[int, list[Step]]], list[Step]]
"""A contract's plan: (amount, lifecycle) per milestone, and its contract-level steps."""


def plan(rng: random.Random, milestones: int) -> Plan:
    """A contract's plan: (amount, lifecycle) per milestone, and its contract-level steps."""
    kinds = list(SCENARIOS)
    lifecycles = [
        (rng.randrange(50, 500) * 100, list(SCENARIOS[rng.choice(kinds)]))
        for _ in range(milestones)
    ]
    return lifecycles, rng.sample(CONTRACT_STEPS, rng.randrange(0, 3))
