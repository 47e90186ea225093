"""The finance reports over HTTP: the key's tenant only, as of an instant, bad instants refused."""

from __future__ import annotations

from datetime import timedelta

from api.test_rail_api import released
from conftest import START


def test_liability_and_aging_of_the_keys_tenant_as_of_an_instant(client, other, clock):
    clock.set(START - timedelta(days=40))
    released(client, 25_000, "pi_1")  # 23,750 owed to the provider, 40 days ago
    clock.set(START)
    funded = client.milestone(client.contract()["id"], 10_000)
    charge = {"rail_reference": "pi_2", "amount": 10_000, "currency": "USD"}
    assert client.fire(funded["id"], "fund", "buyer-1", body=charge).status_code == 200

    now = client.get("/v1/reports/liability")
    assert now.status_code == 200, now.json
    assert now.json["as_of"] == START.isoformat()
    tenant = now.json["tenant"]  # the key's
    assert now.json["data"] == [
        {
            "currency": "USD",
            "in_escrow": 10_000,
            "pending_funding": 0,
            "held": 0,
            "available": 23_750,
            "in_flight": 0,
            "debts": 0,
            "total": 33_750,
        }
    ]
    before = client.get("/v1/reports/liability?as_of=2026-11-23T23:59:59%2B01:00")
    assert before.status_code == 200, before.json
    assert [(x["in_escrow"], x["total"]) for x in before.json["data"]] == [(0, 23_750)]
    assert other.get("/v1/reports/liability").json["data"] == []  # another tenant's books

    aging = client.get("/v1/reports/aging?as_of=2026-11-24T09:00:00Z")
    assert aging.status_code == 200, aging.json
    assert aging.json["data"] == [
        {
            "tenant": tenant,
            "party_id": "provider-1",
            "currency": "USD",
            "owed": 23_750,
            "buckets": {"0-7": 0, "8-30": 0, "31-60": 23_750, "61-90": 0, ">90": 0},
        }
    ]


BAD = [
    ("as_of=2026-10-31", "invalid_as_of", "has no time zone"),
    ("as_of=last-month", "invalid_as_of", "is not an ISO 8601 instant"),
    ("as_of=2030-01-01T00:00:00Z", "invalid_as_of", "is in the future"),
    ("as_of=" + "1" * 65, "validation", "some fields are not valid"),
    ("asof=2026-10-31T00:00:00Z", "validation", "some fields are not valid"),  # misspelt
]


def test_a_bad_instant_is_a_problem_naming_it(client):
    for report in ("liability", "aging"):
        for query, code, says in BAD:
            response = client.get(f"/v1/reports/{report}?{query}")
            assert response.status_code == 422, (report, query)
            assert response.headers["Content-Type"] == "application/problem+json"
            assert response.json["code"] == code, query
            assert says in response.json["detail"], query
            assert query.split("=")[0] in str(response.json), query  # names the parameter
