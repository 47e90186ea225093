"""The rail's report, reconciled over HTTP: upload it, read the result again later.

`POST /v1/reconciliations` takes the report as the body (text/csv) or as the `file` part
of a multipart form, up to RECONCILIATION_MAX_BYTES (10 MiB by default; larger reports go
through `tranche reconcile`, which streams them); the query says how to read it (Stripe's
report by default, or a column mapping). The same file with the same mapping imported
again answers the earlier result (`replayed: true`, 200) and writes nothing. A tenant sees
only its own reconciliations.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

from flask import Flask, Response, request, stream_with_context
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine.domain.reconcile import STRIPE, generic_mapping
from engine.service import reconciliations
from web.api import auth, body
from web.api.commands import tranche
from web.api.problems import ProblemError
from web.reconcile_report import WRITERS

blp = Blueprint(
    "reconciliations", __name__, url_prefix="/v1", description="Reconcile the rail's report"
)
UPLOAD_ENDPOINT = "reconciliations.upload"
DEFAULT_LIMIT = 10 * 1024 * 1024
CSV_TYPES = ("text/csv", "text/plain", "application/octet-stream")
MEDIA = {"json": "application/json", "csv": "text/csv", "table": "text/plain"}


class UploadArgs(Schema):
    map = fields.String(
        validate=validate.Length(1, 2000),
        metadata={
            "description": "a generic CSV: reference=COL,amount=COL,currency=COL,date=COL,"
            "kind=COL[,fee=COL]; without it, Stripe's itemized balance-change report"
        },
    )
    minor_units = fields.Boolean(
        load_default=False, metadata={"description": "with map: amounts are in minor units"}
    )
    format = fields.String(validate=validate.OneOf(sorted(WRITERS)), load_default="json")


class ReadArgs(Schema):
    format = fields.String(validate=validate.OneOf(sorted(WRITERS)), load_default="json")


class ReconciliationOut(Schema):
    class Meta:
        unknown = "include"

    id = fields.String()
    lines = fields.Integer()
    replayed = fields.Boolean()


def upload_limit(app: Flask) -> int:
    return int(app.config.get("RECONCILIATION_MAX_BYTES", DEFAULT_LIMIT))


def _uploaded() -> tuple[bytes, str]:
    """The report's bytes and name, from a multipart `file` or the body itself."""
    if request.mimetype == "multipart/form-data":
        part = request.files.get("file")
        if part is None:
            raise ProblemError(
                "validation",
                "send the report as the form's `file` part",
                errors={"file": ["Missing."]},
            )
        name = (part.filename or "report.csv")[:255]
        body.check_text("filename", name)
        return part.read(), name
    if request.mimetype not in CSV_TYPES:
        raise ProblemError(
            "unsupported_media_type",
            "send the report as text/csv or multipart/form-data, "
            f"not {request.mimetype or 'nothing'}",
        )
    data = request.get_data(cache=True)
    if not data:
        raise ProblemError(
            "validation", "the body is empty: send the report", errors={"_body": ["Empty."]}
        )
    return data, "report.csv"


def _answer(report: Any, replayed: bool, output: str, status: int) -> Response:
    def chunks() -> Any:
        with tranche().reading() as uow:
            yield from WRITERS[output](uow, report, replayed)

    headers = {"Location": f"/v1/reconciliations/{report.id}"}
    return Response(
        stream_with_context(chunks()), status=status, mimetype=MEDIA[output], headers=headers
    )


@blp.route("/reconciliations", methods=["POST"], endpoint="upload")
@blp.doc(
    requestBody={
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
)
@blp.arguments(UploadArgs, location="query")
@blp.response(201, ReconciliationOut)
@blp.alt_response(200, schema=ReconciliationOut, description="imported before: its result")
def upload(args: dict[str, Any]) -> Any:
    """Reconcile a report of the rail: per line matched, not in Tranche, amount, currency
    or status differs; per settled record within its dates not in the rail; fees; per
    contract and milestone. 200 with `replayed` if this file was imported before."""
    mapping = generic_mapping(args["map"], args["minor_units"]) if "map" in args else STRIPE
    data, name = _uploaded()
    digest = hashlib.sha256(data).hexdigest()
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    tenant = auth.tenant()
    imported = tranche().write(
        lambda uow: reconciliations.reconcile(uow, tenant, stream, name, digest, mapping)
    )
    status = 200 if imported.replayed else 201
    return _answer(imported.report, imported.replayed, args["format"], status)


@blp.route("/reconciliations/<string:reconciliation_id>", methods=["GET"])
@blp.arguments(ReadArgs, location="query")
@blp.response(200, ReconciliationOut)
def get_reconciliation(args: dict[str, Any], reconciliation_id: str) -> Any:
    """A reconciliation made earlier (by the API or `tranche reconcile`), as JSON, CSV
    (`?format=csv`: a row per line and per record the rail lacks) or a text table."""
    tenant = auth.tenant()
    report = tranche().read(lambda uow: reconciliations.get_report(uow, reconciliation_id, tenant))
    return _answer(report, False, args["format"], 200)
