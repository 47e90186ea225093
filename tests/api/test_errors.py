"""Every error on /v1 is application/problem+json with a stable type; never HTML, never 500."""

from __future__ import annotations

import pytest

from api.helpers import BUYER, Client

PROBLEM = "application/problem+json"


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.data
    assert response.headers["Content-Type"] == PROBLEM
    body = response.json
    assert body["type"] == f"urn:tranche:problem:{code}"
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


def test_missing_or_wrong_key_is_401(client: Client) -> None:
    problem(client.http.get("/v1/contracts"), 401, "unauthorized")
    response = client.http.get("/v1/contracts", headers={"Authorization": "Bearer tr_nope"})
    problem(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_unknown_route_and_method(client: Client) -> None:
    problem(client.get("/v1/nothing-here"), 404, "not_found")
    body = problem(client.call("DELETE", "/v1/contracts"), 405, "method_not_allowed")
    assert "POST" in body["allowed_methods"]


def test_unknown_ids_are_404(client: Client) -> None:
    problem(client.get("/v1/contracts/ct_missing"), 404, "not_found")
    problem(client.get("/v1/milestones/ms_missing"), 404, "not_found")
    problem(client.fire("ms_missing", "fund", BUYER), 404, "not_found")
    problem(client.post("/v1/payment-requests/pr_x/pay", actor=BUYER), 404, "not_found")


def test_malformed_json_is_400(client: Client) -> None:
    response = client.http.post(
        "/v1/contracts",
        data="{not json",
        headers={"Authorization": f"Bearer {client.key}", "Content-Type": "application/json"},
    )
    problem(response, 400, "malformed_request")


def test_wrong_content_type_is_415(client: Client) -> None:
    response = client.http.post(
        "/v1/contracts",
        data="buyer_id=a",
        headers={
            "Authorization": f"Bearer {client.key}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    problem(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("agreed_amount", 12.5),
        ("agreed_amount", "100"),
        ("agreed_amount", -1),
        ("currency", "usd"),
        ("title", ""),
        ("surprise", 1),
    ],
)
def test_validation_names_the_field(client: Client, field: str, value: object) -> None:
    body = {
        "buyer_id": "b",
        "provider_id": "p",
        "currency": "USD",
        "agreed_amount": 100,
        "title": "t",
    } | {field: value}
    errors = problem(client.post("/v1/contracts", body), 422, "validation")["errors"]
    assert field in errors
    assert client.get("/v1/contracts").json["data"] == []


def test_engine_refusals_keep_their_codes(client: Client) -> None:
    contract = client.contract(amount=10_000)
    problem(
        client.post(f"/v1/contracts/{contract['id']}/milestones", {"title": "x", "amount": 20_000}),
        422,
        "exceeds_agreed",
    )
    problem(
        client.post(
            "/v1/contracts",
            {
                "buyer_id": "b",
                "provider_id": "p",
                "currency": "XXZ",
                "agreed_amount": 1,
                "title": "t",
            },
        ),
        422,
        "unknown_currency",
    )
    milestone = client.milestone(contract["id"], amount=5_000)
    client.fire(milestone["id"], "fund", BUYER)
    problem(
        client.fire(milestone["id"], "release", BUYER, body={"amount": 9_000}),
        409,
        "insufficient_escrow",
    )
    problem(client.fire(milestone["id"], "teleport", BUYER), 404, "unknown_event")
    missing_actor = problem(client.fire(milestone["id"], "approve", ""), 422, "validation")
    assert "Tranche-Actor" in missing_actor["errors"]


def test_arbitration_events_cannot_bypass_the_offer_guard(client: Client) -> None:
    milestone = client.milestone(client.contract()["id"])
    client.fire(milestone["id"], "fund", BUYER)
    client.fire(milestone["id"], "dispute", BUYER)
    problem(client.fire(milestone["id"], "accept_offer", "provider-1"), 409, "forbidden_event")
    assert client.get(f"/v1/milestones/{milestone['id']}").json["state"] == "disputed"
