"""The rail over HTTP: a two-phase funding, a payout, a chargeback after it, the debt repaid."""

from __future__ import annotations

import pytest

from api.helpers import BUYER, PROVIDER


def released(client, amount: int, reference: str, pending: bool = False) -> dict:
    """A milestone funded through the rail (two-phase if `pending`), submitted, approved."""
    contract_id = client.contract()["id"]
    milestone = client.milestone(contract_id, amount)
    if pending:
        opened = client.fire(milestone["id"], "fund", BUYER, body={"pending": True})
        assert opened.status_code == 202, opened.json
        confirmed = client.post(
            opened.headers["Location"] + "/confirm",
            {"rail_reference": reference, "amount": amount, "currency": "usd"},
        )
        assert confirmed.status_code == 200, confirmed.json
    else:
        charge = {"rail_reference": reference, "amount": amount, "currency": "USD"}
        assert client.fire(milestone["id"], "fund", BUYER, body=charge).status_code == 200
    assert client.fire(milestone["id"], "submit", PROVIDER).status_code == 200
    assert client.fire(milestone["id"], "approve", BUYER).status_code == 200
    return milestone


def owed(client, party: str) -> dict:
    response = client.get(f"/v1/parties/{party}/balances")
    assert response.status_code == 200, response.json
    return response.json["data"][0]


def test_the_whole_rail_story(client):
    milestone = client.milestone(client.contract()["id"], 25_000)
    opened = client.fire(milestone["id"], "fund", BUYER, body={"pending": True})
    assert opened.status_code == 202
    funding = opened.json["funding"]
    assert (funding["status"], funding["amount"]) == ("pending", 25_000)
    assert opened.json["milestone"]["summary"]["pending_funding"] == 25_000
    assert opened.json["milestone"]["summary"]["in_escrow"] == 0
    assert opened.json["milestone"]["state"] == "proposed"
    confirmed = client.post(
        f"/v1/fundings/{funding['id']}/confirm",
        {"rail_reference": "pi_1", "amount": 25_000, "currency": "USD"},
    )
    assert confirmed.status_code == 200, confirmed.json
    assert confirmed.json["milestone"]["state"] == "funded"
    again = client.post(
        f"/v1/fundings/{funding['id']}/confirm",
        {"rail_reference": "pi_1", "amount": 25_000, "currency": "USD"},
    )
    assert again.status_code == 409
    assert again.json["code"] == "already_settled"
    client.fire(milestone["id"], "submit", PROVIDER)
    client.fire(milestone["id"], "approve", BUYER)
    assert owed(client, PROVIDER)["due"] == 23_750
    assert client.get("/v1/payables?currency=USD").json["data"][0]["party_id"] == PROVIDER
    contract_id = milestone["contract_id"]
    payout = client.post(
        "/v1/payouts",
        {
            "contract_id": contract_id,
            "party_id": PROVIDER,
            "amount": 23_750,
            "currency": "USD",
            "rail_reference": "tr_1",
        },
    )
    assert payout.status_code == 201, payout.json
    assert client.post(f"/v1/payouts/{payout.json['id']}/paid").json["status"] == "paid"
    chargeback = client.post(
        "/v1/chargebacks",
        {
            "funding_reference": "pi_1",
            "rail_reference": "du_1",
            "amount": 25_000,
            "currency": "USD",
            "reason": "fraudulent",
            "respond_by": "2026-12-15T00:00:00Z",
        },
    )
    assert chargeback.status_code == 201, chargeback.json
    assert chargeback.json["borne_by"]["provider_debt"] == 23_750
    assert (owed(client, PROVIDER)["available"], owed(client, PROVIDER)["debt"]) == (
        -23_750,
        23_750,
    )
    following = client.milestone(contract_id, 30_000)
    charge = {"rail_reference": "pi_2", "amount": 30_000, "currency": "USD"}
    client.fire(following["id"], "fund", BUYER, body=charge)
    client.fire(following["id"], "submit", PROVIDER)
    client.fire(following["id"], "approve", BUYER)
    assert (owed(client, PROVIDER)["available"], owed(client, PROVIDER)["debt"]) == (4_750, 0)
    types = [item["event"]["type"] for item in client.get("/v1/events?limit=100").json["data"]]
    for step in ("funding_pending", "funding_confirmed", "payout_recorded", "payout_paid"):
        assert step in types
    assert "chargeback_booked" in types


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"pending": True, "amount": 25_000}, "amount"),
        ({"rail_reference": "pi_1", "amount": 25_000}, "currency"),
        ({"rail_reference": "pi_1", "currency": "USD"}, "amount"),
        ({"rail_reference": "pi 1", "amount": 25_000, "currency": "USD"}, "rail_reference"),
        ({"pending": True, "expires_in": 5}, "expires_in"),
        ({"rail_reference": "pi_1", "amount": 25_000, "currency": "US"}, "currency"),
    ],
)
def test_a_bad_funding_is_refused_precisely_and_changes_nothing(client, body, field):
    milestone = client.milestone(client.contract()["id"])
    refused = client.fire(milestone["id"], "fund", BUYER, body=body)
    assert refused.status_code == 422, refused.json
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert field in refused.json["errors"]
    after = client.get(f"/v1/milestones/{milestone['id']}").json
    assert (after["state"], after["summary"]["pending_funding"]) == ("proposed", 0)
    assert client.get(f"/v1/milestones/{milestone['id']}/fundings").json["data"] == []


def test_a_charge_that_differs_is_refused(client):
    milestone = client.milestone(client.contract()["id"], 25_000)
    charge = {"rail_reference": "pi_1", "amount": 20_000, "currency": "USD"}
    refused = client.fire(milestone["id"], "fund", BUYER, body=charge)
    assert (refused.status_code, refused.json["code"]) == (422, "funding_mismatch")


def test_another_tenant_sees_nothing_of_it(client, other):
    milestone = released(client, 25_000, "pi_1", pending=True)
    funding_id = client.get(f"/v1/milestones/{milestone['id']}/fundings").json["data"][0]["id"]
    assert other.get(f"/v1/fundings/{funding_id}").status_code == 404
    assert other.get(f"/v1/parties/{PROVIDER}/balances").json["data"] == []
    refused = other.post(
        "/v1/payouts",
        {
            "contract_id": milestone["contract_id"],
            "party_id": PROVIDER,
            "amount": 1,
            "currency": "USD",
            "rail_reference": "tr_x",
        },
    )
    assert refused.status_code == 404
    taken = {"funding_reference": "pi_1", "rail_reference": "du_x", "amount": 1, "currency": "USD"}
    assert other.post("/v1/chargebacks", taken).status_code == 404


def test_a_payout_retried_with_its_key_is_recorded_once(client):
    milestone = released(client, 25_000, "pi_1")
    body = {
        "contract_id": milestone["contract_id"],
        "party_id": PROVIDER,
        "amount": 10_000,
        "currency": "USD",
        "rail_reference": "tr_1",
    }
    first = client.post("/v1/payouts", body, headers={"Idempotency-Key": "payout-1"})
    second = client.post("/v1/payouts", body, headers={"Idempotency-Key": "payout-1"})
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json["id"] == second.json["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert owed(client, PROVIDER)["in_flight"] == 10_000
    too_much = client.post("/v1/payouts", body | {"rail_reference": "tr_2", "amount": 13_751})
    assert (too_much.status_code, too_much.json["code"]) == (409, "insufficient_balance")
    failed = client.post(f"/v1/payouts/{first.json['id']}/failed", {"reason": "account closed"})
    assert (failed.json["status"], failed.json["failure_reason"]) == ("failed", "account closed")
    assert owed(client, PROVIDER)["due"] == 23_750


def test_a_chargeback_retried_with_its_key_is_booked_once(client):
    released(client, 25_000, "pi_1")
    body = {
        "funding_reference": "pi_1",
        "rail_reference": "du_1",
        "amount": 5_000,
        "currency": "USD",
        "respond_by": "2026-12-15T00:00:00+00:00",
    }
    first = client.post("/v1/chargebacks", body, headers={"Idempotency-Key": "cb-1"})
    second = client.post("/v1/chargebacks", body, headers={"Idempotency-Key": "cb-1"})
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json == second.json
    assert first.json["respond_by"] == "2026-12-15T00:00:00+00:00"
    assert owed(client, PROVIDER)["available"] == 23_750 - 5_000
