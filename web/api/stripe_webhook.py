"""Stripe's webhooks: the tenant's endpoint (configured by API key) and the receiver.

The receiver is public (Stripe sends no API key): the endpoint id in its URL names
the tenant, and Stripe's signature, made with the secret the integrator configured,
is what authenticates it. Nothing is read or written before the signature checks.
What each event does is engine.service.stripe_events'.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import stripe
from flask import Response, current_app, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine.domain.errors import ConflictError
from engine.service import stripe_events
from engine.service.sandbox import tenant_clock
from engine.service.tranche import conflicts_as_errors
from engine.service.uow import UnitOfWork
from engine.store.keyring import Keyring, KeyringError
from engine.store.models import RailEndpoint, RailEvent
from web.api import auth, body, present, schemas
from web.api.commands import json_response, run, tranche
from web.api.problems import ProblemError

blp = Blueprint("rails", __name__, url_prefix="/v1", description="Payment rails: Stripe")
RECEIVER = "rails.receive_stripe_event"
"""The receiver's endpoint name: the auth guard lets it through without an API key."""
BODY_LIMIT = 256 * 1024
"""Bytes of an event; Stripe's are a few kilobytes."""
EVENTS_PATH = "/v1/rails/stripe/events/"
ENDPOINT_ID = re.compile("[a-z0-9_]{1,40}")


class StripeEndpointIn(Schema):
    signing_secret = fields.String(
        required=True,
        validate=validate.Regexp(r"^whsec_[!-~]{8,200}$"),
        metadata={"description": "the endpoint's signing secret from Stripe (whsec_...)"},
    )


class StripeEndpointOut(Schema):
    rail = fields.String(required=True)
    endpoint_url = fields.String(
        required=True, metadata={"description": "append to this server's public base URL"}
    )
    created_at = fields.DateTime(required=True)


class RailEventOut(Schema):
    event_id = fields.String(required=True)
    type = fields.String(required=True)
    outcome = fields.String(required=True)
    received_at = fields.DateTime(required=True)
    replayed = fields.Boolean(metadata={"description": "a redelivery: nothing was done again"})


class RailEventPage(Schema):
    data = fields.List(fields.Nested(RailEventOut), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


def _endpoint(row: RailEndpoint) -> dict[str, Any]:
    return {
        "rail": row.rail,
        "endpoint_url": EVENTS_PATH + row.id,
        "created_at": present.moment(row.created_at),
    }


def _event(row: RailEvent) -> dict[str, Any]:
    return {
        "event_id": row.event_id,
        "type": row.type,
        "outcome": row.outcome,
        "received_at": present.moment(row.received_at),
    }


def _keyring() -> Keyring:
    """The webhook subscriptions' keys: without them no secret is stored, or read."""
    keyring = current_app.extensions["tranche_webhooks"].keyring
    if keyring is None:
        raise ProblemError(
            "encryption_unconfigured",
            "signing secrets are stored encrypted and this server has no key: "
            "the operator must set TRANCHE_ENCRYPTION_KEYS",
        )
    return keyring


@blp.route("/rails/stripe", methods=["PUT"])
@blp.arguments(StripeEndpointIn())
@blp.response(200, StripeEndpointOut)
@blp.alt_response(201, schema=StripeEndpointOut, description="the endpoint was made")
@blp.alt_response(503, description="no encryption keys are configured for signing secrets")
def put_stripe_endpoint(args: dict[str, Any]) -> Any:
    """Store the signing secret of the tenant's Stripe endpoint (encrypted), or replace it.

    Set the answer's `endpoint_url` as the endpoint's URL in Stripe's dashboard; it
    stays the same when the secret is replaced."""
    keyring = _keyring()

    def command(uow: UnitOfWork) -> Any:
        token = keyring.encrypt(args["signing_secret"])
        endpoint, made = stripe_events.configure(uow, auth.tenant(), token)
        return (201 if made else 200), _endpoint(endpoint), {}

    fingerprint = hashlib.sha256(args["signing_secret"].encode()).hexdigest()
    return run(command, {"signing_secret_sha256": fingerprint})  # no secret kept in clear


@blp.route("/rails/stripe", methods=["GET"])
@blp.response(200, StripeEndpointOut)
def get_stripe_endpoint() -> Any:
    """The tenant's Stripe endpoint (its secret is never shown)."""
    with tranche().reading() as uow:
        return json_response(200, _endpoint(stripe_events.endpoint_of(uow, auth.tenant())))


@blp.route("/rails/stripe", methods=["DELETE"])
@blp.response(204)
def delete_stripe_endpoint() -> Any:
    """Remove the endpoint and the events it received; Stripe's deliveries then get 404."""
    with conflicts_as_errors(), tranche().unit_of_work() as uow:
        stripe_events.remove(uow, auth.tenant())
        uow.commit()
    return Response(status=204)


@blp.route("/rails/stripe/events", methods=["GET"])
@blp.arguments(schemas.PageArgs(), location="query")
@blp.response(200, RailEventPage)
def list_stripe_events(args: dict[str, Any]) -> Any:
    """The events Stripe delivered, oldest first, with what each did; pass `next_cursor`
    as `after` for the next page."""
    with tranche().reading() as uow:
        rows = stripe_events.received(uow, auth.tenant(), args["limit"] + 1, args.get("after"))
    page = rows[: args["limit"]]
    more = len(rows) > args["limit"]
    data = [_event(row) for row in page]
    return json_response(200, {"data": data, "next_cursor": page[-1].event_id if more else None})


@blp.route("/rails/stripe/events/<string:endpoint_id>", methods=["POST"])
@blp.doc(
    security=[],
    requestBody={"content": {"application/json": {"schema": {"type": "object"}}}},
    parameters=[
        {
            "name": "Stripe-Signature",
            "in": "header",
            "required": True,
            "schema": {"type": "string", "maxLength": 1000},
        }
    ],
)
@blp.response(200, RailEventOut)
@blp.alt_response(400, description="the Stripe-Signature is missing, wrong or too old")
@blp.alt_response(404, description="no such endpoint")
def receive_stripe_event(endpoint_id: str) -> Any:
    """An event from Stripe, verified with the endpoint's secret and acted on once.

    Answers 200 whenever the event is recorded, even when Tranche ignored or refused it
    (the outcome says so): Stripe retries anything else. A redelivery answers with the
    first delivery's outcome."""
    request.max_content_length = BODY_LIMIT
    payload = request.get_data(cache=False)  # 413 beyond the limit
    endpoint = None
    if ENDPOINT_ID.fullmatch(endpoint_id):  # else no query: the database may refuse the text
        with tranche().reading() as uow:
            endpoint = uow.session.get(RailEndpoint, endpoint_id)
    if endpoint is None:
        raise ProblemError("not_found", "no such rail endpoint")
    try:
        secret = _keyring().decrypt(endpoint.secret)
    except KeyringError as exc:
        raise ProblemError("encryption_unconfigured", "no configured key reads the secret") from exc
    header = request.headers.get("Stripe-Signature", "")
    try:
        if not (header.isascii() and header.isprintable() and len(header) <= 1000):
            raise stripe.SignatureVerificationError("not a Stripe-Signature", header)
        stripe.WebhookSignature.verify_header(
            payload, header, secret, stripe.Webhook.DEFAULT_TOLERANCE
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
        raise ProblemError(
            "signature_invalid", f"the Stripe-Signature does not verify this body: {exc}"
        ) from None
    body.check_json_body(payload)
    event = json.loads(payload)
    try:  # a sandbox's events happen at its test clock's time, as its API calls do
        with (
            tenant_clock(tranche(), endpoint.tenant),
            conflicts_as_errors(),
            tranche().unit_of_work() as uow,
        ):
            got = stripe_events.receive(uow, endpoint, event)
            answer = _event(got.event) | {"replayed": got.replayed}
            uow.commit()
    except ConflictError:
        # A concurrent delivery of the same event won: answer with its outcome.
        with tranche().reading() as uow:
            earlier = stripe_events.stored(uow, endpoint.id, str(event.get("id")))
        if earlier is None:
            raise
        answer = _event(earlier) | {"replayed": True}
    return json_response(200, answer)
