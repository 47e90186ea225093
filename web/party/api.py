"""The integrator's side of party pages: mint and revoke links, read notices, settings.

A link's token is in the answer that mints it and nowhere else (only its hash is kept;
a replay of that answer under an Idempotency-Key is stored encrypted, as webhook
secrets are).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine.service import parties
from engine.service.contracts import get_contract
from engine.service.uow import UnitOfWork
from engine.store import notices
from engine.store.notice_models import Notice, PartyLink
from web.api import auth, present
from web.api.commands import json_response, run, tranche
from web.api.problems import ProblemError
from web.api.schemas import Text

blp = Blueprint(
    "party_links", __name__, url_prefix="/v1", description="Party pages, links and notices"
)
LIFETIMES = (
    int(parties.SHORTEST_LIFETIME.total_seconds()),
    int(parties.LONGEST_LIFETIME.total_seconds()),
)


class LinkCreate(Schema):
    role = fields.String(required=True, validate=validate.OneOf(parties.ROLES))
    expires_in = fields.Integer(
        strict=True,
        load_default=int(parties.DEFAULT_LIFETIME.total_seconds()),
        validate=validate.Range(*LIFETIMES),
        metadata={"description": "seconds until the link stops opening the page"},
    )
    locale = Text(2, 35, load_default="en", metadata={"example": "de_CH"})
    time_zone = Text(1, 64, load_default="UTC", metadata={"example": "Europe/Zurich"})
    email = Text(3, 254, load_default=None, metadata={"description": "where notices are mailed"})


class LinkOut(Schema):
    id = fields.String()
    contract_id = fields.String()
    role = fields.String()
    locale = fields.String()
    time_zone = fields.String()
    created_at = fields.String()
    expires_at = fields.String()
    revoked_at = fields.String(allow_none=True)
    url = fields.String(metadata={"description": "only in the answer that minted it"})


class SettingsBody(Schema):
    mail_from = Text(3, 254, load_default=None, allow_none=True)
    embed_origins = fields.List(Text(1, 300), load_default=list)
    theme = fields.Dict(keys=Text(1, 20), values=Text(1, 20), load_default=dict)


def _link(row: PartyLink) -> dict[str, Any]:
    return {
        "id": row.id,
        "contract_id": row.contract_id,
        "role": row.role,
        "locale": row.locale,
        "time_zone": row.time_zone,
        "created_at": present.moment(row.created_at),
        "expires_at": present.moment(row.expires_at),
        "revoked_at": present.moment(row.revoked_at),
    }


def notice_data(row: Notice) -> dict[str, Any]:
    """A notice as the API and the console show it: to whom, of what, and its stamps."""
    return {
        "id": row.id,
        "event_id": row.event_id,
        "event_type": row.event_type,
        "milestone_id": row.milestone_id,
        "role": row.role,
        "party_id": row.party_id,
        "on_page_at": present.moment(row.created_at),
        "email": {
            "status": row.email_status,
            "attempts": row.email_attempts,
            "last_error": row.email_error,
            "sent_at": present.moment(row.sent_at),
            "delivered_at": present.moment(row.delivered_at),
        },
        "seen_at": present.moment(row.seen_at),
    }


def page_url(token: str) -> str:
    base = current_app.config.get("PUBLIC_URL") or request.host_url
    return f"{base.rstrip('/')}/p/{token}"


@blp.route("/contracts/<string:contract_id>/party-links", methods=["POST"])
@blp.arguments(LinkCreate())
@blp.response(201, LinkOut)
def mint(body: dict[str, Any], contract_id: str) -> Any:
    """A link to one party's page of this contract; the URL is shown only here."""
    keyring = current_app.extensions["tranche_webhooks"].keyring
    if keyring is None and request.headers.get("Idempotency-Key"):
        raise ProblemError(
            "encryption_unconfigured",
            "a replayable answer would keep the link at rest: send no Idempotency-Key, "
            "or have the operator set TRANCHE_ENCRYPTION_KEYS",
        )

    def command(uow: UnitOfWork) -> Any:
        link, token = parties.mint_link(
            uow,
            auth.tenant(),
            contract_id,
            body["role"],
            lifetime=timedelta(seconds=body["expires_in"]),
            locale=body["locale"],
            time_zone=body["time_zone"],
            email=body["email"],
        )
        return 201, _link(link) | {"url": page_url(token)}, {}

    return run(command, body, seal=keyring)


@blp.route("/contracts/<string:contract_id>/party-links", methods=["GET"])
@blp.response(200, LinkOut(many=True))
def list_links(contract_id: str) -> Any:
    """The contract's links (never their tokens), revoked and expired ones included."""
    with tranche().reading() as uow:
        rows = parties.links_of(uow, auth.tenant(), contract_id)
        return json_response(200, {"data": [_link(r) for r in rows]})


@blp.route("/party-links/<string:link_id>/revoke", methods=["POST"])
@blp.response(200, LinkOut)
def revoke(link_id: str) -> Any:
    """The link stops opening the page at once (its open live stream within 25 s)."""
    return run(lambda uow: (200, _link(parties.revoke_link(uow, auth.tenant(), link_id)), {}))


@blp.route("/contracts/<string:contract_id>/notices", methods=["GET"])
@blp.response(200)
def list_notices(contract_id: str) -> Any:
    """Every notice of the contract: to whom, of which event, and when it was put on the
    party's page, emailed, accepted by the mail server and seen."""
    with tranche().reading() as uow:
        get_contract(uow, contract_id, auth.tenant())
        rows = notices.of_contract(uow.session, contract_id)
        return json_response(200, {"data": [notice_data(r) for r in rows]})


@blp.route("/party-settings", methods=["GET"])
@blp.response(200)
def get_settings() -> Any:
    """The sender of the tenant's notice mail, the origins that may frame its pages, and
    their theme colours."""
    with tranche().reading() as uow:
        return json_response(200, parties.settings_of(uow, auth.tenant()))


@blp.route("/party-settings", methods=["POST"])
@blp.arguments(SettingsBody())
@blp.response(200)
def save_settings(body: dict[str, Any]) -> Any:
    """Replace the tenant's page settings (theme keys: accent, background, text)."""
    return run(
        lambda uow: (200, parties.save_settings(uow, auth.tenant(), **body), {}),
        body,
    )
