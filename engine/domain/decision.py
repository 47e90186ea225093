"""The one place a policy is interpreted: `decide` turns a milestone and an event into a Decision.

Pure: no database, no framework. The engine's commands load and lock a milestone,
ask `decide`, and hand the Decision to the store to apply; the policy checker
explores every configuration by asking `decide` too, so what is proved is what runs.

A Decision says everything the event does: the transition taken, the money that
moves (and its ledger legs, fee included), the timers to cancel, start or resume,
the dispute case it opens or closes, and what the event records.

A *case* is a milestone's live dispute: it opens when a `dispute` event enters a
state (a *case state*: one that a `dispute` transition enters) and closes when the
milestone leaves the case states, whoever or whatever moves it. Staff move money
only in a live case, and only once the respondent has answered or their answer
period has run out (due process, invariant 8).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.domain.errors import (
    CaseNotLiveError,
    ForbiddenEventError,
    FundingPendingError,
    LedgerError,
    RespondentNotHeardError,
)
from engine.domain.ledger_legs import Leg, legs_for
from engine.domain.policy.document import PREVIOUS, Policy, TimerSpec, TransitionSpec
from engine.domain.policy.machine import MilestoneMachine, case_states
from engine.domain.policy.vocabulary import (
    DISPUTE,
    PARTIES,
    Facts,
    Movement,
    apply_effects,
    check_split,
)

AWAITING_RESPONSE, UNDER_REVIEW, PENDING_APPROVAL = (
    "awaiting_response",
    "under_review",
    "pending_approval",
)
SETTLED, RULED, WITHDRAWN, DEFAULTED = "settled", "ruled", "withdrawn", "defaulted"
OPEN_STATUSES = (AWAITING_RESPONSE, UNDER_REVIEW, PENDING_APPROVAL)
CLOSED_STATUSES = (SETTLED, RULED, WITHDRAWN, DEFAULTED)
"""A case's statuses: open ones (the respondent's answer is awaited; staff review it; a
ruling awaits a second approval) and how it closed."""


@dataclass(frozen=True, slots=True)
class Case:
    """The milestone's live dispute, as far as the rules need it."""

    id: str
    opener_role: str
    status: str
    respond_by: datetime | None = None

    def unheard(self, now: datetime) -> bool:
        """The respondent has neither answered nor let their answer period run out."""
        return self.status == AWAITING_RESPONSE and (
            self.respond_by is None or now < self.respond_by
        )


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What `decide` may look at of a milestone (read under the command's lock)."""

    state: str
    amount: int
    escrow: int
    revisions: int = 0
    previous_state: str | None = None
    entered_by: str | None = None
    case: Case | None = None
    pending_funding: int = 0
    """A two-phase funding awaiting the rail: the milestone waits for its outcome."""


@dataclass(frozen=True, slots=True)
class EventArgs:
    """The optional arguments an event may carry (which ones matter depends on its effects).

    `case_id` names the dispute a command acts in (a ruling, an accepted offer): it must
    be the milestone's live case. When a `dispute` event opens a case, it is the new
    case's id, and `to_provider`/`to_buyer` are the opener's claim (all to the opener
    if omitted).
    """

    amount: int | None = None
    to_provider: int | None = None
    to_buyer: int | None = None
    offer_by: str | None = None
    note: str = ""
    case_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CaseOpening:
    id: str
    opener_role: str
    reason: str
    claim_to_provider: int
    claim_to_buyer: int
    amount: int
    status: str
    respond_by: datetime | None


@dataclass(frozen=True, slots=True)
class CaseClosing:
    id: str
    status: str


@dataclass(frozen=True, slots=True)
class TimerChanges:
    """Leaving a state cancels its pending timers; entering one starts its own.

    `resume`: a return to the previous state (a withdrawn dispute) gives each timer back
    the time it had left, so the clock stops while the dispute is open.
    """

    cancel: bool
    start: tuple[TimerSpec, ...]
    resume: bool


@dataclass(frozen=True, slots=True)
class Posting:
    """One movement and its balanced ledger legs."""

    movement: Movement
    legs: tuple[Leg, ...]


@dataclass(frozen=True, slots=True)
class Decision:
    event: str
    role: str
    source: str
    target: str
    spec: TransitionSpec
    postings: tuple[Posting, ...]
    revisions: int
    escrow_after: int
    timers: TimerChanges | None
    opens: CaseOpening | None
    closes: CaseClosing | None
    answers: str | None
    """The live case this event answers: the respondent acted in it (escalated, say)."""
    notify: tuple[str, ...]

    @property
    def movements(self) -> list[Movement]:
        return [p.movement for p in self.postings]

    @property
    def moved(self) -> int | None:
        return sum(m.amount for m in self.movements) if self.postings else None

    @property
    def changes_state(self) -> bool:
        return self.target != self.source


def facts_for(policy: Policy, snapshot: Snapshot, role: str, args: EventArgs) -> Facts:
    return Facts(
        milestone_amount=snapshot.amount,
        escrow=snapshot.escrow,
        actor_role=role,
        revisions=snapshot.revisions,
        revision_limit=policy.revision_limit,
        opener_role=snapshot.entered_by,
        amount=args.amount,
        to_provider=args.to_provider,
        to_buyer=args.to_buyer,
        offer_by=args.offer_by,
    )


def allowed_events(policy: Policy, snapshot: Snapshot, role: str) -> list[str]:
    """The events `role` could send now, given suitable arguments; none from a final state."""
    if policy.state(snapshot.state).final or snapshot.pending_funding:
        return []
    facts = facts_for(policy, snapshot, role, EventArgs())
    return MilestoneMachine(policy, snapshot.state, snapshot.previous_state).allowed_events(facts)


def decide(
    policy: Policy,
    snapshot: Snapshot,
    event: str,
    role: str,
    args: EventArgs,
    now: datetime,
    checking: bool = False,
) -> Decision:
    """What `event`, sent by `role` with `args` at `now`, does to the milestone; or raise why not.

    Raises a TrancheError (nothing to apply) when the policy refuses the event, an
    amount is wrong, the case named is not the live one, or staff would move money
    outside a dispute or before the respondent was heard.

    The checker asks with `checking=True`: it must see every staff step a policy allows,
    to refuse the policy whose staff could move money without a hearing.

    The transition is chosen from the machine's conditions directly
    (`MilestoneMachine.choose`): the same answer as the library's `send`, which a
    property test holds it to over every policy, state, event, role and set of facts,
    without the library's event loop (a tenth of a request's CPU).
    """
    if snapshot.pending_funding:
        raise FundingPendingError(
            f"a funding of {snapshot.pending_funding} awaits the payment rail: the milestone "
            "takes no event until it is confirmed, fails or expires",
            pending_funding=snapshot.pending_funding,
            event=event,
        )
    facts = facts_for(policy, snapshot, role, args)
    machine = MilestoneMachine(policy, snapshot.state, snapshot.previous_state)
    spec, target = machine.choose(event, facts)
    source = snapshot.state
    case = snapshot.case
    if case is not None and args.case_id is not None and args.case_id != case.id:
        raise CaseNotLiveError(
            f"dispute {args.case_id} is not this milestone's live case ({case.id})",
            dispute_id=args.case_id,
            live_case=case.id,
        )
    movements, counted = apply_effects(((r.name, r.kwargs) for r in spec.effects), facts)
    if movements and role == "staff" and not checking:
        _check_due_process(snapshot, event, now)
    escrow = snapshot.escrow
    postings = []
    for movement in movements:
        escrow += movement.amount if movement.kind == "hold" else -movement.amount
        legs = legs_for(movement, policy.platform_fee_bps, held=policy.payout_hold is not None)
        postings.append(Posting(movement, tuple(legs)))
    if policy.state(target).final and escrow != 0:
        raise LedgerError(
            f"{target!r} is final but would hold {escrow} in escrow",
            state=target,
            escrow=escrow,
            movements=[[m.kind, m.amount] for m in movements],
        )
    timers = None
    if target != source:
        timers = TimerChanges(
            cancel=bool(policy.timers_for(source)),
            start=policy.timers_for(target),
            resume=spec.target == PREVIOUS,
        )
    opens, closes = _case_changes(policy, snapshot, spec, role, args, target, now)
    answers = None
    if case is not None and closes is None and role in PARTIES and role != case.opener_role:
        answers = case.id if case.status == AWAITING_RESPONSE else None
    return Decision(
        event=event,
        role=role,
        source=source,
        target=target,
        spec=spec,
        postings=tuple(postings),
        revisions=snapshot.revisions + counted,
        escrow_after=escrow,
        timers=timers,
        opens=opens,
        closes=closes,
        answers=answers,
        notify=spec.notify,
    )


def _check_due_process(snapshot: Snapshot, event: str, now: datetime) -> None:
    case = snapshot.case
    if case is None:
        raise ForbiddenEventError(
            f"staff may {event} only in an open dispute, and this milestone has none",
            event=event,
            state=snapshot.state,
            actor="staff",
        )
    require_heard(case, now)


def require_heard(case: Case, now: datetime) -> None:
    """Due process: refuse a ruling until the respondent answered or their time ran out."""
    if case.unheard(now):
        opens = case.respond_by.isoformat() if case.respond_by else None
        raise RespondentNotHeardError(
            "the respondent has not answered and their answer period is still running: "
            f"staff may rule from {opens or 'their answer'} on",
            dispute_id=case.id,
            opens_at=opens,
        )


def _case_changes(
    policy: Policy,
    snapshot: Snapshot,
    spec: TransitionSpec,
    role: str,
    args: EventArgs,
    target: str,
    now: datetime,
) -> tuple[CaseOpening | None, CaseClosing | None]:
    states = case_states(policy)
    case = snapshot.case
    if case is not None and target not in states:
        return None, CaseClosing(case.id, _closing_status(spec, role, case))
    if case is not None or spec.event != DISPUTE or target not in states:
        return None, None
    if role not in PARTIES:
        raise ForbiddenEventError(
            "only a party opens a dispute", event=spec.event, state=snapshot.state, actor=role
        )
    if args.case_id is None:
        raise CaseNotLiveError("a new dispute needs an id", dispute_id=None)
    to_provider, to_buyer = args.to_provider, args.to_buyer
    if to_provider is None and to_buyer is None:
        mine = snapshot.escrow
        to_provider, to_buyer = (mine, 0) if role == "provider" else (0, mine)
    to_provider, to_buyer = check_split(to_provider, to_buyer, snapshot.escrow)
    window = policy.dispute_response
    return (
        CaseOpening(
            id=args.case_id,
            opener_role=role,
            reason=args.note,
            claim_to_provider=to_provider,
            claim_to_buyer=to_buyer,
            amount=snapshot.escrow,
            status=AWAITING_RESPONSE if window else UNDER_REVIEW,
            respond_by=now + window if window else None,
        ),
        None,
    )


def _closing_status(spec: TransitionSpec, role: str, case: Case) -> str:
    """How a case ended: taken back by its opener, ruled by staff, decided by a deadline, or
    settled between the parties (an accepted offer, or any other act of a party)."""
    if role == "staff":
        return RULED
    if role == "system":
        return DEFAULTED
    if spec.target == PREVIOUS and role == case.opener_role:
        return WITHDRAWN
    return SETTLED
