"""The OpenAPI document describes every /v1 route, its errors as problem+json, and auth."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from api.helpers import Client
from web.api.commands import purge_keys


def test_every_route_is_documented(app: Flask) -> None:
    document = app.test_client().get("/v1/openapi.json").json
    documented = {
        (path, method.upper())
        for path, operations in document["paths"].items()
        for method in operations
    }
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/v1"):
            continue
        path = rule.rule.replace("<string:", "{").replace("<int:", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, (path, method)
    fire = document["paths"]["/v1/milestones/{milestone_id}/events/{event}"]["post"]
    headers = {p["name"] for p in fire["parameters"] if p["in"] == "header"}
    assert {"Tranche-Actor", "Idempotency-Key", "If-Match"} <= headers
    assert set(fire["responses"]) >= {"200", "401", "404", "409", "412", "422"}
    assert "application/problem+json" in fire["responses"]["409"]["content"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_an_offer_is_documented_as_answering_with_the_offer(app: Flask) -> None:
    document = app.test_client().get("/v1/openapi.json").json
    created = document["paths"]["/v1/disputes/{dispute_id}/offers"]["post"]["responses"]["201"]
    schema = created["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert schema == "OfferOut"
    assert {"id", "dispute_id", "to_provider", "to_buyer", "status"} <= set(
        document["components"]["schemas"][schema]["properties"]
    )
    assert "Location" in created["headers"]


def test_idempotency_keys_are_kept_a_day(client: Client, app: Flask, clock) -> None:
    contract = client.contract()
    key = {"Idempotency-Key": "keep-me"}
    path = f"/v1/contracts/{contract['id']}/milestones"
    client.post(path, {"title": "a", "amount": 1}, headers=key)
    tranche = app.extensions["tranche"]
    clock.advance(timedelta(hours=23))
    assert purge_keys(tranche, timedelta(hours=1)) == 0  # never less than 24 hours
    assert client.post(path, {"title": "a", "amount": 1}, headers=key).headers.get(
        "Idempotent-Replayed"
    )
    clock.advance(timedelta(hours=2))
    assert purge_keys(tranche) == 1
    fresh = client.post(path, {"title": "a", "amount": 1}, headers=key)
    assert fresh.status_code == 201
    assert "Idempotent-Replayed" not in fresh.headers
