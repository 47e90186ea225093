"""What the parties do in a dispute: open it, speak, show evidence, offer, accept, withdraw.

Each command runs in the caller's unit of work and never commits. Commands that
move the milestone (open, accept, withdraw) fire the policy's own events through
`engine.service.milestones.fire_event`, which opens and closes the case itself, so the
case, its rows here and the transition commit together whatever the entry point.
The other party "responds" by any act in the case; until they do, the policy's
response deadline runs (see `deadlines`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from arbitration.errors import DisputeClosedError, DisputeNotFoundError
from arbitration.evidence import EvidenceStore, Upload
from arbitration.models import Evidence, Offer, Ruling, Statement
from arbitration.settings import Settings
from engine.domain.actors import Actor
from engine.domain.decision import AWAITING_RESPONSE, OPEN_STATUSES, UNDER_REVIEW, EventArgs
from engine.domain.errors import NotAPartyError, ValidationError
from engine.domain.policy.vocabulary import DISPUTE, check_split
from engine.domain.texts import check_text
from engine.service.milestones import fire_event
from engine.service.uow import UnitOfWork
from engine.store.models import Dispute, Milestone, new_id
from engine.store.writer import CASE_CLOSED

MAX_TEXT = 20_000
OPEN, ACCEPTED, REJECTED, LAPSED = "open", "accepted", "rejected", "lapsed"
PENDING, APPLIED, DECLINED, VOID = "pending", "applied", "declined", "void"


def text_field(value: object, name: str, limit: int = MAX_TEXT, required: bool = True) -> str:
    """A text typed in a dispute (at most MAX_TEXT characters unless said otherwise)."""
    return check_text(value, name, limit, required)


def load(
    uow: UnitOfWork, dispute_id: str, lock: bool = False, tenant: str | None = None
) -> Dispute:
    """The dispute (row-locked on PostgreSQL if asked); another tenant's is not found."""
    query = select(Dispute).where(Dispute.id == dispute_id)
    if lock and uow.database.is_postgres:
        query = query.with_for_update()
    dispute = uow.session.scalars(query).first() if isinstance(dispute_id, str) else None
    if dispute is None or (tenant is not None and dispute.tenant != tenant):
        raise DisputeNotFoundError(f"no dispute {dispute_id!r}", dispute_id=dispute_id)
    return dispute


def party_role(dispute: Dispute, actor: Actor) -> str:
    if actor.role is None and actor.id == dispute.buyer_id:
        return "buyer"
    if actor.role is None and actor.id == dispute.provider_id:
        return "provider"
    raise NotAPartyError(
        f"{actor.id!r} is not a party to dispute {dispute.id}", dispute_id=dispute.id
    )


def require_open(dispute: Dispute) -> None:
    if dispute.status not in OPEN_STATUSES:
        raise DisputeClosedError(
            f"dispute {dispute.id} is {dispute.status}; nothing more can be done in it",
            dispute_id=dispute.id,
            status=dispute.status,
        )


def _touch(dispute: Dispute, role: str, now: datetime, settings: Settings) -> None:
    """Any act by the other party is their response: the default outcome no longer looms."""
    dispute.updated_at = now
    if role != dispute.opener_role and dispute.status == AWAITING_RESPONSE:
        dispute.status = UNDER_REVIEW
        dispute.responded_at = now
        dispute.due_at = now + settings.review_sla


def lapse_open_items(session: Session, dispute_id: str, status: str, now: datetime) -> None:
    """When a case closes, whoever closed it: open offers lapse, pending rulings are void."""
    session.execute(
        update(Offer)
        .where(Offer.dispute_id == dispute_id, Offer.status == OPEN)
        .values(status=LAPSED, decided_at=now)
    )
    session.execute(
        update(Ruling)
        .where(Ruling.dispute_id == dispute_id, Ruling.status == PENDING)
        .values(status=VOID, decided_at=now)
    )


CASE_CLOSED.append(lapse_open_items)


def open_dispute(
    uow: UnitOfWork,
    milestone_id: str,
    actor: Actor,
    reason: str,
    settings: Settings,
    claim_to_provider: int | None = None,
    claim_to_buyer: int | None = None,
    tenant: str | None = None,
    expected_version: int | None = None,
) -> Dispute:
    """Fire the policy's `dispute` event, which opens the case; the claim defaults to all."""
    args = EventArgs(
        note=text_field(reason, "reason"),
        to_provider=claim_to_provider,
        to_buyer=claim_to_buyer,
        case_id=new_id("dp"),
    )
    fire_event(
        uow, milestone_id, DISPUTE, actor, args, expected_version=expected_version, tenant=tenant
    )
    uow.session.flush()
    dispute = uow.session.get(Dispute, args.case_id)
    assert dispute is not None
    if dispute.respond_by is None:
        dispute.due_at = dispute.created_at + settings.review_sla
        uow.session.flush()
    return dispute


def add_statement(
    uow: UnitOfWork,
    dispute_id: str,
    actor: Actor,
    body: str,
    settings: Settings,
    tenant: str | None = None,
) -> Statement:
    dispute = load(uow, dispute_id, lock=True, tenant=tenant)
    role = party_role(dispute, actor)
    require_open(dispute)
    now = uow.clock.now()
    row = Statement(
        dispute_id=dispute.id,
        author_id=actor.id,
        author_role=role,
        body=text_field(body, "body"),
        created_at=now,
    )
    uow.session.add(row)
    _touch(dispute, role, now, settings)
    uow.session.flush()
    return row


def add_evidence(
    uow: UnitOfWork,
    dispute_id: str,
    actor: Actor,
    settings: Settings,
    description: str = "",
    text: str | None = None,
    upload: Upload | None = None,
    tenant: str | None = None,
) -> Evidence:
    """Text evidence, or a file (checked, then stored under its hash), never both."""
    dispute = load(uow, dispute_id, lock=True, tenant=tenant)
    role = party_role(dispute, actor)
    require_open(dispute)
    if (text is None) == (upload is None):
        raise ValidationError("evidence is either a text or a file", field="text")
    now = uow.clock.now()
    row = Evidence(
        dispute_id=dispute.id,
        author_id=actor.id,
        author_role=role,
        description=text_field(description, "description", 2_000, required=False),
        created_at=now,
    )
    if text is not None:
        row.text = text_field(text, "text")
    else:
        assert upload is not None
        store = EvidenceStore(settings)
        row.filename = store.check(upload)
        row.content_type = upload.content_type.split(";")[0].strip().lower()
        row.size = len(upload.data)
        row.sha256 = store.put(upload.data)
    uow.session.add(row)
    _touch(dispute, role, now, settings)
    uow.session.flush()
    return row


def make_offer(
    uow: UnitOfWork,
    dispute_id: str,
    actor: Actor,
    to_provider: int,
    to_buyer: int,
    settings: Settings,
    note: str = "",
    tenant: str | None = None,
) -> Offer:
    """Propose a settlement; it replaces the same party's earlier open offer."""
    dispute = load(uow, dispute_id, lock=True, tenant=tenant)
    role = party_role(dispute, actor)
    require_open(dispute)
    to_provider, to_buyer = check_split(to_provider, to_buyer, escrow_of(uow, dispute))
    now = uow.clock.now()
    uow.session.execute(
        update(Offer)
        .where(Offer.dispute_id == dispute.id, Offer.status == OPEN, Offer.offered_by == actor.id)
        .values(status=LAPSED, decided_at=now)
    )
    offer = Offer(
        id=new_id("of"),
        dispute_id=dispute.id,
        offered_by=actor.id,
        offered_by_role=role,
        to_provider=to_provider,
        to_buyer=to_buyer,
        note=text_field(note, "note", 2_000, required=False),
        status=OPEN,
        created_at=now,
    )
    uow.session.add(offer)
    _touch(dispute, role, now, settings)
    uow.session.flush()
    return offer


def _open_offer(uow: UnitOfWork, dispute: Dispute, offer_id: str, role: str) -> Offer:
    offer = uow.session.get(Offer, offer_id) if isinstance(offer_id, str) else None
    if offer is None or offer.dispute_id != dispute.id:
        raise DisputeNotFoundError(f"no offer {offer_id!r} in this dispute", offer_id=offer_id)
    if offer.status != OPEN:
        raise DisputeClosedError(
            f"offer {offer.id} is {offer.status}", offer_id=offer.id, status=offer.status
        )
    if offer.offered_by_role == role:
        raise NotAPartyError("only the other party can answer an offer", offer_id=offer.id)
    return offer


def accept_offer(
    uow: UnitOfWork, dispute_id: str, offer_id: str, actor: Actor, tenant: str | None = None
) -> Dispute:
    """Settle the milestone with the offered amounts (the policy's `accept_offer`)."""
    dispute = load(uow, dispute_id, lock=True, tenant=tenant)
    role = party_role(dispute, actor)
    require_open(dispute)
    offer = _open_offer(uow, dispute, offer_id, role)
    fire_event(
        uow,
        dispute.milestone_id,
        "accept_offer",
        actor,
        EventArgs(
            to_provider=offer.to_provider,
            to_buyer=offer.to_buyer,
            offer_by=offer.offered_by_role,
            note=offer.note,
            case_id=dispute.id,
            extra={"offer_id": offer.id},
        ),
    )
    offer.status, offer.decided_at = ACCEPTED, uow.clock.now()
    uow.session.flush()
    uow.session.refresh(dispute)
    return dispute


def reject_offer(
    uow: UnitOfWork,
    dispute_id: str,
    offer_id: str,
    actor: Actor,
    settings: Settings,
    tenant: str | None = None,
) -> Offer:
    dispute = load(uow, dispute_id, lock=True, tenant=tenant)
    role = party_role(dispute, actor)
    require_open(dispute)
    offer = _open_offer(uow, dispute, offer_id, role)
    now = uow.clock.now()
    offer.status, offer.decided_at = REJECTED, now
    _touch(dispute, role, now, settings)
    uow.session.flush()
    return offer


def withdraw(uow: UnitOfWork, dispute_id: str, actor: Actor, tenant: str | None = None) -> Dispute:
    """The opener takes the dispute back; the milestone returns to where it was."""
    dispute = load(uow, dispute_id, lock=True, tenant=tenant)
    party_role(dispute, actor)
    require_open(dispute)
    fire_event(uow, dispute.milestone_id, "withdraw", actor, EventArgs(case_id=dispute.id))
    uow.session.flush()
    uow.session.refresh(dispute)
    return dispute


def escrow_of(uow: UnitOfWork, dispute: Dispute) -> int:
    """The escrow at stake now: the milestone row's own figure (one source for it)."""
    milestone = uow.session.get(Milestone, dispute.milestone_id)
    assert milestone is not None
    return milestone.escrow
