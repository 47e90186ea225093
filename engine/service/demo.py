"""The story Tranche exists for, played end to end: `tranche demo`.

A buyer hires a provider for a fixed price in four milestones. The first is
funded, delivered, approved: the provider has 25%. A small direct payment goes
out before the second starts. On the second, the buyer tries to take the escrow
back after the work was submitted, is refused, and vanishes; the review period
pays the provider anyway. The buyer comes back and funds the last two; the build
is submitted and waits for review, so the database keeps a live timer (`tranche
sweep --now` in two weeks fires it). The launch, the last milestone, goes to a
dispute: that part is arbitration's (`arbitration/demo.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from engine.domain.actors import Actor
from engine.domain.clock import FixedClock
from engine.domain.errors import TrancheError
from engine.service.tranche import Tranche

AGREED = 1_000_000  # 10,000.00 USD in cents
SHARE = AGREED // 4
BUYER, PROVIDER = Actor("buyer-ada"), Actor("provider-lin")
TITLES = ("Wireframes", "Visual design", "Build", "Launch")

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Story:
    """What the story left behind, for the parts told after it."""

    contract_id: str
    milestone_ids: tuple[str, ...]


def tell(tranche: Tranche, clock: FixedClock, say: Say, contract_id: str, title: str) -> None:
    """One step of the story: the date, what happened, and the contract's figures after it."""
    say(f"\n{clock.now():%Y-%m-%d}  {title}")
    for line in tranche.summary(contract_id).lines():
        say(f"  {line}")


def play(tranche: Tranche, clock: FixedClock, say: Say = print, tenant: str = "default") -> Story:
    """Play the story on `tranche` for `tenant`, moving `clock`."""
    buyer, provider = BUYER, PROVIDER
    contract = tranche.create_contract(
        buyer_id=buyer.id,
        provider_id=provider.id,
        currency="USD",
        agreed_amount=AGREED,
        title="Shop redesign, four milestones",
        tenant=tenant,
    )
    first, second, third, fourth = (
        tranche.add_milestone(contract.id, title=title, amount=SHARE).id for title in TITLES
    )

    def step(title: str) -> None:
        tell(tranche, clock, say, contract.id, title)

    step(f"{buyer.id} hires {provider.id} for 10,000.00 USD in four milestones")
    tranche.fire(first, "fund", buyer)
    step("the buyer funds milestone 1 (Wireframes) into escrow")
    clock.advance(timedelta(days=5))
    tranche.fire(first, "submit", provider)
    step("the provider submits the wireframes")
    clock.advance(timedelta(days=1))
    tranche.fire(first, "approve", buyer)
    step("the buyer approves: the provider is paid 25%")
    clock.advance(timedelta(days=1))
    request = tranche.request_payment(
        contract.id, actor=provider, amount=20_000, note="design tools licence"
    )
    tranche.decide_payment_request(request.id, actor=buyer, pay=True)
    step("before milestone 2 starts, the provider asks for 200.00 and the buyer pays it")
    tranche.fire(second, "fund", buyer)
    clock.advance(timedelta(days=6))
    tranche.fire(second, "submit", provider)
    step("milestone 2 (Visual design) is funded and the work submitted")
    step("the buyer tries to take the escrow back")
    for event in ("request_refund", "refund", "cancel"):
        try:
            tranche.fire(second, event, buyer)
        except TrancheError as refusal:
            say(f"  refused: {refusal.message}")
    view = tranche.milestone(second, buyer)
    say(f"  the buyer may only: {', '.join(view.allowed_events)}")
    say(f"  if nobody acts: {view.next_deadline}")
    say("  ...and the buyer vanishes.")
    clock.advance(timedelta(days=14, minutes=1))
    for fired in tranche.sweep():
        say(f"  timer: {fired.event} -> {fired.outcome}")
    step("14 days of silence: the review period releases the pay to the provider")
    clock.advance(timedelta(days=1))
    tranche.fire(third, "fund", buyer)
    tranche.fire(fourth, "fund", buyer)
    step("the buyer comes back and funds milestones 3 (Build) and 4 (Launch)")
    clock.advance(timedelta(days=2))
    tranche.fire(third, "submit", provider)
    step("the provider submits the build; it waits for the buyer's review")
    say(f"  if nobody acts: {tranche.milestone(third, buyer).next_deadline}")
    return Story(contract.id, (first, second, third, fourth))
