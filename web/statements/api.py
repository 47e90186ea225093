"""`GET /v1/contracts/{id}/statement`: the contract's statement as JSON, CSV or PDF.

The format is `?format=` if given, else the best match of the Accept header (JSON when
the client accepts anything); an Accept header that none of them meets is a 406.
Amounts in JSON are minor units, as everywhere in the API; CSV and PDF show them in the
currency's decimals.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine.domain.money import EXPONENTS
from engine.domain.policy.vocabulary import PARTIES
from engine.domain.statement import Statement
from web.api import auth
from web.api.commands import json_response, tranche
from web.api.problems import ProblemError
from web.api.schemas import SummaryOut
from web.statements import FORMATS, filename
from web.statements.document import as_pdf
from web.statements.table import as_csv

blp = Blueprint("statements", __name__, url_prefix="/v1", description="Statements")
JSON = "application/json"
MEDIA_TYPES = {"json": JSON, **FORMATS}


class StatementArgs(Schema):
    format = fields.String(
        validate=validate.OneOf(list(MEDIA_TYPES)),
        metadata={"description": "json, csv or pdf; without it, the Accept header chooses"},
    )
    party = fields.String(
        validate=validate.OneOf(PARTIES),
        metadata={"description": "buyer or provider: whom the statement is prepared for"},
    )


class BalancesOut(SummaryOut):
    """The contract summary's figures after a movement, and the rail's beside them."""

    paid_out = fields.Integer(
        required=True, metadata={"description": "paid out to the parties by the rail"}
    )
    debt = fields.Integer(
        required=True, metadata={"description": "what the parties owe on this contract"}
    )


class RowOut(Schema):
    entry_id = fields.Integer(required=True)
    at = fields.DateTime(required=True)
    milestone = fields.String(required=True, allow_none=True)
    what = fields.String(required=True)
    amount = fields.Integer(required=True)
    balances = fields.Nested(BalancesOut, required=True)


class StatementOut(Schema):
    contract_id = fields.String(required=True)
    title = fields.String(required=True)
    buyer_id = fields.String(required=True)
    provider_id = fields.String(required=True)
    party = fields.String(required=True, allow_none=True)
    currency = fields.String(required=True)
    exponent = fields.Integer(required=True)
    opened_at = fields.DateTime(required=True)
    generated_at = fields.DateTime(required=True)
    rows = fields.List(fields.Nested(RowOut), required=True)
    closing = fields.Nested(BalancesOut, required=True)


DOCUMENTS = {
    "content": {
        JSON: {"schema": StatementOut},
        **{media: {"schema": {"type": "string"}} for media in FORMATS.values()},
    }
}


@blp.route("/contracts/<string:contract_id>/statement", methods=["GET"])
@blp.arguments(StatementArgs(), location="query")
@blp.response(200, StatementOut, description="the statement")
@blp.doc(responses={"200": DOCUMENTS})
@blp.alt_response(406, description="The Accept header accepts none of JSON, CSV and PDF")
def statement(args: dict[str, Any], contract_id: str) -> Any:
    """Every movement of the contract in order, with the running balances after each:
    agreed, funded, pending funding, in escrow, paid to date, refunded, fees, paid out by
    the rail, debts; the closing balances are the contract's summary."""
    chosen = args.get("format") or _negotiated()
    found = tranche().statement(contract_id, auth.tenant(), args.get("party"))
    headers = {"Vary": "Accept"}
    if chosen == "json":
        return json_response(200, _json(found), headers)
    body: str | bytes = as_csv(found) if chosen == "csv" else as_pdf(found)
    headers["Content-Disposition"] = f'attachment; filename="{filename(found.contract_id, chosen)}"'
    return Response(body, 200, mimetype=MEDIA_TYPES[chosen], headers=headers)


def _negotiated() -> str:
    if not request.accept_mimetypes:  # no Accept header: anything will do
        return "json"
    best = request.accept_mimetypes.best_match(list(MEDIA_TYPES.values()))
    if best is None:
        raise ProblemError(
            "not_acceptable",
            f"a statement is {', '.join(MEDIA_TYPES.values())}; "
            f"Accept: {request.headers.get('Accept', '')[:200]!r} takes none of them",
            acceptable=list(MEDIA_TYPES.values()),
        )
    return next(name for name, media in MEDIA_TYPES.items() if media == best)


def _json(found: Statement) -> dict[str, Any]:
    return {
        "contract_id": found.contract_id,
        "title": found.title,
        "buyer_id": found.buyer_id,
        "provider_id": found.provider_id,
        "party": found.party,
        "currency": found.currency,
        "exponent": EXPONENTS[found.currency],
        "opened_at": found.opened_at.isoformat(),
        "generated_at": found.generated_at.isoformat(),
        "rows": [
            {
                "entry_id": row.entry_id,
                "at": row.at.isoformat(),
                "milestone": row.milestone,
                "what": row.what,
                "amount": row.amount,
                "balances": row.balances.as_dict(),
            }
            for row in found.rows
        ],
        "closing": found.closing.as_dict(),
    }
