"""Stripe's webhook events, mapped onto the rail's calls by the reference they carry.

The HTTP layer verifies the signature; this module gets the verified event as a dict
and says what it did, as a short outcome kept with Stripe's event id (a `RailEvent`).
The RailEvent is inserted before the effect, in the same transaction: a second
delivery of the same id, even a concurrent one, meets its primary key and changes
nothing (web.api.stripe_webhook then answers with the stored outcome).

Stripe retries every delivery that is not answered with a 2xx, for days. So an event
Tranche cannot act on is still answered 200 and recorded: an event type it does not
map, a reference it does not know (a charge the integrator made outside Tranche), and
a refusal by Tranche's rules (an amount that does not match, a payout already
settled). Retrying would change none of them; the outcome says what happened, and the
integrator reads it at GET /v1/rails/stripe/events. Only a database conflict rolls
everything back, so that Stripe retries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select

from engine.domain.errors import NotFoundError, TrancheError, ValidationError
from engine.domain.rail import CONFIRMED
from engine.service import chargebacks, fundings, payouts
from engine.service.uow import UnitOfWork
from engine.store.models import Funding, Payout, RailEndpoint, RailEvent, new_id

RAIL = "stripe"
OUTCOME_LIMIT = 500
ALREADY = "already recorded"
MAX_TIMESTAMP = 253402300799
"""9999-12-31T23:59:59Z: the last unix time a datetime can hold."""


class Ignored(Exception):
    """Nothing in Tranche matches the event; it is recorded as ignored."""


@dataclass(frozen=True, slots=True)
class Received:
    event: RailEvent
    replayed: bool


# configuration ------------------------------------------------------------------------
def endpoint_of(uow: UnitOfWork, tenant: str) -> RailEndpoint:
    found = uow.session.scalars(select(RailEndpoint).where(RailEndpoint.tenant == tenant)).first()
    if found is None or found.rail != RAIL:
        raise NotFoundError("no Stripe endpoint is configured; PUT /v1/rails/stripe makes one")
    return found


def configure(uow: UnitOfWork, tenant: str, secret_token: str) -> tuple[RailEndpoint, bool]:
    """The tenant's one endpoint, made or given a new (encrypted) secret; True if made.

    Its id stays when the secret changes, so the URL set in Stripe's dashboard stays."""
    try:
        endpoint = endpoint_of(uow, tenant)
    except NotFoundError:
        endpoint = RailEndpoint(
            id=new_id("we"),
            tenant=tenant,
            rail=RAIL,
            secret=secret_token,
            created_at=uow.clock.now(),
        )
        uow.session.add(endpoint)
        uow.session.flush()
        return endpoint, True
    endpoint.secret = secret_token
    return endpoint, False


def remove(uow: UnitOfWork, tenant: str) -> None:
    """Deletes the endpoint and the events it received (their ids meant only it)."""
    endpoint = endpoint_of(uow, tenant)
    uow.session.execute(delete(RailEvent).where(RailEvent.endpoint_id == endpoint.id))
    uow.session.delete(endpoint)


def received(uow: UnitOfWork, tenant: str, limit: int, after: str | None) -> list[RailEvent]:
    """The events received, oldest first, after the event id `after` (a page's cursor)."""
    endpoint = endpoint_of(uow, tenant)
    query = select(RailEvent).where(RailEvent.endpoint_id == endpoint.id)
    if after is not None:
        last = uow.session.get(RailEvent, (endpoint.id, after))
        if last is None:
            raise NotFoundError(f"no event {after!r} was received", event_id=after)
        query = query.where(
            or_(
                RailEvent.received_at > last.received_at,
                and_(RailEvent.received_at == last.received_at, RailEvent.event_id > after),
            )
        )
    order = (RailEvent.received_at, RailEvent.event_id)
    return list(uow.session.scalars(query.order_by(*order).limit(limit)))


# receiving ----------------------------------------------------------------------------
def stored(uow: UnitOfWork, endpoint_id: str, event_id: str) -> RailEvent | None:
    return uow.session.get(RailEvent, (endpoint_id, event_id))


def receive(uow: UnitOfWork, endpoint: RailEndpoint, event: Any) -> Received:
    """Act on a verified event once; a redelivery gets the first delivery's outcome."""
    if not isinstance(event, dict):
        raise ValidationError("the event is not a JSON object")
    event_id, kind = _text(event, "id", 255), _text(event, "type", 64)
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise ValidationError("the event has no data.object", field="data.object")
    earlier = stored(uow, endpoint.id, event_id)
    if earlier is not None:
        return Received(earlier, replayed=True)
    row = RailEvent(
        endpoint_id=endpoint.id,
        event_id=event_id,
        type=kind,
        outcome="processing",
        received_at=uow.clock.now(),
    )
    uow.session.add(row)
    uow.session.flush()  # a concurrent delivery of this id waits here, then fails
    row.outcome = _act(uow, endpoint.tenant, kind, obj)[:OUTCOME_LIMIT]
    uow.session.flush()
    return Received(row, replayed=False)


def _act(uow: UnitOfWork, tenant: str, kind: str, obj: dict[str, Any]) -> str:
    handler = HANDLERS.get(kind)
    if handler is None:
        return f"ignored: Tranche does not act on {kind}"
    try:
        with uow.session.begin_nested():  # a refusal leaves nothing of the effect behind
            return handler(uow, tenant, obj)
    except Ignored as exc:
        return f"ignored: {exc}"
    except TrancheError as exc:
        return f"refused: {exc.code}: {exc.message}"


def _payment_succeeded(uow: UnitOfWork, tenant: str, obj: dict[str, Any]) -> str:
    intent = _text(obj, "id")
    funding = _funding(uow, tenant, intent, obj)
    if funding.status == CONFIRMED and funding.rail_reference == intent:
        return ALREADY
    charge = fundings.Charge(intent, _int(obj, "amount"), _text(obj, "currency", 3))
    fundings.confirm_funding(uow, funding.id, charge, tenant)
    return f"funding {funding.id} confirmed"


def _payment_failed(uow: UnitOfWork, tenant: str, obj: dict[str, Any]) -> str:
    funding = _funding(uow, tenant, _text(obj, "id"), obj)
    error = obj.get("last_payment_error")
    error = error if isinstance(error, dict) else {}
    reason = error.get("message") or error.get("code") or "the payment failed"
    fundings.fail_funding(uow, funding.id, str(reason)[:OUTCOME_LIMIT], tenant)
    return f"funding {funding.id} failed"


def _dispute_created(uow: UnitOfWork, tenant: str, obj: dict[str, Any]) -> str:
    dispute = _text(obj, "id")
    if chargebacks.by_reference(uow, tenant, dispute) is not None:
        return ALREADY
    charged = [obj.get("payment_intent"), obj.get("charge")]
    known = [r for r in charged if isinstance(r, str) and fundings.by_reference(uow, tenant, r)]
    if not known:
        raise Ignored(f"no funding of {charged[0] or charged[1]!r} is known")
    due = obj.get("evidence_details")
    due_by = due.get("due_by") if isinstance(due, dict) else None
    chargeback = chargebacks.report_chargeback(
        uow,
        tenant,
        funding_reference=known[0],
        reference=dispute,
        amount=_int(obj, "amount"),
        currency=_text(obj, "currency", 3),
        reason=str(obj.get("reason") or "")[:OUTCOME_LIMIT],
        respond_by=_moment(due_by),
    )
    return f"chargeback {chargeback.id} booked"


def _dispute_closed(uow: UnitOfWork, tenant: str, obj: dict[str, Any]) -> str:
    dispute, status = _text(obj, "id"), _text(obj, "status", 64)
    chargeback = chargebacks.by_reference(uow, tenant, dispute)
    if chargeback is None:
        raise Ignored(f"no chargeback {dispute!r} is booked")
    if status not in ("won", "lost"):
        return f"recorded: the dispute closed as {status}; the chargeback stays booked"
    if chargeback.status == status:
        return ALREADY
    chargebacks.close_chargeback(uow, chargeback.id, won=status == "won", tenant=tenant)
    return f"chargeback {chargeback.id} {status}"


def _payout_settled(paid: bool) -> Callable[[UnitOfWork, str, dict[str, Any]], str]:
    def settle(uow: UnitOfWork, tenant: str, obj: dict[str, Any]) -> str:
        payout = _payout(uow, tenant, obj)
        status = "paid" if paid else "failed"
        if payout.status == status:
            return ALREADY
        reason = obj.get("failure_message") or obj.get("failure_code") or ""
        payouts.settle_payout(uow, payout.id, paid, str(reason)[:OUTCOME_LIMIT], tenant)
        return f"payout {payout.id} {status}"

    return settle


def _transfer_reversed(uow: UnitOfWork, tenant: str, obj: dict[str, Any]) -> str:
    payout = _payout(uow, tenant, obj)
    payouts.reverse_payout(uow, payout.id, _int(obj, "amount_reversed"), tenant)
    return f"payout {payout.id} reversed ({payout.reversed_amount} in all)"


HANDLERS: dict[str, Callable[[UnitOfWork, str, dict[str, Any]], str]] = {
    "payment_intent.succeeded": _payment_succeeded,
    "payment_intent.payment_failed": _payment_failed,
    "charge.dispute.created": _dispute_created,
    "charge.dispute.closed": _dispute_closed,
    "payout.paid": _payout_settled(paid=True),
    "payout.failed": _payout_settled(paid=False),
    "transfer.reversed": _transfer_reversed,
}


def _funding(uow: UnitOfWork, tenant: str, intent: str, obj: dict[str, Any]) -> Funding:
    """The funding of this PaymentIntent: by its reference, or by the funding id that
    the integrator put in its metadata when it opened the funding without a reference."""
    funding = fundings.by_reference(uow, tenant, intent)
    metadata = obj.get("metadata")
    named = metadata.get("tranche_funding_id") if isinstance(metadata, dict) else None
    if funding is None and isinstance(named, str) and len(named) <= 40:
        funding = uow.session.get(Funding, named)
    if funding is None or funding.tenant != tenant:
        raise Ignored(f"no funding of {intent!r} is known")
    return funding


def _payout(uow: UnitOfWork, tenant: str, obj: dict[str, Any]) -> Payout:
    reference = _text(obj, "id")
    payout = payouts.by_reference(uow, tenant, reference)
    if payout is None:
        raise Ignored(f"no payout {reference!r} is recorded")
    return payout


def _text(obj: dict[str, Any], name: str, limit: int = 255) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise ValidationError(f"{name} must be a string of 1 to {limit} characters", field=name)
    return value


def _int(obj: dict[str, Any], name: str) -> int:
    value = obj.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be a whole number of minor units", field=name)
    return value


def _moment(value: object) -> datetime | None:
    """A unix timestamp as Stripe sends it (evidence_details.due_by), or None."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TIMESTAMP:
        return None
    return datetime.fromtimestamp(value, UTC)
