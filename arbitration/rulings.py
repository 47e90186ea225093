"""What staff do in a case: claim and assign it, note, rule, and approve or decline rulings.

Two-person rule: a ruling on more than `Settings.threshold(currency)` of escrow
waits as `pending` until a senior who is not its author approves it; only then
does the policy's `rule` event move the money. Every action is audited. A command
given `expected_version` (the version of the case the staff member's page showed)
is refused with what changed since, if the case moved on (`changes.check_version`).
"""

from __future__ import annotations

from arbitration import audit
from arbitration.changes import check_version, last_change
from arbitration.disputes import (
    APPLIED,
    DECLINED,
    PENDING,
    escrow_of,
    load,
    require_open,
    text_field,
)
from arbitration.errors import (
    DisputeClosedError,
    DisputeNotFoundError,
    SelfApprovalError,
    StaffForbiddenError,
    StaleCaseError,
)
from arbitration.models import Ruling, Staff, Statement
from arbitration.settings import Settings
from arbitration.staff import SENIOR
from engine.domain.actors import Actor
from engine.domain.decision import PENDING_APPROVAL, UNDER_REVIEW, EventArgs, require_heard
from engine.domain.errors import ValidationError
from engine.domain.policy.vocabulary import check_split
from engine.service.milestones import fire_event, live_case
from engine.service.uow import UnitOfWork
from engine.store.models import Dispute, new_id


def claim(
    uow: UnitOfWork,
    dispute_id: str,
    staff: Staff,
    address: str,
    expected_version: int | None = None,
    take_over_from: str | None = None,
) -> Dispute:
    """Take an unassigned case (or keep one's own); a senior takes over another's case only
    by naming its current owner (`take_over_from`), so a stale page never takes it silently."""
    dispute = load(uow, dispute_id, lock=True)
    require_open(dispute)
    check_version(uow, dispute, expected_version)
    owner = dispute.assignee_id
    if owner not in (None, staff.id):
        if staff.role != SENIOR:
            raise StaffForbiddenError(
                "this case is assigned to someone else; a senior can reassign it",
                dispute_id=dispute.id,
            )
        if take_over_from != owner:
            raise StaleCaseError(
                f"This case is {last_change(uow, dispute)}; take it over explicitly.",
                dispute_id=dispute.id,
                current_assignee=owner,
                current_version=dispute.version,
            )
    return _assign(uow, dispute, staff, staff, address)


def assign(
    uow: UnitOfWork, dispute_id: str, staff: Staff, assignee: Staff | None, address: str
) -> Dispute:
    """Seniors (re)assign a case to anyone, or unassign it."""
    if staff.role != SENIOR:
        raise StaffForbiddenError("only seniors reassign cases", role=staff.role)
    dispute = load(uow, dispute_id, lock=True)
    require_open(dispute)
    return _assign(uow, dispute, staff, assignee, address)


def _assign(
    uow: UnitOfWork, dispute: Dispute, staff: Staff, assignee: Staff | None, address: str
) -> Dispute:
    now = uow.clock.now()
    before = dispute.assignee_id
    dispute.assignee_id = assignee.id if assignee else None
    dispute.updated_at = now
    action = "claim" if assignee is staff else "assign"
    audit.record(
        uow.session,
        staff.id,
        action,
        address,
        now,
        dispute.id,
        before=before,
        after=dispute.assignee_id,
    )
    uow.session.flush()
    return dispute


def add_note(uow: UnitOfWork, dispute_id: str, staff: Staff, body: str, address: str) -> Statement:
    """A note for staff only: parties never see it."""
    dispute = load(uow, dispute_id)
    now = uow.clock.now()
    note = Statement(
        dispute_id=dispute.id,
        author_id=staff.id,
        author_role="staff",
        staff_only=True,
        body=text_field(body, "note"),
        created_at=now,
    )
    uow.session.add(note)
    audit.record(uow.session, staff.id, "note", address, now, dispute.id)
    uow.session.flush()
    return note


def rule(
    uow: UnitOfWork,
    dispute_id: str,
    staff: Staff,
    to_provider: int,
    to_buyer: int,
    rationale: str,
    address: str,
    settings: Settings,
    expected_version: int | None = None,
) -> Ruling:
    """Decide the split; applied now, or pending a second approval above the threshold."""
    dispute = load(uow, dispute_id, lock=True)
    require_open(dispute)
    check_version(uow, dispute, expected_version)
    if dispute.status == PENDING_APPROVAL:
        raise DisputeClosedError(
            "a ruling on this case already awaits approval", dispute_id=dispute.id
        )
    if dispute.assignee_id != staff.id:
        raise StaffForbiddenError(
            "claim the case before ruling on it", dispute_id=dispute.id, field="assignee"
        )
    now = uow.clock.now()
    require_heard(live_case(dispute), now)
    escrow = escrow_of(uow, dispute)
    to_provider, to_buyer = check_split(to_provider, to_buyer, escrow)
    ruling = Ruling(
        id=new_id("rl"),
        dispute_id=dispute.id,
        staff_id=staff.id,
        to_provider=to_provider,
        to_buyer=to_buyer,
        rationale=text_field(rationale, "rationale"),
        status=PENDING,
        created_at=now,
    )
    uow.session.add(ruling)
    needs_second = settings.needs_second(escrow, dispute.currency)
    audit.record(
        uow.session,
        staff.id,
        "rule",
        address,
        now,
        dispute.id,
        ruling=ruling.id,
        to_provider=to_provider,
        to_buyer=to_buyer,
        needs_approval=needs_second,
    )
    if needs_second:
        dispute.status, dispute.updated_at = PENDING_APPROVAL, now
        uow.session.flush()
        return ruling
    _apply(uow, dispute, ruling, None)
    return ruling


def _pending(
    uow: UnitOfWork, ruling_id: str, staff: Staff, expected_version: int | None
) -> tuple[Ruling, Dispute]:
    if staff.role != SENIOR:
        raise StaffForbiddenError("only seniors approve or decline rulings", role=staff.role)
    ruling = uow.session.get(Ruling, ruling_id) if isinstance(ruling_id, str) else None
    if ruling is None:
        raise DisputeNotFoundError(f"no ruling {ruling_id!r}", ruling_id=ruling_id)
    if ruling.staff_id == staff.id:
        raise SelfApprovalError("nobody approves or declines their own ruling", ruling_id=ruling.id)
    dispute = load(uow, ruling.dispute_id, lock=True)
    uow.session.refresh(ruling)  # read again under the case's lock: a rival may have decided
    check_version(uow, dispute, expected_version)
    if ruling.status != PENDING:
        raise DisputeClosedError(f"ruling {ruling.id} is {ruling.status}", status=ruling.status)
    return ruling, dispute


def approve(
    uow: UnitOfWork,
    ruling_id: str,
    staff: Staff,
    address: str,
    expected_version: int | None = None,
) -> Ruling:
    """The second pair of eyes: the ruling takes effect and the money moves."""
    ruling, dispute = _pending(uow, ruling_id, staff, expected_version)
    audit.record(
        uow.session, staff.id, "approve", address, uow.clock.now(), dispute.id, ruling=ruling.id
    )
    _apply(uow, dispute, ruling, staff.id)
    return ruling


def decline(
    uow: UnitOfWork,
    ruling_id: str,
    staff: Staff,
    note: str,
    address: str,
    expected_version: int | None = None,
) -> Ruling:
    """Send a pending ruling back; the case returns to review."""
    ruling, dispute = _pending(uow, ruling_id, staff, expected_version)
    now = uow.clock.now()
    ruling.status, ruling.decided_by, ruling.decided_at = DECLINED, staff.id, now
    ruling.decision_note = text_field(note, "note", 5_000)
    dispute.status, dispute.updated_at = UNDER_REVIEW, now
    audit.record(uow.session, staff.id, "decline", address, now, dispute.id, ruling=ruling.id)
    uow.session.flush()
    return ruling


def _apply(uow: UnitOfWork, dispute: Dispute, ruling: Ruling, approver: str | None) -> None:
    escrow = escrow_of(uow, dispute)
    if ruling.to_provider + ruling.to_buyer != escrow:
        raise ValidationError(
            "the escrow changed since this ruling was made; rule again", escrow=escrow
        )
    fire_event(
        uow,
        dispute.milestone_id,
        "rule",
        Actor.staff(ruling.staff_id),
        EventArgs(
            to_provider=ruling.to_provider,
            to_buyer=ruling.to_buyer,
            note=ruling.rationale,
            case_id=dispute.id,
            extra={"ruling_id": ruling.id, "approved_by": approver},
        ),
    )
    ruling.status, ruling.decided_by, ruling.decided_at = APPLIED, approver, uow.clock.now()
    uow.session.flush()
    uow.session.refresh(dispute)
