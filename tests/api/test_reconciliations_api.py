"""Reconciliation over HTTP: upload the rail's report, read it again, never another tenant's."""

from __future__ import annotations

import csv
import io

import pytest
from reconcile.story import HEADER, LINES, story
from sqlalchemy import func, select

from api.helpers import Client
from engine.store.reconciliation import RailReport
from web.api.auth import create_key


@pytest.fixture
def client(app):
    """A client of a tenant whose records the report speaks of (made through the engine)."""
    row, key = create_key(app.extensions["tranche"].database, "finance")
    story(app.extensions["tranche"], tenant=row.tenant)
    return Client(app, key)


def upload(client, data: bytes, query: str = "", **headers: str):
    sent = {"Authorization": f"Bearer {client.key}", "Content-Type": "text/csv", **headers}
    return client.http.post(f"/v1/reconciliations{query}", data=data, headers=sent)


REPORT = ("\n".join((HEADER, *LINES)) + "\n").encode()


def test_an_uploaded_report_is_reconciled_once_and_read_back_as_csv(app, client, other):
    made = upload(client, REPORT)
    assert made.status_code == 201, made.get_data(as_text=True)
    found = made.json
    assert (found["lines"], found["replayed"]) == (8, False)
    assert made.headers["Location"] == f"/v1/reconciliations/{found['id']}"
    outcomes = sorted(d["outcome"] for d in found["differences"])
    assert outcomes == [
        "amount_differs",
        "currency_differs",
        "missing_in_rail",
        "missing_in_tranche",
        "status_differs",
    ]
    again = upload(client, REPORT)
    assert again.status_code == 200
    assert (again.json["id"], again.json["replayed"]) == (found["id"], True)
    read = client.get(f"/v1/reconciliations/{found['id']}?format=csv")
    assert read.status_code == 200
    assert read.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(read.get_data(as_text=True))))
    assert len(rows) == 9
    assert client.get(f"/v1/reconciliations/{found['id']}").json["groups"] == found["groups"]
    assert other.get(f"/v1/reconciliations/{found['id']}").status_code == 404


def test_a_multipart_upload_with_a_mapping(app, client):
    sent = {"Authorization": f"Bearer {client.key}"}
    data = {
        "file": (io.BytesIO(b"ref,amt,cur,at,kind\npi_7,1000,USD,2026-11-24,funding\n"), "b.csv")
    }
    query = "?map=reference=ref,amount=amt,currency=cur,date=at,kind=kind&minor_units=true"
    made = client.http.post(f"/v1/reconciliations{query}", data=data, headers=sent)
    assert made.status_code == 201, made.get_data(as_text=True)
    assert (made.json["file_name"], made.json["source"]) == ("b.csv", "csv")
    assert [d["outcome"] for d in made.json["differences"]] == ["missing_in_tranche"]


def test_bad_uploads_are_problems_that_change_nothing(app, client):
    bad = (HEADER + "\n" + LINES[0].replace("250.00", "250.001") + "\n").encode()
    refused = upload(client, bad)
    assert refused.status_code == 422
    assert refused.mimetype == "application/problem+json"
    assert refused.json["type"].endswith("report_invalid")
    assert refused.json["line"] == 2
    assert "line 2: '250.001' has 3 decimals; USD has 2" in refused.json["detail"]
    header = upload(client, b"a,b\n").json["detail"]
    assert header == (
        "report.csv, line 1: no column 'source_id' or 'payment_intent_id' or 'charge_id' "
        "for reference in the header"
    )
    wrong_type = upload(client, REPORT, **{"Content-Type": "application/json"})
    assert wrong_type.status_code == 415
    empty = upload(client, b"")
    assert (empty.status_code, empty.json["errors"]) == (422, {"_body": ["Empty."]})
    mapping = upload(client, REPORT, "?map=reference=x")
    assert mapping.status_code == 422
    assert "--map: say which column holds" in mapping.json["detail"]
    app.config["RECONCILIATION_MAX_BYTES"] = 100
    assert upload(client, REPORT).status_code == 413
    assert client.get("/v1/reconciliations/rc_nothing").status_code == 404
    with app.extensions["tranche"].database.session() as session:
        assert session.scalar(select(func.count()).select_from(RailReport)) == 0
