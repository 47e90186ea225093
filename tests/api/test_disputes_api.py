"""Parties in a dispute over HTTP: open, speak, show evidence, offer, accept, withdraw, read."""

from __future__ import annotations

import base64

import pytest
from flask import Flask

from api.helpers import BUYER, PROVIDER, STRANGER, Client
from arbitration.service import Arbitration
from web.api.auth import create_key
from web.app import create_app


@pytest.fixture
def app(database, clock, tmp_path) -> Flask:
    return create_app(
        {
            "DATABASE_URL": database.url,
            "AUTO_UPGRADE": False,
            "EVIDENCE_DIR": str(tmp_path / "evidence"),
        },
        clock,
    )


def opened(client: Client) -> tuple[dict, str, str]:
    contract = client.contract()
    milestone = client.milestone(contract["id"])
    client.fire(milestone["id"], "fund", BUYER)
    client.fire(milestone["id"], "submit", PROVIDER)
    response = client.fire(milestone["id"], "dispute", BUYER, body={"note": "Pages missing."})
    assert response.status_code == 200, response.json
    assert response.json["state"] == "disputed"
    return contract, milestone["id"], response.headers["Location"]


def test_a_party_opens_reads_and_a_stranger_or_other_tenant_cannot(client, other):
    _, _, location = opened(client)
    seen = client.get(location, actor=PROVIDER)
    assert seen.status_code == 200
    assert seen.json["reason"] == "Pages missing."
    assert seen.json["claim"] == {"to_provider": 0, "to_buyer": 25_000}
    assert seen.json["status"] == "awaiting_response"
    assert client.get(location, actor=STRANGER).status_code == 403
    assert other.get(location, actor=BUYER).json["code"] == "not_found"
    assert client.get("/v1/disputes/dp_nope", actor=BUYER).status_code == 404


def test_statements_and_evidence_with_precise_refusals(client, app):
    _, _, location = opened(client)
    said = client.post(f"{location}/statements", {"body": "All delivered."}, actor=PROVIDER)
    assert said.status_code == 201
    assert said.json["status"] == "under_review"
    text = client.post(f"{location}/evidence", {"text": "<b>log</b>"}, actor=PROVIDER)
    assert text.json["evidence"][0]["text"] == "<b>log</b>"
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n0000").decode()
    filed = client.post(
        f"{location}/evidence",
        {"filename": "shot.png", "content_type": "image/png", "content_base64": png},
        actor=BUYER,
    )
    assert filed.status_code == 201
    assert filed.json["evidence"][1]["sha256"]
    fake = base64.b64encode(b"<script>").decode()
    refused = client.post(
        f"{location}/evidence",
        {"filename": "x.png", "content_type": "image/png", "content_base64": fake},
        actor=BUYER,
    )
    assert (refused.status_code, refused.json["code"]) == (422, "evidence_rejected")
    assert (
        client.post(
            f"{location}/evidence",
            {"filename": "x.png", "content_type": "image/png", "content_base64": "%%%"},
            actor=BUYER,
        ).status_code
        == 422
    )
    assert client.post(f"{location}/evidence", {}, actor=BUYER).status_code == 422
    assert client.post(f"{location}/statements", {"body": ""}, actor=BUYER).status_code == 422


def test_an_accepted_offer_settles_and_closes_the_case(client):
    contract, milestone_id, location = opened(client)
    wrong = client.post(f"{location}/offers", {"to_provider": 1, "to_buyer": 1}, actor=PROVIDER)
    assert (wrong.status_code, wrong.json["code"]) == (422, "invalid_amount")
    offer = client.post(
        f"{location}/offers",
        {"to_provider": 15_000, "to_buyer": 10_000, "note": "fair"},
        actor=PROVIDER,
    )
    assert offer.status_code == 201
    assert offer.headers["Location"] == location
    offer_id = offer.json["id"]
    assert offer.json == {
        "id": offer_id,
        "dispute_id": location.rsplit("/", 1)[1],
        "by": "provider",
        "to_provider": 15_000,
        "to_buyer": 10_000,
        "note": "fair",
        "status": "open",
        "at": offer.json["at"],
    }
    assert client.get(location, actor=BUYER).json["offers"] == [offer.json]
    own = client.post(f"{location}/offers/{offer_id}/accept", actor=PROVIDER)
    assert own.status_code == 403
    accepted = client.post(f"{location}/offers/{offer_id}/accept", actor=BUYER)
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["status"] == "settled"
    assert client.get(f"/v1/milestones/{milestone_id}").json["state"] == "settled"
    summary = client.get(f"/v1/contracts/{contract['id']}").json["summary"]
    assert (summary["paid_to_date"], summary["refunded"]) == (15_000, 10_000)
    late = client.post(f"{location}/statements", {"body": "wait"}, actor=BUYER)
    assert (late.status_code, late.json["code"]) == (409, "dispute_closed")


def test_reject_then_withdraw_returns_the_milestone(client):
    _, milestone_id, location = opened(client)
    offer = client.post(
        f"{location}/offers", {"to_provider": 25_000, "to_buyer": 0}, actor=PROVIDER
    ).json["id"]
    rejected = client.post(f"{location}/offers/{offer}/reject", actor=BUYER)
    assert rejected.json["offers"][0]["status"] == "rejected"
    assert client.post(f"{location}/withdraw", actor=PROVIDER).json["code"] == "forbidden_event"
    withdrawn = client.post(f"{location}/withdraw", actor=BUYER)
    assert withdrawn.json["status"] == "withdrawn"
    assert client.get(f"/v1/milestones/{milestone_id}").json["state"] == "submitted"


def test_parties_never_see_staff_notes(client, app):
    _, _, location = opened(client)
    arb: Arbitration = app.extensions["arbitration"]
    staff = arb.create_staff("rita@example.com", "reviewer", "a long password here")
    dispute_id = location.rsplit("/", 1)[1]
    arb.note(dispute_id, staff, "Buyer has three similar disputes.", "10.0.0.1")
    seen = client.get(location, actor=BUYER)
    assert "similar" not in seen.get_data(as_text=True)
    assert "rita" not in seen.get_data(as_text=True)


def test_the_routes_need_a_key_and_a_party(app):
    _, key = create_key(app.extensions["tranche"].database, "acme")
    anonymous = app.test_client().get("/v1/disputes/dp_x")
    assert anonymous.status_code == 401
    no_actor = Client(app, key).get("/v1/disputes/dp_x")
    assert no_actor.status_code == 422
