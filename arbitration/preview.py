"""What a ruling would post, before anyone commits it: per party, the fee, and the net.

Worked out by the engine's own pieces, never a copy of them: the policy's machine
picks the `rule` transition the split takes, the transition's effects give the
movements, and the ledger's `legs_for` gives each movement's postings with the
policy's platform fee. Nothing is written; the confirmation page shows this, and the
ruling it confirms is checked against the same case version when it is committed.
"""

from __future__ import annotations

from dataclasses import dataclass

from arbitration.disputes import check_split, load
from arbitration.settings import Settings
from engine.ledger import BUYER_REFUNDS, PLATFORM_FEES, PROVIDER_PAYABLE, legs_for
from engine.machine import MilestoneMachine
from engine.milestones import EventArgs, facts_for, milestone_policy
from engine.models import Milestone
from engine.rules import apply_effects
from engine.uow import UnitOfWork


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
    policy = milestone_policy(uow, milestone)
    facts = facts_for(
        milestone,
        policy,
        "staff",
        milestone.escrow,
        EventArgs(to_provider=to_provider, to_buyer=to_buyer),
    )
    spec, target = MilestoneMachine(policy, milestone).apply("rule", facts)
    movements, _ = apply_effects(((r.name, r.kwargs) for r in spec.effects), facts)
    totals = {PROVIDER_PAYABLE: 0, PLATFORM_FEES: 0, BUYER_REFUNDS: 0}
    for movement in movements:
        for leg in legs_for(movement, policy.platform_fee_bps):
            if leg.account in totals:
                totals[leg.account] += leg.amount
    return Preview(
        dispute_id=dispute.id,
        version=dispute.version,
        currency=dispute.currency,
        escrow=milestone.escrow,
        to_provider=to_provider,
        to_buyer=to_buyer,
        provider_net=totals[PROVIDER_PAYABLE],
        fee=totals[PLATFORM_FEES],
        buyer_refund=totals[BUYER_REFUNDS],
        to_state=target,
        needs_second=settings.needs_second(milestone.escrow, dispute.currency),
        buyer_id=dispute.buyer_id,
        provider_id=dispute.provider_id,
    )
