"""What both parties always see: agreed, funded, in escrow, paid to date, refunded, remaining.

Every figure is defined once, over the ledger's postings (`figures`). A contract's
figures are summed from its postings by one grouped query. A milestone's are read
from its own row, which keeps them so a command can answer without a query: that
is safe because the row is changed by the same call, in the same transaction, as
the postings it counts (engine.store.ledger.post), so both commit or neither does, and
`tranche audit verify` (`cached_mismatches`) recomputes every milestone's figures
from its postings and names any row that disagrees. Invariant 4:
funded = released + refunded + in escrow; paid = released + direct; remaining = agreed - paid.

A two-phase funding not yet confirmed by the rail is `pending_funding`, beside escrow and
never in it. Escrow the rail takes back by a chargeback went back to the buyer through the
card network, so it counts as refunded; `charged_back` is all the rail took back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.domain.ledger_legs import (
    BUYER_FUNDING,
    CHARGEBACK,
    DIRECT,
    ESCROW,
    PENDING_FUNDING,
    PLATFORM_FEES,
    RAIL_CHARGEBACKS,
)
from engine.domain.money import Money
from engine.domain.policy.vocabulary import HOLD, REFUND, RELEASE


@dataclass(frozen=True, slots=True)
class Summary:
    currency: str
    agreed: int
    funded: int
    in_escrow: int
    released: int
    direct_payments: int
    paid_to_date: int
    refunded: int
    fees: int
    remaining: int
    pending_funding: int = 0
    charged_back: int = 0

    @classmethod
    def of(
        cls,
        currency: str,
        agreed: int,
        *,
        funded: int,
        in_escrow: int,
        released: int,
        direct: int,
        refunded: int,
        fees: int,
        pending_funding: int = 0,
        charged_back: int = 0,
    ) -> Summary:
        """The figures from the money that moved; paid to date and remaining follow from it."""
        paid = released + direct
        remaining = agreed - paid
        return cls(
            currency,
            agreed,
            funded,
            in_escrow,
            released,
            direct,
            paid,
            refunded,
            fees,
            remaining,
            pending_funding,
            charged_back,
        )

    @classmethod
    def opening(cls, currency: str, agreed: int) -> Summary:
        """The figures of a contract or milestone created by this very command: no money yet."""
        return cls.of(
            currency, agreed, funded=0, in_escrow=0, released=0, direct=0, refunded=0, fees=0
        )

    def as_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies every field, and every response has one.
        return {name: getattr(self, name) for name in self.__slots__}

    def labelled(self) -> list[tuple[str, int]]:
        """Each figure a party reads, by its label, in the order they read them."""
        return [
            ("agreed", self.agreed),
            ("funded", self.funded),
            ("pending funding", self.pending_funding),
            ("in escrow", self.in_escrow),
            ("paid to date", self.paid_to_date),
            ("refunded", self.refunded),
            ("platform fees", self.fees),
            ("charged back", self.charged_back),
            ("remaining", self.remaining),
        ]

    def lines(self) -> list[str]:
        """Human-readable lines, amounts in the currency's own decimals (the rail's figures
        only when there is something to say)."""
        shown = [(label, v) for label, v in self.labelled() if v or label not in _RAIL_LINES]
        width = max(14, *(len(label) for label, _ in shown))
        return [f"{label:>{width}}: {Money(v, self.currency).format():>16}" for label, v in shown]


_RAIL_LINES = ("pending funding", "charged back")


def figures(currency: str, agreed: int, totals: Mapping[tuple[str, str], int]) -> Summary:
    """The figures from postings totalled by (account, entry kind): what each figure means."""
    escrow = {kind: total for (account, kind), total in totals.items() if account == ESCROW}
    return Summary.of(
        currency,
        agreed,
        funded=escrow.get(HOLD, 0),
        in_escrow=sum(escrow.values()),
        released=-escrow.get(RELEASE, 0),
        direct=-totals.get((BUYER_FUNDING, DIRECT), 0),
        refunded=-escrow.get(REFUND, 0) - escrow.get(CHARGEBACK, 0),
        fees=_account(totals, PLATFORM_FEES),
        pending_funding=_account(totals, PENDING_FUNDING),
        charged_back=_account(totals, RAIL_CHARGEBACKS),
    )


def _account(totals: Mapping[tuple[str, str], int], name: str) -> int:
    return sum(total for (account, _), total in totals.items() if account == name)


def milestone_summary(milestone: Any, currency: str) -> Summary:
    """A milestone's figures from its row, no query (a direct payment is never a milestone's)."""
    return Summary.of(
        currency,
        milestone.amount,
        funded=milestone.funded,
        in_escrow=milestone.escrow,
        released=milestone.released,
        direct=0,
        refunded=milestone.refunded,
        fees=milestone.fees,
        pending_funding=milestone.pending_funding,
        charged_back=milestone.charged_back,
    )


CACHED = (
    "funded",
    "in_escrow",
    "released",
    "refunded",
    "fees",
    "direct_payments",
    "pending_funding",
    "charged_back",
)
"""The figures a milestone's row gives; the others are arithmetic on these."""


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A milestone figure whose row disagrees with the milestone's postings."""

    milestone_id: str
    figure: str
    cached: int
    ledger: int

    def __str__(self) -> str:
        return (
            f"milestone {self.milestone_id}: {self.figure} is {self.cached} on its row, "
            f"{self.ledger} by its postings"
        )
