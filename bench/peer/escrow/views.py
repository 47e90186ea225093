"""The routes a lifecycle takes: create a contract with its milestones, fire a milestone's event.

Same requests, answers and refusals as Tranche's POST /v1/contracts and
POST /v1/milestones/{id}/events/{event} (web/api/views_contracts.py, views_milestones.py).
"""

import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django_fsm import has_transition_perm
from moneyed import CURRENCIES

from . import api, chain, ledger
from .api import Problem
from .models import EVENTS, FINAL, POLICY, SERVED, TIMERS, Contract, Milestone, Timer

MAX_AMOUNT = 10**15
MILESTONES_AT_CREATION = 50


def new_id(prefix: str) -> str:
    """Tranche's ids: milliseconds then 64 random bits, so they sort by creation."""
    return f"{prefix}_{time.time_ns() // 1_000_000:012x}{secrets.token_hex(8)}"


def _answer(request: HttpRequest, respond: Any) -> HttpResponse:
    if request.method != "POST":
        return Problem("method_not_allowed", "only POST", allowed_methods=["POST"]).response(
            request
        )
    try:
        return respond()
    except Problem as refused:
        return refused.response(request)


def no_route(request: HttpRequest) -> HttpResponse:
    return Problem("not_found", "no such route").response(request)


# Bodies ------------------------------------------------------------------------------------
def _amount(value: Any) -> str | None:
    """What is wrong with an amount (a whole number of minor units, 1 to 10**15), or None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return "Not a valid integer."
    if not 1 <= value <= MAX_AMOUNT:
        return f"Must be greater than or equal to 1 and less than or equal to {MAX_AMOUNT}."
    return None


def _text(value: Any, low: int, high: int) -> str | None:
    if not isinstance(value, str):
        return "Not a valid string."
    return None if low <= len(value) <= high else f"Length must be between {low} and {high}."


def _check(body: Any, spec: dict[str, Any], required: set[str]) -> dict[str, Any]:
    """Field -> messages, as Tranche's schemas (marshmallow) name them."""
    if not isinstance(body, dict):
        return {"_schema": ["Invalid input type."]}
    errors: dict[str, Any] = {name: ["Unknown field."] for name in body if name not in spec}
    for name, check in spec.items():
        if name not in body:
            if name in required:
                errors[name] = ["Missing data for required field."]
        elif (message := check(body[name])) is not None:
            errors[name] = message if isinstance(message, dict) else [message]
    return errors


def _party(value: Any) -> str | None:
    if isinstance(value, str) and api.PARTY_ID.fullmatch(value):
        return None
    return "1 to 128 printable ASCII characters, no space at either end"


MILESTONE = {"title": lambda v: _text(v, 1, 200), "amount": _amount}


def _milestones(value: Any) -> Any:
    if not isinstance(value, list):
        return "Not a valid list."
    if len(value) > MILESTONES_AT_CREATION:
        return f"Longer than maximum length {MILESTONES_AT_CREATION}."
    errors = {str(i): e for i, m in enumerate(value) if (e := _check(m, MILESTONE, set(MILESTONE)))}
    return errors or None


CONTRACT = {
    "buyer_id": _party,
    "provider_id": _party,
    "currency": lambda v: (
        None
        if isinstance(v, str) and len(v) == 3 and v.isascii() and v.isupper() and v.isalpha()
        else "String does not match expected pattern."
    ),
    "agreed_amount": _amount,
    "title": lambda v: _text(v, 1, 200),
    "policy": lambda v: _text(v, 1, 64),
    "milestones": _milestones,
}
EVENT_BODY = {
    "amount": lambda v: None if v is None else _amount(v),
    "note": lambda v: _text(v, 0, 2000),
}


def _valid(body: Any, spec: dict[str, Any], required: set[str]) -> dict[str, Any]:
    errors = _check(body, spec, required)
    if errors:
        raise Problem("validation", "some fields are not valid", errors=errors)
    return body


# Answers ------------------------------------------------------------------------------------
def _moment(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _summary(currency: str, agreed: int, milestone: Milestone | None = None) -> dict[str, Any]:
    m = milestone
    released = m.released if m else 0
    return {
        "currency": currency,
        "agreed": agreed,
        "funded": m.funded if m else 0,
        "in_escrow": m.escrow if m else 0,
        "released": released,
        "direct_payments": 0,
        "paid_to_date": released,
        "refunded": m.refunded if m else 0,
        "fees": m.fees if m else 0,
        "remaining": agreed - released,
        "pending_funding": 0,
        "charged_back": 0,
    }


def allowed_events(milestone: Milestone, role: str | None) -> list[str]:
    """What `role` may fire now: django-fsm's transitions whose permission and conditions
    pass, in the policy's order."""
    if role is None:
        return []
    names = {t.name for t in milestone.get_available_user_state_transitions(role)}
    return [event for event in EVENTS if event in names]


def milestone_json(
    milestone: Milestone,
    contract: Contract,
    role: str | None,
    timer: Timer | None = None,
) -> dict[str, Any]:
    """The milestone as Tranche answers it (web/api/present.py), with its next deadline: the
    timer started by this request, else the pending one of a state that has timers."""
    if timer is None and milestone.state in TIMERS:
        pending = milestone.timer_set.filter(status="pending").order_by("due_at")
        timer = pending.first()
    deadline = None
    if timer is not None:
        deadline = {
            "event": timer.event,
            "due_at": _moment(timer.due_at),
            "description": timer.description,
            "outcome": TIMERS[milestone.state][3],
        }
    return {
        "id": milestone.id,
        "contract_id": contract.id,
        "position": milestone.position,
        "title": milestone.title,
        "amount": milestone.amount,
        "currency": contract.currency,
        "state": milestone.state,
        "final": milestone.state in FINAL,
        "policy": {"name": POLICY[0], "version": POLICY[1]},
        "version": milestone.version,
        "revisions": milestone.revisions,
        "role": role,
        "allowed_events": allowed_events(milestone, role),
        "summary": _summary(contract.currency, milestone.amount, milestone),
        "next_deadline": deadline,
        "created_at": _moment(milestone.created_at),
        "updated_at": _moment(milestone.updated_at),
    }


def role_of(contract: Contract, actor: str) -> str:
    if actor == contract.buyer_id:
        return "buyer"
    if actor == contract.provider_id:
        return "provider"
    raise Problem(
        "not_a_party",
        f"{actor!r} is neither the buyer nor the provider of contract {contract.id}",
        actor=actor,
        contract_id=contract.id,
    )


# POST /v1/contracts -------------------------------------------------------------------------
def create_contract(request: HttpRequest) -> HttpResponse:
    def respond() -> HttpResponse:
        tenant, body = api.read(request)
        fields = {"policy": "fixed-price", "milestones": []}
        fields |= _valid(body, CONTRACT, set(CONTRACT) - {"policy", "milestones"})
        actor = api.actor(request, required=False)
        key = api.idempotency_key(request)
        return api.run(request, tenant, key, fields, lambda: _create(tenant, fields, actor))

    return _answer(request, respond)


def _create(tenant: str, fields: dict[str, Any], actor: str | None) -> api.Result:
    buyer, provider = fields["buyer_id"], fields["provider_id"]
    if buyer == provider:
        raise Problem("validation", "the buyer and the provider must be different people")
    if "system" in (buyer, provider):
        raise Problem("validation", "'system' is reserved for the engine's timers")
    if fields["policy"] != POLICY[0]:
        name = fields["policy"]
        raise Problem("not_found", f"no policy named {name!r} is published", name=name)
    if fields["currency"] not in CURRENCIES:
        raise Problem("unknown_currency", f"{fields['currency']!r} is not an ISO 4217 code")
    now = timezone.now()
    contract = Contract.objects.create(
        id=new_id("ct"),
        tenant=tenant,
        buyer_id=buyer,
        provider_id=provider,
        currency=fields["currency"],
        agreed_amount=fields["agreed_amount"],
        title=fields["title"].strip(),
        created_at=now,
        event_seq=0,
        last_event_hash=chain.GENESIS,
    )
    chain.append(
        contract,
        "contract_created",
        buyer,
        "buyer",
        now,
        amount=contract.agreed_amount,
        data={"provider_id": provider, "title": contract.title},
    )
    role = role_of(contract, actor) if actor else None
    committed, added = 0, []
    for index, proposed in enumerate(fields["milestones"]):
        amount = proposed["amount"]
        if committed + amount > contract.agreed_amount:
            raise Problem(
                "exceeds_agreed",
                f"milestones would total {committed + amount}, more than the agreed "
                f"{contract.agreed_amount}",
                agreed=contract.agreed_amount,
                committed=committed,
                amount=amount,
                milestone_index=index,
            )
        committed += amount
        milestone = Milestone.objects.create(
            id=new_id("ms"),
            contract=contract,
            position=index + 1,
            title=proposed["title"].strip(),
            amount=amount,
            created_at=now,
            updated_at=now,
        )
        chain.append(
            contract,
            "milestone_added",
            actor or buyer,
            role or "buyer",
            now,
            milestone=milestone,
            amount=amount,
            to_state=milestone.state,
            data={"title": milestone.title, "position": milestone.position},
        )
        added.append(milestone)
    body = {
        "id": contract.id,
        "title": contract.title,
        "buyer_id": buyer,
        "provider_id": provider,
        "currency": contract.currency,
        "agreed_amount": contract.agreed_amount,
        "policy": {"name": POLICY[0], "version": POLICY[1]},
        "created_at": _moment(now),
        "summary": _summary(contract.currency, contract.agreed_amount),
        "milestones": [milestone_json(m, contract, role) for m in added],
    }
    return 201, body, {"Location": f"/v1/contracts/{contract.id}"}


# POST /v1/milestones/{id}/events/{event} ----------------------------------------------------
def fire(request: HttpRequest, milestone_id: str, event: str) -> HttpResponse:
    def respond() -> HttpResponse:
        tenant, body = api.read(request)
        args = {"note": ""} | _valid(body, EVENT_BODY, set())
        actor = api.actor(request)
        assert actor is not None
        version = api.if_match(request)
        key = api.idempotency_key(request)
        return api.run(
            request,
            tenant,
            key,
            {"body": args, "if_match": version},
            lambda: _fire(tenant, milestone_id, event, actor, version),
        )

    return _answer(request, respond)


def _fire(
    tenant: str, milestone_id: str, event: str, actor: str, version: int | None
) -> api.Result:
    """Lock the milestone (and its contract), check, transition, post, time, record."""
    milestone = (
        Milestone.objects.select_related("contract")
        .select_for_update()
        .filter(pk=milestone_id)
        .first()
    )
    if milestone is None or milestone.contract.tenant != tenant:
        raise Problem("not_found", f"no milestone {milestone_id!r}", milestone_id=milestone_id)
    contract = milestone.contract
    role = role_of(contract, actor)
    if version is not None and milestone.version != version:
        raise Problem(
            "precondition_failed",
            f"milestone is at version {milestone.version}, not {version}",
            current_version=milestone.version,
            expected_version=version,
        )
    source = milestone.state

    def refusal() -> dict[str, Any]:
        allowed = allowed_events(milestone, role)
        return {"event": event, "state": source, "actor": role, "allowed_events": allowed}

    if event not in EVENTS:
        raise Problem(
            "unknown_event",
            f"policy {POLICY[0]} v{POLICY[1]} has no event {event!r}",
            **refusal(),
            known_events=EVENTS,
        )
    move = getattr(milestone, event, None)  # the dispute's own events have no method here
    if move is None or not has_transition_perm(move, role):
        raise Problem(
            "forbidden_event", f"{role} may not {event} a milestone that is {source}", **refusal()
        )
    if event not in SERVED:
        raise Problem("not_implemented", f"the peer does not carry out {event!r}", **refusal())
    custom = move._django_fsm.get_transition(source).custom
    escrow = milestone.escrow
    move()  # django-fsm: checks the source state, sets the target
    now = timezone.now()
    movements, entries = [], []
    if effect := custom.get("effect"):
        kind, amount = ("hold", milestone.amount) if effect == "hold" else ("release", escrow)
        entries.append(
            ledger.post(kind, amount, contract.currency, milestone.id, contract.provider_id, now)
        )
        movements.append({"kind": kind, "amount": amount})
        if kind == "hold":
            milestone.escrow += amount
            milestone.funded += amount
        else:  # release_rest: all the escrow, less the fee, to the provider
            milestone.escrow -= amount
            milestone.released += amount
            milestone.fees += ledger.fee_of(amount)
    started = None
    if source in TIMERS and milestone.state != source:
        Timer.objects.filter(milestone=milestone, status="pending").update(
            status="cancelled", finished_at=now
        )
    if milestone.state in TIMERS and milestone.state != source:
        timer_event, days, description, _ = TIMERS[milestone.state]
        started = Timer.objects.create(
            milestone=milestone,
            event=timer_event,
            description=description,
            due_at=now + timedelta(days=days),
            created_at=now,
        )
    milestone.previous_state, milestone.entered_by = source, role
    milestone.version += 1
    milestone.updated_at = now
    milestone.save(update_fields=_CHANGED)  # ConcurrentTransitionMixin: WHERE state = source
    chain.append(
        contract,
        event,
        actor,
        role,
        now,
        milestone=milestone,
        amount=sum(m["amount"] for m in movements) if movements else None,
        from_state=source,
        to_state=milestone.state,
        data={
            "movements": movements,
            "ledger_entries": entries,
            "notify": custom.get("notify", []),
            "escrow_after": milestone.escrow,
        },
    )
    body = milestone_json(milestone, contract, role, started)
    return 200, body, {"ETag": f'"{milestone.version}"'}


_CHANGED = [
    "state",
    "version",
    "escrow",
    "funded",
    "released",
    "fees",
    "previous_state",
    "entered_by",
    "updated_at",
]
