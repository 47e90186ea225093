"""What one party's page shows: read in one read-only unit of work, formatted by Babel.

Figures come from the same summaries as the API; "what this party may do now" from the
same `allowed_events`; the dispute from arbitration's party view (never staff notes).
Each deadline carries its evidence: the notices of the event that started it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_currency
from sqlalchemy import select

from arbitration import views as dispute_views
from engine.domain.actors import Actor
from engine.domain.money import EXPONENTS
from engine.domain.summary import Summary
from engine.service.milestones import MilestoneView, view_milestone
from engine.service.uow import UnitOfWork
from engine.store import notices
from engine.store.models import Contract, Event, Milestone, PaymentRequest
from engine.store.notice_models import Notice, PartyLink
from engine.store.summaries import contract_summary

RAIL_EVENTS = {"fund"}
"""Events that need the payment rail: the page says what the marketplace must do."""
CASE_EVENTS = {"accept_offer", "withdraw"}
"""Events the dispute's own commands fire (with the offer, the case): the page offers
them in the dispute, not as bare milestone events."""
FIGURES = ("agreed", "funded", "in_escrow", "paid_to_date", "refunded", "fees", "remaining")
LABELS = {
    "agreed": "Agreed",
    "funded": "Funded",
    "in_escrow": "In escrow",
    "paid_to_date": "Paid to date",
    "refunded": "Refunded",
    "fees": "Platform fees",
    "remaining": "Remaining",
}


@dataclass(frozen=True)
class Formatter:
    """Amounts in the contract's currency and moments in the party's zone and locale."""

    locale: str
    time_zone: str
    currency: str

    def money(self, minor: int | None) -> str:
        exponent = EXPONENTS.get(self.currency, 2)
        value = Decimal(minor or 0).scaleb(-exponent)
        return format_currency(value, self.currency, locale=self.locale)

    def when(self, moment: datetime | None, form: str = "medium") -> str:
        if moment is None:
            return ""
        return format_datetime(moment, form, tzinfo=ZoneInfo(self.time_zone), locale=self.locale)

    def iso(self, moment: datetime) -> str:
        return moment.astimezone(ZoneInfo(self.time_zone)).isoformat(timespec="minutes")


@dataclass
class Card:
    view: MilestoneView
    rail_events: list[str]
    events: list[str]
    deadline_notices: list[Notice] = field(default_factory=list)
    dispute: dict[str, Any] | None = None


@dataclass
class PartyPage:
    link: PartyLink
    role: str
    party_id: str
    contract: Contract
    summary: Summary
    cards: list[Card]
    requests: list[PaymentRequest]
    history: list[Event]
    notices: list[Notice]
    fmt: Formatter

    @property
    def actor(self) -> Actor:
        return Actor(self.party_id)

    def figures(self, summary: Summary) -> list[tuple[str, str, str]]:
        return [(name, LABELS[name], self.fmt.money(getattr(summary, name))) for name in FIGURES]


def party_of(contract: Contract, role: str) -> str:
    return contract.buyer_id if role == "buyer" else contract.provider_id


def read_page(uow: UnitOfWork, link: PartyLink, locale: str, time_zone: str) -> PartyPage:
    session = uow.session
    contract = session.get(Contract, link.contract_id)
    assert contract is not None  # a link's contract is never deleted
    actor = Actor(party_of(contract, link.role))
    ids = session.scalars(
        select(Milestone.id)
        .where(Milestone.contract_id == contract.id)
        .order_by(Milestone.position)
    )
    cards = [_card(uow, view_milestone(uow, m, actor), actor) for m in list(ids)]
    requests = list(
        session.scalars(
            select(PaymentRequest)
            .where(PaymentRequest.contract_id == contract.id)
            .order_by(PaymentRequest.created_at, PaymentRequest.id)
        )
    )
    history = list(
        session.scalars(
            select(Event).where(Event.contract_id == contract.id).order_by(Event.seq.desc())
        )
    )
    return PartyPage(
        link=link,
        role=link.role,
        party_id=actor.id,
        contract=contract,
        summary=contract_summary(session, contract),
        cards=cards,
        requests=requests,
        history=history,
        notices=notices.of_contract(session, contract.id, link.role),
        fmt=Formatter(locale, time_zone, contract.currency),
    )


def _card(uow: UnitOfWork, view: MilestoneView, actor: Actor) -> Card:
    card = Card(
        view=view,
        rail_events=[e for e in view.allowed_events if e in RAIL_EVENTS],
        events=[e for e in view.allowed_events if e not in RAIL_EVENTS | CASE_EVENTS],
    )
    if view.next_deadline is not None:
        card.deadline_notices = deadline_evidence(uow, view)
    milestone = uow.session.get(Milestone, view.id)
    if milestone is not None and milestone.dispute_id is not None:
        card.dispute = dispute_views.party_view(uow, milestone.dispute_id, actor)
        due = card.dispute["respond_by"]
        card.dispute["respond_by_at"] = datetime.fromisoformat(due) if due else None
    return card


def deadline_evidence(uow: UnitOfWork, view: MilestoneView) -> list[Notice]:
    """The notices of the event that entered the milestone's state, which started its
    deadline: who was told, and when it was sent, delivered and seen."""
    entered = uow.session.scalars(
        select(Event.id)
        .where(Event.milestone_id == view.id, Event.to_state == view.state)
        .order_by(Event.seq.desc())
        .limit(1)
    ).first()
    if entered is None:
        return []
    return list(
        uow.session.scalars(select(Notice).where(Notice.event_id == entered).order_by(Notice.id))
    )


def evidence_line(notice: Notice, fmt: Formatter) -> str:
    """ "provider notified 27 Nov 2026, 10:02 by email, page seen 10:15" (or what is missing)."""
    parts = [f"{notice.role} notified {fmt.when(notice.created_at, 'short')} on the page"]
    if notice.delivered_at is not None:
        parts.append(f"email accepted {fmt.when(notice.delivered_at, 'short')}")
    elif notice.email_status == notices.NO_ADDRESS:
        parts.append("no email address")
    else:
        parts.append(f"email {notice.email_status}")
    if notice.seen_at is not None:
        parts.append(f"page seen {fmt.when(notice.seen_at, 'short')}")
    else:
        parts.append("page not yet seen")
    return "; ".join(parts)
