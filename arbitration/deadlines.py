"""The response deadline: silence must not win a dispute.

When the other party has not acted by `respond_by`, the policy's
`dispute_default_outcome` applies: `opener_claim` grants the opener's claim
(recorded as a ruling by the platform, through the policy's `rule` event);
`staff` sends the case to staff. One case per transaction, and one that fails is
reported and skipped; PostgreSQL claims each with FOR UPDATE SKIP LOCKED so several
sweepers can run at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, literal, select

from arbitration.disputes import APPLIED
from arbitration.models import Ruling
from arbitration.settings import Settings
from engine.domain.actors import Actor
from engine.domain.decision import AWAITING_RESPONSE, DEFAULTED, UNDER_REVIEW, EventArgs
from engine.domain.errors import ConflictError, TrancheError
from engine.service.milestones import fire_event, milestone_policy
from engine.service.tranche import conflicts_as_errors
from engine.service.uow import UnitOfWork
from engine.store.db import Database
from engine.store.models import Dispute, Milestone, new_id
from engine.store.sandbox import tenant_scope

DEADLINE_ACTOR = "system:response-deadline"
_AWAITING = literal(AWAITING_RESPONSE, literal_execute=True)
"""A literal in the SQL, so the partial index on awaiting cases serves the sweep
(engine.store.models.AWAITING_CASE); the milestone is found by its primary key."""


@dataclass(frozen=True, slots=True)
class Lapsed:
    dispute_id: str
    outcome: str


def _next_due(
    uow: UnitOfWork, now: datetime, passed: set[str], tenant: str | None
) -> tuple[Dispute, Milestone] | None:
    """The most overdue unanswered live case not in `passed`, with its milestone, locked.

    Only a milestone's live case is considered: a withdrawn or otherwise closed case
    can never be decided by default.
    """
    query = (
        select(Dispute, Milestone)
        .join(
            Milestone,
            and_(Milestone.id == Dispute.milestone_id, Milestone.dispute_id == Dispute.id),
        )
        .where(
            Dispute.status == _AWAITING,
            Dispute.respond_by <= now,
            tenant_scope(Dispute.tenant, tenant),
        )
        .order_by(Dispute.respond_by, Dispute.id)
        .limit(1)
    )
    if passed:
        query = query.where(Dispute.id.not_in(passed))
    if uow.database.is_postgres:
        query = query.with_for_update(skip_locked=True, of=(Milestone, Dispute))
    row = uow.session.execute(query).first()
    return None if row is None else (row[0], row[1])


def _default_outcome(uow: UnitOfWork, dispute: Dispute, milestone: Milestone, now: datetime) -> str:
    """Send the case to staff, or grant the opener's claim as a ruling by the platform."""
    if milestone_policy(uow, milestone).dispute_default_outcome != "opener_claim":
        dispute.status, dispute.due_at, dispute.updated_at = UNDER_REVIEW, now, now
        return UNDER_REVIEW
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
            case_id=dispute.id,
            extra={"ruling_id": ruling.id, "default_outcome": True},
        ),
        now=now,
    )
    uow.session.flush()
    uow.session.refresh(dispute)
    dispute.status = DEFAULTED
    uow.session.flush()
    return DEFAULTED


def sweep(
    database: Database,
    settings: Settings,
    now: datetime,
    limit: int | None = None,
    tenant: str | None = None,
) -> list[Lapsed]:
    """Apply every default outcome due at `now`, one case per transaction: of every live
    tenant, or of one sandbox tenant (`tenant`, as its test clock tells `now`).

    A case whose outcome the rules refuse is reported as `failed: ...` and passed over
    for the rest of this sweep; it never blocks the others. A case busy with a command
    (or another sweeper) is left for the next sweep.
    """
    done: list[Lapsed] = []
    passed: set[str] = set()
    while limit is None or len(done) < limit:
        try:
            with conflicts_as_errors(), UnitOfWork(database) as uow:
                picked = _next_due(uow, now, passed, tenant)
                if picked is None:
                    return done
                dispute, milestone = picked
                passed.add(dispute.id)
                try:
                    with uow.session.begin_nested():
                        outcome = _default_outcome(uow, dispute, milestone, now)
                except ConflictError:
                    raise
                except TrancheError as exc:
                    outcome = f"failed: {exc.message}"
                uow.commit()
                done.append(Lapsed(dispute.id, outcome))
        except ConflictError:
            continue
    return done
