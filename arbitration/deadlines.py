"""The response deadline: silence must not win a dispute.

When the other party has not acted by `respond_by`, the policy's
`dispute_default_outcome` applies: `opener_claim` grants the opener's claim
(recorded as a ruling by the platform, through the policy's `rule` event);
`staff` sends the case to staff. One dispute per transaction; PostgreSQL claims
each with FOR UPDATE SKIP LOCKED so several sweepers can run at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from arbitration.disputes import APPLIED, close
from arbitration.models import AWAITING_RESPONSE, DEFAULTED, UNDER_REVIEW, Dispute, Ruling
from arbitration.settings import Settings
from engine.actors import Actor
from engine.db import Database
from engine.milestones import EventArgs, fire_event, milestone_policy
from engine.models import Milestone, new_id
from engine.service import conflicts_as_errors
from engine.uow import UnitOfWork

DEADLINE_ACTOR = "system:response-deadline"


@dataclass(frozen=True, slots=True)
class Lapsed:
    dispute_id: str
    outcome: str


def lapse_one(uow: UnitOfWork, now: datetime, settings: Settings) -> Lapsed | None:
    """Apply the default outcome to the most overdue unanswered dispute, if any."""
    query = (
        select(Dispute)
        .where(Dispute.status == AWAITING_RESPONSE, Dispute.respond_by <= now)
        .order_by(Dispute.respond_by, Dispute.id)
        .limit(1)
    )
    if uow.database.is_postgres:
        query = query.with_for_update(skip_locked=True)
    dispute = uow.session.scalars(query).first()
    if dispute is None:
        return None
    milestone = uow.session.get(Milestone, dispute.milestone_id)
    assert milestone is not None
    if milestone_policy(uow, milestone).dispute_default_outcome != "opener_claim":
        dispute.status, dispute.due_at, dispute.updated_at = UNDER_REVIEW, now, now
        return Lapsed(dispute.id, UNDER_REVIEW)
    rationale = (
        f"The {'buyer' if dispute.opener_role == 'provider' else 'provider'} did not answer "
        f"by {dispute.respond_by:%Y-%m-%d %H:%M} UTC; under the policy, the opener's claim "
        "is granted."
    )
    ruling = Ruling(
        id=new_id("rl"),
        dispute_id=dispute.id,
        staff_id=DEADLINE_ACTOR,
        to_provider=dispute.claim_to_provider,
        to_buyer=dispute.claim_to_buyer,
        rationale=rationale,
        status=APPLIED,
        created_at=now,
        decided_at=now,
    )
    uow.session.add(ruling)
    fire_event(
        uow,
        dispute.milestone_id,
        "rule",
        Actor.staff(DEADLINE_ACTOR),
        EventArgs(
            to_provider=dispute.claim_to_provider,
            to_buyer=dispute.claim_to_buyer,
            note=rationale,
            extra={"dispute_id": dispute.id, "ruling_id": ruling.id, "default_outcome": True},
        ),
        now=now,
    )
    close(uow, dispute, DEFAULTED, now)
    return Lapsed(dispute.id, DEFAULTED)


def sweep(
    database: Database, settings: Settings, now: datetime, limit: int | None = None
) -> list[Lapsed]:
    """Apply every default outcome due at `now`, one dispute per transaction."""
    done: list[Lapsed] = []
    while limit is None or len(done) < limit:
        with conflicts_as_errors(), UnitOfWork(database) as uow:
            lapsed = lapse_one(uow, now, settings)
            if lapsed is None:
                return done
            uow.commit()
            done.append(lapsed)
    return done
