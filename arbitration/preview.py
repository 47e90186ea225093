"""What a ruling would post, before anyone commits it: per party, the fee, and the net.

Worked out by the engine's own `decide`, the function that commits the ruling later:
the transition the split takes, its movements and each movement's ledger legs with the
policy's platform fee, refused exactly as the ruling would be (a split that does not
sum, a respondent not yet heard, a case no longer live). Nothing is written; the
confirmation page shows this, and the ruling it confirms is checked against the same
case version when it is committed.
"""

from __future__ import annotations

from dataclasses import dataclass

from arbitration.disputes import load
from arbitration.settings import Settings
from engine.domain.decision import EventArgs, decide
from engine.domain.ledger_legs import PAYABLE, PAYABLE_PENDING, PLATFORM_FEES
from engine.domain.policy.vocabulary import check_split
from engine.service.milestones import milestone_policy, snapshot_of
from engine.service.uow import UnitOfWork
from engine.store.models import Milestone


@dataclass(frozen=True, slots=True)
class Preview:
    dispute_id: str
    version: int
    currency: str
    escrow: int
    to_provider: int
    to_buyer: int
    provider_net: int
    """What the provider is owed after the platform fee."""
    fee: int
    buyer_refund: int
    to_state: str
    needs_second: bool
    buyer_id: str
    provider_id: str


def preview_ruling(
    uow: UnitOfWork, dispute_id: str, to_provider: int, to_buyer: int, settings: Settings
) -> Preview:
    """The postings `rule` would make for this split now (refused as the ruling would be)."""
    dispute = load(uow, dispute_id)
    milestone = uow.session.get(Milestone, dispute.milestone_id)
    assert milestone is not None
    to_provider, to_buyer = check_split(to_provider, to_buyer, milestone.escrow)
    args = EventArgs(to_provider=to_provider, to_buyer=to_buyer, case_id=dispute.id)
    decision = decide(
        milestone_policy(uow, milestone),
        snapshot_of(uow, milestone),
        "rule",
        "staff",
        args,
        uow.clock.now(),
    )
    totals = {"provider": 0, PLATFORM_FEES: 0, "buyer": 0}
    for posting in decision.postings:
        for leg in posting.legs:
            if leg.account in (PAYABLE, PAYABLE_PENDING) and leg.party is not None:
                totals[leg.party] += leg.amount
            elif leg.account == PLATFORM_FEES:
                totals[PLATFORM_FEES] += leg.amount
    return Preview(
        dispute_id=dispute.id,
        version=dispute.version,
        currency=dispute.currency,
        escrow=milestone.escrow,
        to_provider=to_provider,
        to_buyer=to_buyer,
        provider_net=totals["provider"],
        fee=totals[PLATFORM_FEES],
        buyer_refund=totals["buyer"],
        to_state=decision.target,
        needs_second=settings.needs_second(milestone.escrow, dispute.currency),
        buyer_id=dispute.buyer_id,
        provider_id=dispute.provider_id,
    )
