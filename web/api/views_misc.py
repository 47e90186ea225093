"""The event feed, policies and webhook subscriptions."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Response, current_app
from flask_smorest import Blueprint
from sqlalchemy import select

from engine.domain.policy.diagram import MEDIA_TYPES
from engine.service.drawings import policy_diagram
from engine.service.uow import UnitOfWork
from engine.store.models import PolicyVersion, new_id
from engine.store.policy_store import get_policy
from web.api import auth, present, schemas
from web.api.commands import json_response, run, tranche
from web.api.egress import EgressRefused
from web.api.feed import catch_up, read_feed
from web.api.models import WebhookDelivery, WebhookSubscription
from web.api.problems import ProblemError
from web.api.views_milestones import DRAWING
from web.api.webhooks import WebhookSettings, redeliver

blp = Blueprint("misc", __name__, url_prefix="/v1", description="Feed, policies, webhooks")


@blp.route("/events", methods=["GET"])
@blp.arguments(schemas.FeedArgs(), location="query")
@blp.response(200, schemas.FeedPage)
def feed(args: dict[str, Any]) -> Any:
    """Everything that happened to the tenant's contracts, in commit order.

    Resume from `next_cursor`; positions follow commit order (see web.api.feed), so
    a page never skips an event that commits later, and never repeats one.
    """
    after = int(args["after"])
    with tranche().unit_of_work() as uow:  # not reading(): catch_up numbers the feed
        catch_up(uow)
        rows = read_feed(uow.session, auth.tenant(), after, args["limit"])
    data = [{"cursor": str(pos), "event": present.event(event)} for pos, event in rows]
    return json_response(
        200, {"data": data, "next_cursor": data[-1]["cursor"] if data else str(after)}
    )


def _policy_summary(row: PolicyVersion) -> dict[str, Any]:
    return {
        "name": row.name,
        "version": row.version,
        "digest": row.digest,
        "published_at": present.moment(row.published_at),
    }


@blp.route("/policies", methods=["GET"])
@blp.response(200, schemas.PolicyList)
def list_policies() -> Any:
    """Every published policy version."""
    with tranche().reading() as uow:
        rows = uow.session.scalars(
            select(PolicyVersion).order_by(PolicyVersion.name, PolicyVersion.version)
        )
        return json_response(200, {"data": [_policy_summary(r) for r in rows]})


@blp.route("/policies/<string:name>/<int:version>", methods=["GET"])
@blp.response(200, schemas.PolicyOut)
def get_policy_version(name: str, version: int) -> Any:
    """One policy version: its states, transitions and YAML source."""
    with tranche().reading() as uow:
        row = uow.session.get(PolicyVersion, (name, version)) if version < 2**31 else None
        if row is None:
            raise ProblemError("not_found", f"no policy {name!r} version {version}")
        policy = get_policy(uow.session, name, version, uow.database.policy_cache)
        body = _policy_summary(row) | {
            "description": policy.description,
            "states": [s.name for s in policy.states],
            "final_states": [s.name for s in policy.states if s.final],
            "transitions": [
                {
                    "event": t.event,
                    "sources": list(t.sources),
                    "target": t.target,
                    "actors": list(t.actors),
                    "guards": list(t.guards),
                    "effects": [e.name for e in t.effects],
                }
                for t in policy.transitions
            ],
            "document": row.document,
        }
        return json_response(200, body)


@blp.route("/policies/<string:name>/<int:version>/diagram", methods=["GET"])
@blp.arguments(schemas.DiagramArgs(), location="query")
@blp.response(200, description="the drawing")
@blp.doc(responses={"200": DRAWING})
@blp.alt_response(503, description="the drawing program (Graphviz) is not installed")
def policy_drawing(args: dict[str, Any], name: str, version: int) -> Any:
    """The policy version drawn as a state diagram (SVG by default)."""
    with tranche().reading() as uow:
        if version >= 2**31 or uow.session.get(PolicyVersion, (name, version)) is None:
            raise ProblemError("not_found", f"no policy {name!r} version {version}")
        body = policy_diagram(uow.session, name, version, args["format"])
    return Response(body, 200, mimetype=MEDIA_TYPES[args["format"]])


def _webhook(row: WebhookSubscription) -> dict[str, Any]:
    return {"id": row.id, "url": row.url, "created_at": present.moment(row.created_at)}


def _subscription(uow: UnitOfWork, webhook_id: str) -> WebhookSubscription:
    row = uow.session.get(WebhookSubscription, webhook_id)
    if row is None or row.tenant != auth.tenant() or row.deleted_at is not None:
        raise ProblemError("not_found", f"no webhook {webhook_id!r}")
    return row


def _settings() -> WebhookSettings:
    return current_app.extensions["tranche_webhooks"]


@blp.route("/webhooks", methods=["POST"])
@blp.arguments(schemas.WebhookCreate())
@blp.response(201, schemas.WebhookOut)
@blp.alt_response(422, description="the URL is not valid or leads to an internal address")
@blp.alt_response(503, description="no encryption keys are configured for webhook secrets")
def create_webhook(body: dict[str, Any]) -> Any:
    """Subscribe a URL to every event of the tenant; the signing secret is shown only here.

    The URL must lead to a public address: loopback, private, link-local and other
    internal addresses are refused, in any notation (see the README, Security).
    """
    settings = _settings()
    try:
        settings.egress.check_url(body["url"])
    except EgressRefused as exc:
        raise ProblemError(
            "validation", "webhooks may not reach this URL", errors={"url": [exc.reason]}
        ) from exc
    keyring = settings.keyring
    if keyring is None:
        raise ProblemError(
            "encryption_unconfigured",
            "webhook secrets are stored encrypted and this server has no key: "
            "the operator must set TRANCHE_ENCRYPTION_KEYS",
        )

    def command(uow: UnitOfWork) -> Any:
        secret = "whsec_" + secrets.token_hex(24)
        row = WebhookSubscription(
            id=new_id("wh"),
            tenant=auth.tenant(),
            url=body["url"],
            secret_token=keyring.encrypt(secret),
            created_at=uow.clock.now(),
        )
        uow.session.add(row)
        uow.session.flush()
        return 201, _webhook(row) | {"secret": secret}, {}

    return run(command, body, seal=keyring)


@blp.route("/webhooks", methods=["GET"])
@blp.response(200, schemas.WebhookList)
def list_webhooks() -> Any:
    """The tenant's active subscriptions."""
    with tranche().reading() as uow:
        rows = uow.session.scalars(
            select(WebhookSubscription)
            .where(
                WebhookSubscription.tenant == auth.tenant(),
                WebhookSubscription.deleted_at.is_(None),
            )
            .order_by(WebhookSubscription.created_at, WebhookSubscription.id)
        )
        return json_response(200, {"data": [_webhook(r) for r in rows]})


@blp.route("/webhooks/<string:webhook_id>", methods=["DELETE"])
@blp.response(204)
def delete_webhook(webhook_id: str) -> Any:
    """Stop sending to this URL; pending deliveries are cancelled."""
    with tranche().unit_of_work() as uow:
        row = _subscription(uow, webhook_id)
        row.deleted_at = uow.clock.now()
        uow.commit()
    return Response(status=204)


def _delivery(row: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "event_id": row.event_id,
        "cursor": str(row.position),
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": present.moment(row.next_attempt_at),
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        "delivered_at": present.moment(row.delivered_at),
    }


@blp.route("/webhooks/<string:webhook_id>/deliveries", methods=["GET"])
@blp.response(200, schemas.DeliveryList)
def list_deliveries(webhook_id: str) -> Any:
    """The newest deliveries to this subscription (at most 100), with their last outcome."""
    with tranche().unit_of_work() as uow:
        _subscription(uow, webhook_id)
        catch_up(uow)  # the events committed so far have their deliveries listed
        rows = uow.session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == webhook_id)
            .order_by(WebhookDelivery.position.desc())
            .limit(100)
        )
        return json_response(200, {"data": [_delivery(r) for r in rows]})


@blp.route(
    "/webhooks/<string:webhook_id>/deliveries/<string:delivery_id>/redeliver", methods=["POST"]
)
@blp.response(200, schemas.DeliveryOut)
def redeliver_one(webhook_id: str, delivery_id: str) -> Any:
    """Send this delivery again (the worker picks it up on its next pass)."""

    def command(uow: UnitOfWork) -> Any:
        _subscription(uow, webhook_id)
        row = redeliver(uow, auth.tenant(), webhook_id, delivery_id)
        if row is None:
            raise ProblemError("not_found", f"no delivery {delivery_id!r}")
        return 200, _delivery(row), {}

    return run(command)
