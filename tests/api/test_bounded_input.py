"""Requests of any size and shape: each odd one is a precise 4xx problem, never a 500.

The size of a body is bounded before it is read (413); its JSON before any view
parses it (depth, numbers); every text that enters (fields, query, path, headers)
is refused with a NUL or a lone surrogate, naming the field; party ids are ASCII.
"""

from __future__ import annotations

import base64
import json

import pytest
from flask import Flask

from api.helpers import BUYER, PROVIDER, Client
from engine.domain.actors import Actor
from engine.domain.errors import ValidationError
from web.app import create_app

CONTRACT = {
    "buyer_id": BUYER,
    "provider_id": PROVIDER,
    "currency": "USD",
    "agreed_amount": 100_000,
    "title": "Site redesign",
}


@pytest.fixture
def app(database, clock, tmp_path) -> Flask:
    return create_app(
        {
            "DATABASE_URL": database.url,
            "AUTO_UPGRADE": False,
            "EVIDENCE_DIR": str(tmp_path / "evidence"),
            "MAX_EVIDENCE_BYTES": 3 * 1024 * 1024,
        },
        clock,
    )


def raw(client: Client, path: str, data: bytes | str, **headers: str):
    sent = {"Authorization": f"Bearer {client.key}", "Content-Type": "application/json"}
    return client.http.post(path, data=data, headers=sent | headers)


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.data[:300]
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json["code"] == code
    return response.json


def nothing_written(client: Client) -> None:
    assert client.get("/v1/contracts").json["data"] == []


def test_a_body_over_the_limit_is_413_and_never_parsed(client: Client) -> None:
    body = json.dumps(CONTRACT | {"title": "x" * 20_000_000})
    answer = problem(raw(client, "/v1/contracts", body), 413, "too_large")
    assert answer["limit"] == 1024 * 1024
    nothing_written(client)


def test_the_limit_is_a_setting(database, clock) -> None:
    from web.api.auth import create_key

    app = create_app(
        {"DATABASE_URL": database.url, "AUTO_UPGRADE": False, "MAX_CONTENT_LENGTH": 100}, clock
    )
    client = Client(app, create_key(database, "small")[1])
    problem(raw(client, "/v1/contracts", json.dumps(CONTRACT)), 413, "too_large")


def _dispute(client: Client) -> str:
    milestone = client.milestone(client.contract()["id"])
    client.fire(milestone["id"], "fund", BUYER)
    return client.fire(milestone["id"], "dispute", BUYER).headers["Location"]


def _pdf(size: int) -> dict:
    data = b"%PDF-" + b"0" * (size - 5)
    return {"filename": "a.pdf", "content_type": "application/pdf"} | {
        "content_base64": base64.b64encode(data).decode()
    }


def test_evidence_may_carry_a_file_up_to_its_own_limit_and_no_more(client: Client) -> None:
    location = _dispute(client)
    filed = client.post(f"{location}/evidence", _pdf(3 * 1024 * 1024), actor=BUYER)
    assert filed.status_code == 201, filed.json  # 4 MiB of base64: over the JSON limit
    over = client.post(f"{location}/evidence", _pdf(4 * 1024 * 1024), actor=BUYER)
    problem(over, 413, "too_large")


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        ("[" * 5_000 + "]" * 5_000, "nested deeper than 32"),
        ('{"title": ' + "[" * 40 + "]" * 40 + "}", "nested deeper than 32"),
        ('{"agreed_amount": ' + "9" * 5_000 + "}", "too long"),
    ],
)
def test_deep_json_and_endless_numbers_are_400(client: Client, data: str, detail: str) -> None:
    assert detail in problem(raw(client, "/v1/contracts", data), 400, "malformed_request")["detail"]
    nothing_written(client)


def test_a_long_number_within_python_s_limit_is_an_amount_out_of_range(client: Client) -> None:
    body = json.dumps(CONTRACT).replace("100000", "9" * 40)
    errors = problem(raw(client, "/v1/contracts", body), 422, "validation")["errors"]
    assert "agreed_amount" in errors


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (CONTRACT | {"title": "a\x00b"}, "title"),
        (CONTRACT | {"title": "a\ud800b"}, "title"),
        (CONTRACT | {"milestones": [{"title": "ok", "amount": 1}, {"title": "\x00"}]}, None),
        (CONTRACT | {"ti\x00tle": "x"}, "ti\x00tle"),
    ],
)
def test_a_nul_or_lone_surrogate_in_any_field_is_422_naming_it(
    client: Client, body: dict, field: str | None
) -> None:
    answer = problem(raw(client, "/v1/contracts", json.dumps(body)), 422, "validation")
    assert list(answer["errors"]) == [field or "milestones[1].title"]
    nothing_written(client)


def test_a_nul_in_the_query_or_the_path_is_422(client: Client) -> None:
    problem(client.get("/v1/contracts?after=a%00b"), 422, "validation")
    answer = problem(client.get("/v1/contracts/ct_%00"), 422, "validation")
    assert list(answer["errors"]) == ["contract_id"]


def test_headers_are_checked_before_they_reach_the_database(client: Client) -> None:
    milestone = client.milestone(client.contract()["id"])
    fund = f"/v1/milestones/{milestone['id']}/events/fund"
    problem(client.post(fund, actor=BUYER, headers={"If-Match": '"²"'}), 412, "precondition_failed")
    bad_key = client.post(fund, actor=BUYER, headers={"Idempotency-Key": "k\x00"})
    assert list(problem(bad_key, 422, "validation")["errors"]) == ["Idempotency-Key"]
    assert client.get(f"/v1/milestones/{milestone['id']}").json["state"] == "proposed"


def test_party_ids_are_ascii_at_creation_and_in_the_header(client: Client) -> None:
    """A party created as 山田 could never act: the header arrives as Latin-1."""
    created = client.post("/v1/contracts", CONTRACT | {"buyer_id": "山田"})
    assert list(problem(created, 422, "validation")["errors"]) == ["buyer_id"]
    milestone = client.milestone(client.contract()["id"])
    mojibake = "山田".encode().decode("latin-1")  # what a WSGI server hands over
    answer = problem(client.fire(milestone["id"], "fund", mojibake), 422, "validation")
    assert list(answer["errors"]) == ["Tranche-Actor"]
    spaced = client.post("/v1/contracts", CONTRACT | {"buyer_id": "Ana Lima"})
    assert spaced.status_code == 201  # printable ASCII inside, spaces included
    assert client.get(f"/v1/contracts/{spaced.json['id']}", actor="Ana Lima").status_code == 200


def test_the_engine_keeps_the_same_rule(tranche) -> None:
    with pytest.raises(ValidationError, match="printable ASCII"):
        tranche.create_contract(
            buyer_id="山田", provider_id="p", currency="USD", agreed_amount=1, title="t"
        )
    assert Actor("Ana Lima").id == "Ana Lima"


def test_the_limits_and_faults_are_documented(client: Client) -> None:
    paths = client.get("/v1/openapi.json").json["paths"]
    operations = [(m, op) for ops in paths.values() for m, op in ops.items() if m != "parameters"]
    posts = [op for method, op in operations if method == "post"]
    assert posts
    assert all("413" in op["responses"] for op in posts)
    documented = [op for _, op in operations if "security" not in op]  # all but this document
    assert all("Retry-After" in op["responses"]["503"]["headers"] for op in documented)
    drawing = paths["/v1/policies/{name}/{version}/diagram"]["get"]["responses"]["503"]
    assert "Graphviz" in drawing["description"]
