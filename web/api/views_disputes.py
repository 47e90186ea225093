"""Disputes for the parties: statements, evidence, offers, acceptance, withdrawal, reading.

A dispute is opened through the milestone event route (`POST
/v1/milestones/{id}/events/dispute`); these routes carry the case from there.
The Tranche-Actor must be the contract's buyer or provider; what they read never
includes staff notes, staff names or the audit trail. Every command runs once per
Idempotency-Key, like the rest of /v1.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import Flask, current_app
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from arbitration import disputes, quota, views
from arbitration.evidence import Upload
from arbitration.settings import Settings
from engine.service.uow import UnitOfWork
from web.api import auth
from web.api.commands import json_response, run, tranche
from web.api.problems import ProblemError
from web.api.schemas import MAX_AMOUNT, Text

blp = Blueprint("disputes", __name__, url_prefix="/v1", description="Disputes, for the parties")
Share = lambda **kw: fields.Integer(  # noqa: E731
    strict=True, validate=validate.Range(min=0, max=MAX_AMOUNT), **kw
)


class StatementBody(Schema):
    body = Text(1, disputes.MAX_TEXT, required=True)


class EvidenceBody(Schema):
    """Either `text`, or a file as `filename`, `content_type` and `content_base64`."""

    description = Text(0, 2000, load_default="")
    text = Text(1, disputes.MAX_TEXT, load_default=None)
    filename = Text(1, 200, load_default=None)
    content_type = Text(1, 100, load_default=None)
    content_base64 = fields.String(load_default=None)

    @validates_schema
    def one_kind(self, data: dict[str, Any], **kwargs: Any) -> None:
        has_file = any(
            data.get(k) is not None for k in ("filename", "content_type", "content_base64")
        )
        if (data.get("text") is None) == (not has_file):
            raise ValidationError("send either text, or filename, content_type and content_base64")
        if has_file and None in (
            data.get("filename"),
            data.get("content_type"),
            data.get("content_base64"),
        ):
            raise ValidationError("a file needs filename, content_type and content_base64")


class OfferBody(Schema):
    to_provider = Share(required=True)
    to_buyer = Share(required=True)
    note = Text(0, 2000, load_default="")


class OfferOut(Schema):
    id = fields.String()
    dispute_id = fields.String()
    by = fields.String(metadata={"description": "the offering party: buyer or provider"})
    to_provider = fields.Integer()
    to_buyer = fields.Integer()
    note = fields.String()
    status = fields.String()
    at = fields.String(metadata={"description": "when it was made (ISO 8601)"})


class DisputeOut(Schema):
    class Meta:
        unknown = "include"

    id = fields.String()
    status = fields.String()


EVIDENCE_ENDPOINT = "disputes.add_evidence"
JSON_OVERHEAD = 64 * 1024
"""Room for the description and the JSON around a file's base64 text."""


def settings() -> Settings:
    return current_app.extensions["arbitration"].settings


def evidence_body_limit(app: Flask) -> int:
    """An evidence request may carry a whole file in base64 (4 bytes per 3), and no more."""
    limit = app.extensions["arbitration"].settings.max_evidence_bytes
    return 4 * -(-limit // 3) + JSON_OVERHEAD


def _view(uow: UnitOfWork, dispute_id: str, actor: Any) -> dict[str, Any]:
    return views.party_view(uow, dispute_id, actor, auth.tenant())


def _upload(body: dict[str, Any]) -> Upload | None:
    if body.get("content_base64") is None:
        return None
    try:
        data = base64.b64decode(body["content_base64"], validate=True)
    except (binascii.Error, ValueError):
        raise ProblemError(
            "validation", "content_base64 is not base64", errors={"content_base64": ["Not base64."]}
        ) from None
    return Upload(body["filename"], body["content_type"], data)


@blp.route("/disputes/<string:dispute_id>", methods=["GET"])
@blp.response(200, DisputeOut)
def get_dispute(dispute_id: str) -> Any:
    """The case as a party sees it: claim, statements, evidence, offers, applied rulings."""
    actor = auth.actor()
    with tranche().reading() as uow:
        return json_response(200, _view(uow, dispute_id, actor))


@blp.route("/disputes/<string:dispute_id>/statements", methods=["POST"])
@blp.arguments(StatementBody)
@blp.response(201, DisputeOut)
def add_statement(body: dict[str, Any], dispute_id: str) -> Any:
    """Say something in the case; from the other party this is their response."""
    actor = auth.actor()

    def command(uow: UnitOfWork) -> Any:
        disputes.add_statement(
            uow, dispute_id, actor, body["body"], settings(), tenant=auth.tenant()
        )
        return 201, _view(uow, dispute_id, actor), {}

    return run(command, body)


@blp.route("/disputes/<string:dispute_id>/evidence", methods=["POST"])
@blp.arguments(EvidenceBody)
@blp.response(201, DisputeOut)
def add_evidence(body: dict[str, Any], dispute_id: str) -> Any:
    """Text, or a file (PDF, PNG, JPEG or plain text, checked by content, size-limited)."""
    actor = auth.actor()
    upload = _upload(body)

    def command(uow: UnitOfWork) -> Any:
        quota.add_evidence(
            uow,
            dispute_id,
            actor,
            settings(),
            description=body["description"],
            text=body["text"],
            upload=upload,
            tenant=auth.tenant(),
        )
        return 201, _view(uow, dispute_id, actor), {}

    return run(command, body)


@blp.route("/disputes/<string:dispute_id>/offers", methods=["POST"])
@blp.arguments(OfferBody)
@blp.response(201, OfferOut, headers={"Location": {"description": "the dispute"}})
def make_offer(body: dict[str, Any], dispute_id: str) -> Any:
    """Offer a settlement: to_provider + to_buyer must equal the escrow held.

    It replaces the party's earlier open offer; the answer is the new offer.
    """
    actor = auth.actor()

    def command(uow: UnitOfWork) -> Any:
        offer = disputes.make_offer(
            uow,
            dispute_id,
            actor,
            body["to_provider"],
            body["to_buyer"],
            settings(),
            body["note"],
            tenant=auth.tenant(),
        )
        return 201, views.offer_data(offer), {"Location": f"/v1/disputes/{offer.dispute_id}"}

    return run(command, body)


@blp.route("/disputes/<string:dispute_id>/offers/<string:offer_id>/accept", methods=["POST"])
@blp.response(200, DisputeOut)
def accept_offer(dispute_id: str, offer_id: str) -> Any:
    """Accept the other party's offer: the milestone settles with its amounts."""
    actor = auth.actor()

    def command(uow: UnitOfWork) -> Any:
        disputes.accept_offer(uow, dispute_id, offer_id, actor, tenant=auth.tenant())
        return 200, _view(uow, dispute_id, actor), {}

    return run(command, {"offer": offer_id, "do": "accept"})


@blp.route("/disputes/<string:dispute_id>/offers/<string:offer_id>/reject", methods=["POST"])
@blp.response(200, DisputeOut)
def reject_offer(dispute_id: str, offer_id: str) -> Any:
    """Reject the other party's offer; the case goes on."""
    actor = auth.actor()

    def command(uow: UnitOfWork) -> Any:
        disputes.reject_offer(uow, dispute_id, offer_id, actor, settings(), tenant=auth.tenant())
        return 200, _view(uow, dispute_id, actor), {}

    return run(command, {"offer": offer_id, "do": "reject"})


@blp.route("/disputes/<string:dispute_id>/withdraw", methods=["POST"])
@blp.response(200, DisputeOut)
def withdraw(dispute_id: str) -> Any:
    """The opener withdraws; the milestone returns to the state it was in."""
    actor = auth.actor()

    def command(uow: UnitOfWork) -> Any:
        disputes.withdraw(uow, dispute_id, actor, tenant=auth.tenant())
        return 200, _view(uow, dispute_id, actor), {}

    return run(command, {"do": "withdraw"})
