"""The demo's last chapter (`tranche demo`): the launch goes to a dispute that waits for staff.

The provider delivers the launch; the buyer disputes it and claims the escrow back;
the provider answers, so the case is ready for a ruling and sits in the console's
queue (an answered case has no response deadline for `tranche sweep` to apply).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from arbitration.service import Arbitration
from arbitration.staff import REVIEWER, ROLES, SENIOR
from engine.domain.clock import FixedClock
from engine.service.demo import BUYER, PROVIDER, Say, Story, tell
from engine.service.tranche import Tranche
from engine.store.models import Dispute

STAFF = {REVIEWER: "demo-reviewer@example.com", SENIOR: "demo-senior@example.com"}


@dataclass(frozen=True, slots=True)
class Account:
    role: str
    email: str
    password: str


def dispute_the_launch(
    arbitration: Arbitration, tranche: Tranche, story: Story, clock: FixedClock, say: Say
) -> Dispute:
    """Tell the chapter after `engine.demo.play`, on its contract and clock."""
    launch = story.milestone_ids[3]
    clock.advance(timedelta(days=1))
    tranche.fire(launch, "submit", PROVIDER)
    dispute = arbitration.open(
        launch, BUYER, "The launch is half done: no redirects from the old shop, no analytics."
    )
    title = "the provider submits the launch; the buyer disputes it"
    tell(tranche, clock, say, story.contract_id, title)
    clock.advance(timedelta(hours=3))
    arbitration.statement(
        dispute.id,
        PROVIDER,
        "Redirects and analytics were never part of the launch milestone; see the agreed scope.",
    )
    say(f"\n{clock.now():%Y-%m-%d}  the provider answers: the case waits for staff to rule")
    say(f"  dispute {dispute.id}: the buyer claims the whole escrow back")
    return dispute


def staff_accounts(arbitration: Arbitration) -> list[Account]:
    """A reviewer and a senior (a large ruling needs a second person), with new passwords."""
    accounts = [Account(role, STAFF[role], secrets.token_urlsafe(12)) for role in ROLES]
    for account in accounts:
        arbitration.create_staff(account.email, account.role, account.password)
    return accounts
