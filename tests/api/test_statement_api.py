"""GET /v1/contracts/{id}/statement: JSON, CSV or PDF, the tenant's contracts only."""

from __future__ import annotations

import csv
import io

from flask import Flask
from statements.conftest import tell_story

from api.helpers import Client
from web.api.auth import create_key

FORMATS = [  # (query, Accept, the media type answered)
    ("", None, "application/json"),
    ("", "text/csv", "text/csv"),
    ("", "application/pdf", "application/pdf"),
    ("", "text/html, */*;q=0.1", "application/json"),
    ("?format=csv", "application/json", "text/csv"),
    ("?format=pdf&party=buyer", None, "application/pdf"),
]


def test_the_statement_as_json_csv_or_pdf(app: Flask, clock) -> None:
    row, key = create_key(app.extensions["tranche"].database, "acme")
    client = Client(app, key)
    story = tell_story(app.extensions["tranche"], clock, tenant=row.tenant)
    path = f"/v1/contracts/{story.contract_id}/statement"
    answers = {}
    for query, accept, media in FORMATS:
        response = client.get(path + query, headers={"Accept": accept} if accept else None)
        assert response.status_code == 200, (query, accept)
        assert response.mimetype == media, (query, accept)
        assert response.headers["Vary"] == "Accept"
        answers[media] = response
    body = answers["application/json"].json
    contract = client.get(f"/v1/contracts/{story.contract_id}").json
    closing = body["closing"]
    assert {k: v for k, v in closing.items() if k not in ("paid_out", "debt")} == (
        contract["summary"]
    )
    assert (closing["paid_out"], closing["debt"]) == (40_000, 5_750)
    assert (body["currency"], body["exponent"], body["party"]) == ("USD", 2, None)
    assert len(body["rows"]) == 14
    assert body["rows"][-1]["balances"] == closing  # the last row closes the statement
    assert body["rows"][0]["at"] == "2026-11-24T09:00:00+00:00"
    table = answers["text/csv"]
    assert table.headers["Content-Disposition"] == (
        f'attachment; filename="statement-{story.contract_id}.csv"'
    )
    lines = list(csv.DictReader(io.StringIO(table.get_data(as_text=True))))
    assert len(lines) == 14
    assert lines[-1]["debts"] == "57.50"
    assert answers["application/pdf"].data.startswith(b"%PDF-")


def test_refusals_are_problems(client: Client, other: Client) -> None:
    path = f"/v1/contracts/{client.contract()['id']}/statement"
    for query in ("", "?format=pdf"):  # another tenant's contract
        response = other.get(path + query)
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"
        assert response.json["code"] == "not_found"
    assert client.get("/v1/contracts/ct_nope/statement").status_code == 404
    for query, field in (("?format=xml", "format"), ("?party=staff", "party")):
        response = client.get(path + query)
        assert response.status_code == 422
        assert response.mimetype == "application/problem+json"
        assert response.json["code"] == "validation"
        assert list(response.json["errors"]) == [field]
    response = client.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 406
    assert response.json["code"] == "not_acceptable"
    assert response.json["acceptable"] == ["application/json", "text/csv", "application/pdf"]


def test_the_route_is_documented(app: Flask) -> None:
    document = app.test_client().get("/v1/openapi.json").json
    route = document["paths"]["/v1/contracts/{contract_id}/statement"]["get"]
    assert set(route["responses"]["200"]["content"]) == {
        "application/json",
        "text/csv",
        "application/pdf",
    }
    assert "406" in route["responses"]
    assert {p["name"] for p in route["parameters"] if p["in"] == "query"} == {"format", "party"}
