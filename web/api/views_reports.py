"""Finance reports for the key's tenant: money held for others, and how long it is owed.

Both are as of an instant (`as_of`, ISO 8601 with its zone; now if omitted) and read
only (engine.service.reports).
"""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from engine.domain.liability import AGE_BUCKETS, FIGURES
from web.api import auth
from web.api.commands import json_response, tranche

blp = Blueprint("reports", __name__, url_prefix="/v1", description="Finance reports")


class ReportArgs(Schema):
    as_of = fields.String(
        validate=validate.Length(max=64),
        metadata={
            "description": "ISO 8601 with its zone; default: now",
            "example": "2026-10-31T23:59:59Z",
        },
    )


LiabilityLine = Schema.from_dict(
    {"currency": fields.String(required=True)}
    | {name: fields.Integer(required=True) for name in FIGURES}
    | {
        "total": fields.Integer(
            required=True, metadata={"description": "in escrow + held + available + in flight"}
        )
    },
    name="LiabilityLine",
)


class AgingLine(Schema):
    tenant = fields.String(required=True)
    party_id = fields.String(required=True)
    currency = fields.String(required=True)
    owed = fields.Integer(required=True, metadata={"description": "held + available"})
    buckets = fields.Dict(
        keys=fields.String(validate=validate.OneOf([label for _, label in AGE_BUCKETS])),
        values=fields.Integer(),
        required=True,
        metadata={"description": "owed by age in days, first in, first out"},
    )


class LiabilityReport(Schema):
    as_of = fields.String(required=True)
    tenant = fields.String(required=True)
    data = fields.List(fields.Nested(LiabilityLine), required=True)


class AgingReport(LiabilityReport):
    data = fields.List(fields.Nested(AgingLine), required=True)


@blp.route("/reports/liability", methods=["GET"])
@blp.arguments(ReportArgs(), location="query", unknown=RAISE)  # a misspelt as_of: 422
@blp.response(200, LiabilityReport)
def liability(args: dict[str, Any]) -> Any:
    """Money held for others per currency as of an instant: in escrow, held, available,
    in flight (their total), and beside it pending funding and parties' debts."""
    report = tranche().liability(args.get("as_of"), auth.tenant())
    return json_response(200, report.as_dict())


@blp.route("/reports/aging", methods=["GET"])
@blp.arguments(ReportArgs(), location="query", unknown=RAISE)  # a misspelt as_of: 422
@blp.response(200, AgingReport)
def aging(args: dict[str, Any]) -> Any:
    """What each party is owed as of an instant, by how long it has been owed."""
    return json_response(200, tranche().aging(args.get("as_of"), auth.tenant()).as_dict())
