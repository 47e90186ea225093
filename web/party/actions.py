"""What a party can do from its page: the API's own commands, scoped to the link.

Each action reads its fields from the form (bounded, parsed exactly), checks that the
milestone, request, dispute or offer it names belongs to the link's contract, and runs
the same engine or arbitration command as the API, as the link's party: the events it
writes carry that party's id and role. `preview` says what money the action would move
before the party confirms it, asking the same `decide` as the command.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from arbitration import disputes, quota
from arbitration.evidence import Upload
from arbitration.models import Offer
from arbitration.settings import Settings
from engine.domain.actors import Actor
from engine.domain.decision import EventArgs, decide
from engine.domain.errors import NotFoundError, TrancheError, ValidationError
from engine.domain.ledger_legs import PLATFORM_FEES, legs_for
from engine.domain.money import Money
from engine.domain.policy.vocabulary import DISPUTE
from engine.service import contracts, milestones
from engine.service.uow import UnitOfWork
from engine.store.models import Dispute, Milestone, PaymentRequest
from engine.store.notice_models import PartyLink
from web.api.body import has_forbidden_text
from web.party.page import CASE_EVENTS, RAIL_EVENTS, Formatter

TEXT_LIMIT = 2_000
MILESTONE_EVENT = "event"
OTHER_ACTIONS = (
    "request_payment",
    "pay_request",
    "decline_request",
    "statement",
    "evidence",
    "offer",
    "accept_offer",
    "reject_offer",
    "withdraw_dispute",
)


@dataclass(frozen=True)
class Action:
    """One checked request from the page: what, on what, with which arguments."""

    name: str
    target: str
    fields: Mapping[str, str]
    amount: int | None = None
    to_provider: int | None = None
    to_buyer: int | None = None

    def text(self, name: str, required: bool = False) -> str:
        value = self.fields.get(name, "").strip()
        if required and not value:
            raise ValidationError(f"write the {name}", field=name)
        if len(value) > TEXT_LIMIT:
            raise ValidationError(f"the {name} is at most {TEXT_LIMIT} characters", field=name)
        return value


def parse(form: Mapping[str, str], currency: str) -> Action:
    """The action a form names, its target id and amounts checked; anything else refused."""
    for name, value in form.items():
        if has_forbidden_text(value):
            raise ValidationError(f"the {name} holds a NUL character", field=name)
    name = form.get("action", "")
    if name != MILESTONE_EVENT and name not in OTHER_ACTIONS:
        raise ValidationError("unknown action", field="action")
    target = form.get("target", "")
    if not 1 <= len(target) <= 40:
        raise ValidationError("the form names nothing to act on", field="target")
    amounts = {k: _amount(form, k, currency) for k in ("amount", "to_provider", "to_buyer")}
    return Action(name, target, form, **amounts)


def _amount(form: Mapping[str, str], name: str, currency: str) -> int | None:
    text = form.get(name, "").strip()[:40]
    if not text:
        return None
    try:
        return Money.parse(text.replace(",", ""), currency).minor
    except TrancheError:
        raise ValidationError(f"{text!r} is not an amount in {currency}", field=name) from None


def _event(action: Action) -> str:
    event = action.text("event", required=True)
    if len(event) > 64:
        raise ValidationError("unknown event", field="event")
    if event in RAIL_EVENTS:
        raise ValidationError(
            f"{event} goes through your marketplace's payment rail, not this page", field="event"
        )
    if event in CASE_EVENTS:
        raise ValidationError(f"{event} is done in the dispute, with its offer", field="event")
    return event


def _milestone(uow: UnitOfWork, link: PartyLink, milestone_id: str) -> Milestone:
    row = uow.session.get(Milestone, milestone_id)
    if row is None or row.contract_id != link.contract_id:
        raise NotFoundError("no such milestone in this contract", milestone_id=milestone_id)
    return row


def _dispute(uow: UnitOfWork, link: PartyLink, dispute_id: str) -> Dispute:
    row = uow.session.get(Dispute, dispute_id)
    if row is None or row.contract_id != link.contract_id:
        raise NotFoundError("no such dispute in this contract", dispute_id=dispute_id)
    return row


def _request(uow: UnitOfWork, link: PartyLink, request_id: str) -> PaymentRequest:
    row = uow.session.get(PaymentRequest, request_id)
    if row is None or row.contract_id != link.contract_id:
        raise NotFoundError("no such payment request", payment_request_id=request_id)
    return row


def _event_args(action: Action, link: PartyLink) -> EventArgs:
    return EventArgs(
        amount=action.amount,
        note=action.text("note"),
        extra={"via": "party_page", "party_link": link.id},
    )


def run(uow: UnitOfWork, link: PartyLink, actor: Actor, action: Action, settings: Settings) -> str:
    """Do the action in the caller's unit of work; return what to tell the party."""
    tenant = link.tenant
    if action.name == MILESTONE_EVENT:
        milestone = _milestone(uow, link, action.target)
        event = _event(action)
        if event == DISPUTE:
            disputes.open_dispute(
                uow,
                milestone.id,
                actor,
                action.text("reason", required=True),
                settings,
                action.to_provider,
                action.to_buyer,
                tenant=tenant,
            )
        else:
            milestones.fire_event(
                uow, milestone.id, event, actor, _event_args(action, link), tenant=tenant
            )
        return f"{event.replace('_', ' ')}: done"
    if action.name == "request_payment":
        if action.target != link.contract_id:
            raise NotFoundError("no such contract", contract_id=action.target)
        contracts.request_payment(
            uow,
            link.contract_id,
            actor=actor,
            amount=action.amount,
            note=action.text("note"),
            tenant=tenant,
        )
        return "payment requested"
    if action.name in ("pay_request", "decline_request"):
        request = _request(uow, link, action.target)
        pay = action.name == "pay_request"
        contracts.decide_payment_request(uow, request.id, actor=actor, pay=pay, tenant=tenant)
        return "payment made" if pay else "request declined"
    dispute = _dispute(uow, link, action.target)
    handlers: dict[str, Callable[[], Any]] = {
        "statement": lambda: disputes.add_statement(
            uow, dispute.id, actor, action.text("body", required=True), settings, tenant
        ),
        "evidence": lambda: quota.add_evidence(
            uow,
            dispute.id,
            actor,
            settings,
            tenant,
            text=action.text("text", required=True),
            description=action.text("description"),
        ),
        "offer": lambda: disputes.make_offer(
            uow,
            dispute.id,
            actor,
            action.to_provider or 0,
            action.to_buyer or 0,
            settings,
            action.text("note"),
        ),
        "accept_offer": lambda: disputes.accept_offer(
            uow, dispute.id, action.text("offer", True), actor, tenant
        ),
        "reject_offer": lambda: disputes.reject_offer(
            uow, dispute.id, action.text("offer", True), actor, settings
        ),
        "withdraw_dispute": lambda: disputes.withdraw(uow, dispute.id, actor, tenant),
    }
    handlers[action.name]()
    return f"{action.name.replace('_', ' ')}: done"


def add_file(
    uow: UnitOfWork,
    link: PartyLink,
    actor: Actor,
    dispute_id: str,
    upload: Upload,
    description: str,
    settings: Settings,
) -> None:
    """A file of evidence, through the same quota and checks as the API's uploads (it moves
    no money, so the form itself says so instead of a confirmation step)."""
    dispute = _dispute(uow, link, dispute_id)
    if len(description) > TEXT_LIMIT:
        raise ValidationError(f"the description is at most {TEXT_LIMIT} characters")
    quota.add_evidence(
        uow, dispute.id, actor, settings, link.tenant, upload=upload, description=description
    )


def preview(uow: UnitOfWork, link: PartyLink, action: Action, fmt: Formatter) -> list[str]:
    """What money the action would move, line by line, as the command would decide it."""
    if action.name == MILESTONE_EVENT:
        milestone = _milestone(uow, link, action.target)
        event = _event(action)
        if event == DISPUTE:
            return [
                "No money moves now: the escrow stays held until the dispute is settled, "
                "withdrawn or ruled."
            ]
        policy = milestones.milestone_policy(uow, milestone)
        decision = decide(
            policy,
            milestones.snapshot_of(uow, milestone),
            event,
            link.role,
            _event_args(action, link),
            uow.clock.now(),
        )
        return [_movement_line(m, policy.platform_fee_bps, fmt) for m in decision.movements] or [
            "No money moves."
        ]
    if action.name == "pay_request":
        request = _request(uow, link, action.target)
        return [
            f"{fmt.money(request.amount)} from you to the provider: your marketplace charges "
            "you for it."
        ]
    if action.name == "request_payment":
        return [f"No money moves now: the buyer is asked to pay {fmt.money(action.amount)}."]
    if action.name == "offer":
        return [
            f"No money moves now: if accepted, {fmt.money(action.to_provider)} goes to the "
            f"provider and {fmt.money(action.to_buyer)} back to the buyer."
        ]
    if action.name == "accept_offer":
        _dispute(uow, link, action.target)
        offer = uow.session.get(Offer, action.text("offer", True))
        if offer is None or offer.dispute_id != action.target:
            raise NotFoundError("no such offer in this dispute")
        return [
            f"{fmt.money(offer.to_provider)} from escrow to the provider and "
            f"{fmt.money(offer.to_buyer)} back to the buyer, at once."
        ]
    return ["No money moves."]


def _movement_line(movement: Any, fee_bps: int, fmt: Formatter) -> str:
    legs = legs_for(movement, fee_bps)
    if any(leg.party == "provider" for leg in legs):
        fee = sum(leg.amount for leg in legs if leg.account == PLATFORM_FEES)
        line = f"{fmt.money(movement.amount)} from escrow to the provider"
        line += f" ({fmt.money(fee)} platform fee)" if fee else ""
        return line + "; the marketplace then pays it out through its payment rail"
    return (
        f"{fmt.money(movement.amount)} from escrow back to the buyer; the marketplace then "
        "refunds it through its payment rail"
    )
