"""Timers: the review period and the refund-answer deadline, on a fake clock."""

from datetime import timedelta

from sqlalchemy import select

from conftest import BUYER, PROVIDER
from engine.store.models import Timer
from engine.store.timers import CANCELLED, DONE

DAY = timedelta(days=1)


def timers(tranche, milestone_id):
    with tranche.unit_of_work() as uow:
        return [
            (t.event, t.status)
            for t in uow.session.scalars(
                select(Timer).where(Timer.milestone_id == milestone_id).order_by(Timer.id)
            )
        ]


def test_silence_after_submission_approves_after_exactly_fourteen_days(
    tranche, contract, milestone, clock
):
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.fire(milestone.id, "submit", PROVIDER)
    submitted_at = clock.now()
    view = tranche.milestone(milestone.id, PROVIDER)
    assert view.next_deadline.event == "review_period_elapsed"
    assert view.next_deadline.due_at == submitted_at + 14 * DAY
    assert view.next_deadline.outcome == "approved"
    assert str(view.next_deadline) == "auto-approve on 2026-12-08"

    assert tranche.sweep(submitted_at + 14 * DAY - timedelta(seconds=1)) == []
    assert tranche.milestone(milestone.id).state == "submitted"
    (fired,) = tranche.sweep(submitted_at + 14 * DAY)
    assert (fired.event, fired.outcome) == ("review_period_elapsed", "approved")
    assert tranche.summary(contract.id).paid_to_date == 25_000
    assert tranche.sweep(submitted_at + 30 * DAY) == []  # fires once, never again
    (event,) = [e for e in tranche.history(milestone.id) if e.type == "review_period_elapsed"]
    assert (event.actor_role, event.created_at) == ("system", submitted_at + 14 * DAY)


def test_acting_before_the_deadline_cancels_the_default(tranche, milestone, clock):
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.fire(milestone.id, "submit", PROVIDER)
    clock.advance(3 * DAY)
    tranche.fire(milestone.id, "request_changes", BUYER)
    assert timers(tranche, milestone.id) == [("review_period_elapsed", CANCELLED)]
    assert tranche.sweep(clock.now() + 60 * DAY) == []
    assert tranche.milestone(milestone.id).state == "funded"


def test_a_resubmission_starts_a_new_review_period(tranche, milestone, clock):
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.fire(milestone.id, "submit", PROVIDER)
    clock.advance(10 * DAY)
    tranche.fire(milestone.id, "request_changes", BUYER)
    clock.advance(2 * DAY)
    tranche.fire(milestone.id, "submit", PROVIDER)
    resubmitted = clock.now()
    assert tranche.sweep(resubmitted + 13 * DAY) == []
    (fired,) = tranche.sweep(resubmitted + 14 * DAY)
    assert fired.outcome == "approved"


def test_an_unanswered_refund_request_refunds_after_seven_days(tranche, contract, milestone, clock):
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.fire(milestone.id, "request_refund", BUYER)
    (notice,) = [e for e in tranche.history(milestone.id) if e.type == "request_refund"]
    assert '"notify": ["provider"]' in notice.data
    assert str(tranche.milestone(milestone.id).next_deadline) == "auto-refund on 2026-12-01"
    assert tranche.sweep(clock.now() + 6 * DAY) == []
    (fired,) = tranche.sweep(clock.now() + 7 * DAY)
    assert fired.outcome == "refunded"
    summary = tranche.summary(contract.id)
    assert (summary.refunded, summary.in_escrow, summary.paid_to_date) == (25_000, 0, 0)
    assert timers(tranche, milestone.id) == [("refund_deadline_passed", DONE)]


def test_delivering_the_work_lapses_a_refund_request(tranche, milestone, clock):
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.fire(milestone.id, "request_refund", BUYER)
    clock.advance(2 * DAY)
    tranche.fire(milestone.id, "submit", PROVIDER)
    assert tranche.sweep(clock.now() + 8 * DAY) == []  # the refund deadline is gone
    assert tranche.milestone(milestone.id).state == "submitted"


def test_the_revision_limit_holds(tranche, milestone):
    tranche.fire(milestone.id, "fund", BUYER)
    for _ in range(3):
        tranche.fire(milestone.id, "submit", PROVIDER)
        tranche.fire(milestone.id, "request_changes", BUYER)
    tranche.fire(milestone.id, "submit", PROVIDER)
    view = tranche.milestone(milestone.id, BUYER)
    assert view.revisions == 3
    assert "request_changes" not in view.allowed_events
    assert view.allowed_events == ["release", "approve", "dispute"]


def test_withdrawing_a_dispute_gives_the_review_period_back_its_time_left(
    tranche, milestone, clock
):
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.fire(milestone.id, "submit", PROVIDER)
    clock.advance(10 * DAY)  # four days of review left
    tranche.fire(milestone.id, "dispute", BUYER)
    clock.advance(2 * DAY)
    tranche.fire(milestone.id, "withdraw", BUYER)
    view = tranche.milestone(milestone.id)
    assert view.next_deadline.due_at == clock.now() + 4 * DAY  # neither 14 days nor 2
    assert tranche.sweep(clock.now() + 4 * DAY - timedelta(seconds=1)) == []
    (fired,) = tranche.sweep(clock.now() + 4 * DAY)
    assert fired.outcome == "approved"


def test_a_refund_deadline_cannot_run_out_unseen_during_a_dispute(
    tranche, contract, milestone, clock
):
    """The buyer asks for a refund, disputes at once, waits out the deadline, withdraws."""
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.fire(milestone.id, "request_refund", BUYER)
    clock.advance(timedelta(hours=1))
    tranche.fire(milestone.id, "dispute", BUYER)
    clock.advance(8 * DAY)
    tranche.fire(milestone.id, "withdraw", BUYER)
    assert tranche.sweep(clock.now()) == []  # the provider still has its 7 days less an hour
    assert tranche.milestone(milestone.id).next_deadline.due_at == (
        clock.now() + 7 * DAY - timedelta(hours=1)
    )
    tranche.fire(milestone.id, "submit", PROVIDER)
    assert tranche.summary(contract.id).refunded == 0
