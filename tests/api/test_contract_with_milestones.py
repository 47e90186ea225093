"""A contract created with its milestones: one request, one transaction, all or nothing."""

from __future__ import annotations

from typing import Any

from api.helpers import BUYER, PROVIDER, Client
from web.api.schemas import MILESTONES_AT_CREATION


def contract_body(*milestones: dict[str, Any], agreed: int = 100_000) -> dict[str, Any]:
    return {
        "buyer_id": BUYER,
        "provider_id": PROVIDER,
        "currency": "USD",
        "agreed_amount": agreed,
        "title": "Site redesign",
        "milestones": list(milestones),
    }


def contracts(client: Client) -> list[dict[str, Any]]:
    return client.get("/v1/contracts").json["data"]


def test_the_milestones_come_back_in_order_as_a_milestone_read_shows_them(client: Client):
    parts = [{"title": "Design", "amount": 30_000}, {"title": "Build", "amount": 70_000}]
    created = client.post("/v1/contracts", contract_body(*parts), actor=BUYER)
    assert created.status_code == 201, created.json
    milestones = created.json["milestones"]
    assert [(m["title"], m["amount"], m["position"]) for m in milestones] == [
        ("Design", 30_000, 1),
        ("Build", 70_000, 2),
    ]
    for shown in milestones:
        assert shown == client.get(f"/v1/milestones/{shown['id']}", actor=BUYER).json
    assert shown["role"] == "buyer"
    assert shown["allowed_events"]
    funded = client.fire(milestones[0]["id"], "fund", BUYER)
    assert funded.json["summary"]["in_escrow"] == 30_000
    history = client.get(f"/v1/milestones/{milestones[1]['id']}/history").json["data"]
    assert [(e["type"], e["seq"]) for e in history] == [("milestone_added", 3)]


def test_without_milestones_the_list_is_empty(client: Client):
    created = client.post("/v1/contracts", contract_body())
    assert created.status_code == 201, created.json
    assert created.json["milestones"] == []
    assert created.json["summary"]["remaining"] == 100_000


def test_a_refused_milestone_leaves_no_contract_behind(client: Client):
    parts = [{"title": "Design", "amount": 60_000}, {"title": "Build", "amount": 60_000}]
    refused = client.post("/v1/contracts", contract_body(*parts))
    assert refused.status_code == 422, refused.json
    assert refused.json["type"] == "urn:tranche:problem:exceeds_agreed"
    assert refused.json["milestone_index"] == 1
    assert contracts(client) == []


def test_malformed_milestones_are_named_by_position(client: Client):
    bad = client.post(
        "/v1/contracts", contract_body({"title": "Design", "amount": 10_000}, {"title": ""})
    )
    assert bad.status_code == 422, bad.json
    assert set(bad.json["errors"]["milestones"]["1"]) == {"title", "amount"}
    too_many = [{"title": f"m{i}", "amount": 1} for i in range(MILESTONES_AT_CREATION + 1)]
    refused = client.post("/v1/contracts", contract_body(*too_many))
    assert refused.status_code == 422, refused.json
    assert "milestones" in refused.json["errors"]
    assert contracts(client) == []
