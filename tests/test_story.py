"""The story Tranche exists for, as a readable scenario (the same one `tranche demo` plays)."""

from datetime import timedelta

from conftest import START
from engine.domain.clock import FixedClock
from engine.service.demo import AGREED, play
from engine.service.tranche import Tranche


def test_the_vanishing_buyer_cannot_take_back_delivered_work(database):
    clock = FixedClock(START)
    tranche = Tranche(database, clock)
    told: list[str] = []
    story = play(tranche, clock, told.append)

    summary = tranche.summary(story.contract_id)
    assert summary.agreed == AGREED == 1_000_000
    assert summary.funded == 1_000_000  # all four milestones, 2,500.00 each
    assert summary.in_escrow == 500_000  # the build (under review) and the launch
    assert summary.released == 500_000  # milestones 1 and 2 paid to the provider
    assert summary.direct_payments == 20_000  # the 200.00 asked for before milestone 2
    assert summary.paid_to_date == 520_000
    assert summary.refunded == 0
    assert summary.fees == 26_000  # 5% of 5,200.00
    assert summary.remaining == 480_000
    assert clock.now() - START == timedelta(days=30, minutes=1)

    build = tranche.milestone(story.milestone_ids[2])
    assert build.state == "submitted"
    assert build.next_deadline is not None
    assert build.next_deadline.event == "review_period_elapsed"
    assert build.next_deadline.due_at == clock.now() + timedelta(days=14)
    assert tranche.milestone(story.milestone_ids[3]).state == "funded"

    story = "\n".join(told)
    assert "refused: buyer may not request_refund a milestone that is submitted" in story
    assert "refused: buyer may not refund a milestone that is submitted" in story
    assert "the buyer may only: release, approve, request_changes, dispute" in story
    assert "timer: review_period_elapsed -> approved" in story
    # after the first approval the provider holds exactly a quarter of the price
    first_paid = story.split("the provider is paid 25%")[1].split("\n\n")[0]
    assert "paid to date:     2,500.00 USD" in first_paid
    assert tranche.verify() == []
