"""What the parties do in a dispute: open it, speak, show evidence, offer, accept, withdraw.

Each command runs in the caller's unit of work and never commits. Commands that
move the milestone (open, accept, withdraw) fire the policy's own events through
`engine.milestones.fire_event`, so the dispute rows and the transition commit
together. The other party "responds" by any act in the case; until they do, the
policy's response deadline runs (see `deadlines`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from arbitration.errors import DisputeClosedError, DisputeNotFoundError
from arbitration.evidence import EvidenceStore, Upload
from arbitration.models import (
    AWAITING_RESPONSE,
    OPEN_STATUSES,
    SETTLED,
    UNDER_REVIEW,
    WITHDRAWN,
    Dispute,
    Evidence,
    Offer,
    Ruling,
    Statement,
)
from arbitration.settings import Settings
from engine.actors import Actor
from engine.errors import InvalidAmountError, NotAPartyError, ValidationError
from engine.ledger import escrow_balance
from engine.milestones import EventArgs, fire_event, load_for_update, milestone_policy
from engine.models import new_id
from engine.uow import UnitOfWork

MAX_TEXT = 20_000
OPEN, ACCEPTED, REJECTED, LAPSED = "open", "accepted", "rejected", "lapsed"
PENDING, APPLIED, DECLINED, VOID = "pending", "applied", "declined", "void"


def text_field(value: object, name: str, limit: int = MAX_TEXT, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValidationError(f"{name} must be a non-empty text", field=name)
    if len(value) > limit:
        raise ValidationError(f"{name} must be at most {limit} characters", field=name)
    return value.strip()


def check_split(to_provider: object, to_buyer: object, escrow: int) -> tuple[int, int]:
    """Two whole amounts >= 0 that sum exactly to the escrow held."""
    for name, value in (("to_provider", to_provider), ("to_buyer", to_buyer)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidAmountError(f"{name} must be a whole amount >= 0", field=name)
    assert isinstance(to_provider, int)
    assert isinstance(to_buyer, int)
    if to_provider + to_buyer != escrow:
        raise InvalidAmountError(
            f"the amounts must sum exactly to the escrow of {escrow}, "
            f"got {to_provider} + {to_buyer} = {to_provider + to_buyer}",
            escrow=escrow,
            to_provider=to_provider,
            to_buyer=to_buyer,
        )
    return to_provider, to_buyer


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


def close(uow: UnitOfWork, dispute: Dispute, status: str, now: datetime) -> None:
    """Mark the case decided; open offers lapse and pending rulings become void."""
    dispute.status, dispute.closed_at, dispute.updated_at = status, now, now
    uow.session.execute(
        update(Offer)
        .where(Offer.dispute_id == dispute.id, Offer.status == OPEN)
        .values(status=LAPSED, decided_at=now)
    )
    uow.session.execute(
        update(Ruling)
        .where(Ruling.dispute_id == dispute.id, Ruling.status == PENDING)
        .values(status=VOID, decided_at=now)
    )


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
    """Fire the policy's `dispute` event and open the case; the claim defaults to everything."""
    reason = text_field(reason, "reason")
    now = uow.clock.now()
    dispute_id = new_id("dp")
    event = fire_event(
        uow,
        milestone_id,
        "dispute",
        actor,
        EventArgs(note=reason, extra={"dispute_id": dispute_id}),
        expected_version=expected_version,
        tenant=tenant,
    )
    milestone, contract = load_for_update(uow, milestone_id, tenant)
    escrow = escrow_balance(uow.session, milestone.id)
    role = event.actor_role
    if claim_to_provider is None and claim_to_buyer is None:
        claim_to_provider, claim_to_buyer = (escrow, 0) if role == "provider" else (0, escrow)
    to_provider, to_buyer = check_split(claim_to_provider, claim_to_buyer, escrow)
    window = milestone_policy(uow, milestone).dispute_response
    dispute = Dispute(
        id=dispute_id,
        milestone_id=milestone.id,
        contract_id=contract.id,
        tenant=contract.tenant,
        buyer_id=contract.buyer_id,
        provider_id=contract.provider_id,
        opened_by=actor.id,
        opener_role=role,
        reason=reason,
        claim_to_provider=to_provider,
        claim_to_buyer=to_buyer,
        amount=escrow,
        currency=contract.currency,
        status=AWAITING_RESPONSE if window else UNDER_REVIEW,
        respond_by=now + window if window else None,
        due_at=now + (window or settings.review_sla),
        created_at=now,
        updated_at=now,
    )
    uow.session.add(dispute)
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
    escrow = escrow_balance(uow.session, dispute.milestone_id)
    to_provider, to_buyer = check_split(to_provider, to_buyer, escrow)
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
            extra={"dispute_id": dispute.id, "offer_id": offer.id},
        ),
    )
    now = uow.clock.now()
    offer.status, offer.decided_at = ACCEPTED, now
    close(uow, dispute, SETTLED, now)
    uow.session.flush()
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
    fire_event(
        uow, dispute.milestone_id, "withdraw", actor, EventArgs(extra={"dispute_id": dispute.id})
    )
    close(uow, dispute, WITHDRAWN, uow.clock.now())
    uow.session.flush()
    return dispute
