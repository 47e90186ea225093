"""The seed's story over HTTP: a contract, a milestone funded, submitted, approved, paid."""

from __future__ import annotations

from datetime import timedelta

from api.helpers import BUYER, PROVIDER, STRANGER, Client


def test_paid_milestone_over_http(client: Client) -> None:
    contract = client.contract()
    assert contract["summary"]["agreed"] == 100_000
    milestone = client.milestone(contract["id"])
    assert milestone["state"] == "proposed"
    assert milestone["policy"] == {"name": "fixed-price", "version": 2}

    seen = client.get(f"/v1/milestones/{milestone['id']}", actor=BUYER)
    assert seen.status_code == 200
    assert seen.headers["ETag"] == f'"{seen.json["version"]}"'
    assert "fund" in seen.json["allowed_events"]
    assert seen.json["role"] == "buyer"

    funded = client.fire(milestone["id"], "fund", BUYER)
    assert funded.status_code == 200, funded.json
    assert funded.json["state"] == "funded"
    assert funded.json["summary"]["in_escrow"] == 25_000
    submitted = client.fire(milestone["id"], "submit", PROVIDER)
    assert submitted.json["state"] == "submitted"
    assert submitted.json["next_deadline"]["event"] == "review_period_elapsed"
    approved = client.fire(milestone["id"], "approve", BUYER)
    assert approved.json["state"] == "approved"
    assert approved.json["allowed_events"] == []

    summary = client.get(f"/v1/contracts/{contract['id']}").json["summary"]
    assert summary["paid_to_date"] == 25_000
    assert summary["in_escrow"] == 0
    assert summary["remaining"] == 75_000

    history = client.get(f"/v1/milestones/{milestone['id']}/history").json["data"]
    assert [e["type"] for e in history] == ["milestone_added", "fund", "submit", "approve"]

    listed = client.get(f"/v1/contracts/{contract['id']}/milestones", actor=PROVIDER).json
    assert [m["id"] for m in listed["data"]] == [milestone["id"]]


def test_provider_cannot_approve_and_is_told_what_they_may_do(client: Client) -> None:
    milestone = client.milestone(client.contract()["id"])
    client.fire(milestone["id"], "fund", BUYER)
    refused = client.fire(milestone["id"], "approve", PROVIDER)
    assert refused.status_code == 409
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json["type"] == "urn:tranche:problem:forbidden_event"
    assert "submit" in refused.json["allowed_events"]
    stranger = client.fire(milestone["id"], "approve", STRANGER)
    assert stranger.status_code == 403
    assert stranger.json["code"] == "not_a_party"


def test_direct_payment_and_payment_requests(client: Client) -> None:
    contract = client.contract()
    paid = client.post(
        f"/v1/contracts/{contract['id']}/payments", {"amount": 1_000, "note": "bonus"}, actor=BUYER
    )
    assert paid.status_code == 201, paid.json
    assert paid.json["summary"]["direct_payments"] == 1_000
    asked = client.post(
        f"/v1/contracts/{contract['id']}/payment-requests", {"amount": 500}, actor=PROVIDER
    )
    assert asked.status_code == 201
    assert asked.json["status"] == "requested"
    assert (
        client.post(f"/v1/payment-requests/{asked.json['id']}/pay", actor=PROVIDER).status_code
        == 409
    )
    done = client.post(f"/v1/payment-requests/{asked.json['id']}/pay", actor=BUYER)
    assert done.json["status"] == "paid"
    again = client.post(f"/v1/payment-requests/{asked.json['id']}/decline", actor=BUYER)
    assert again.status_code == 409
    summary = client.get(f"/v1/contracts/{contract['id']}").json["summary"]
    assert summary["paid_to_date"] == 1_500


def test_contracts_are_paged(client: Client) -> None:
    made = [client.contract()["id"] for _ in range(5)]
    seen, cursor = [], None
    while True:
        page = client.get("/v1/contracts?limit=2" + (f"&after={cursor}" if cursor else "")).json
        seen += [c["id"] for c in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made)
    assert len(seen) == 5


def test_another_tenants_ids_answer_404(client: Client, other: Client) -> None:
    contract = client.contract()
    milestone = client.milestone(contract["id"])
    for path in (
        f"/v1/contracts/{contract['id']}",
        f"/v1/milestones/{milestone['id']}",
        f"/v1/milestones/{milestone['id']}/history",
        f"/v1/contracts/{contract['id']}/milestones",
    ):
        assert other.get(path, actor=BUYER).status_code == 404, path
    assert other.fire(milestone["id"], "fund", BUYER).status_code == 404
    assert client.get(f"/v1/milestones/{milestone['id']}").json["state"] == "proposed"
    assert other.get("/v1/contracts").json["data"] == []


def test_policies(client: Client) -> None:
    listed = client.get("/v1/policies").json["data"]
    assert {"name": "fixed-price", "version": 2} in [
        {"name": p["name"], "version": p["version"]} for p in listed
    ]
    one = client.get("/v1/policies/fixed-price/2").json
    assert "approved" in one["final_states"]
    assert client.get("/v1/policies/fixed-price/99").status_code == 404


def test_a_command_shows_the_deadline_a_fresh_read_shows(client: Client, clock) -> None:
    """A command's answer names the deadlines it scheduled without reading them back; they
    must be those a later GET reads from the database, including the time left that a
    withdrawn dispute gives back."""
    milestone = client.milestone(client.contract()["id"])["id"]
    client.fire(milestone, "fund", BUYER)
    steps = [("submit", PROVIDER), ("dispute", BUYER), ("withdraw", BUYER)]
    for event, actor in steps:
        clock.advance(timedelta(days=3))
        answered = client.fire(milestone, event, actor, body={"note": "n"})
        assert answered.status_code == 200, answered.json
        read = client.get(f"/v1/milestones/{milestone}", actor=actor).json
        assert answered.json["next_deadline"] == read["next_deadline"], event
        assert (answered.json["next_deadline"] is None) == (event == "dispute"), event
