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
from typing import Any, TypeVar

from sqlalchemy import Select, literal, select

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

    Two steps, as the timer sweep takes them: the first candidates in the order of the
    partial index on awaiting cases, unlocked; then each one's milestone by its primary
    key and the case, locked unless a command holds them (skipped, left for the next
    sweep). One query joining both rows let PostgreSQL's planner, which took the two
    join conditions for independent and so expected one row, hash-join every milestone:
    0.4 s per case with 10^4 due among 10^6 milestones.

    Only a milestone's live case is considered: a withdrawn or otherwise closed case
    can never be decided by default (one that is not its milestone's live case is put
    in `passed`).
    """
    query = (
        select(Dispute.id, Dispute.milestone_id)
        .where(
            Dispute.status == _AWAITING,
            Dispute.respond_by <= now,
            tenant_scope(Dispute.tenant, tenant),
        )
        .order_by(Dispute.respond_by, Dispute.id)
        .limit(CANDIDATES)
    )
    if passed:
        query = query.where(Dispute.id.not_in(passed))
    for case_id, milestone_id in uow.session.execute(query).all():
        milestone = _first_free(uow, select(Milestone), Milestone.id, milestone_id)
        if milestone is None:
            continue  # a command holds it
        if milestone.dispute_id != case_id:
            passed.add(case_id)  # not its milestone's live case: never decided by default
            continue
        awaiting = select(Dispute).where(Dispute.status == _AWAITING)
        dispute = _first_free(uow, awaiting, Dispute.id, case_id)
        if dispute is not None:
            return dispute, milestone
    return None


CANDIDATES = 16
"""Cases read per look: those a command holds are passed over, up to this many at once."""

_Row = TypeVar("_Row", Dispute, Milestone)


def _first_free(uow: UnitOfWork, query: Select[tuple[_Row]], key: Any, value: str) -> _Row | None:
    """The row of `query` whose `key` is `value`, locked; on PostgreSQL None while another
    transaction holds it (SQLite locks the whole database instead)."""
    query = query.where(key == value)
    if uow.database.is_postgres:
        query = query.with_for_update(skip_locked=True)
    return uow.session.scalars(query).first()


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
