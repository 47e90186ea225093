"""Evidence quotas per dispute and per tenant (items and file bytes): 422, nothing stored."""

from __future__ import annotations

import base64
import threading

import pytest
from flask import Flask

from api.helpers import BUYER, PROVIDER, Client
from web.app import create_app


@pytest.fixture
def app(database, clock, tmp_path) -> Flask:
    return create_app(
        {
            "DATABASE_URL": database.url,
            "AUTO_UPGRADE": False,
            "EVIDENCE_DIR": str(tmp_path / "evidence"),
            "EVIDENCE_PER_DISPUTE": [3, 100],
            "EVIDENCE_PER_TENANT": [4, 150],
        },
        clock,
    )


def dispute(client: Client) -> str:
    milestone = client.milestone(client.contract()["id"])
    client.fire(milestone["id"], "fund", BUYER)
    return client.fire(milestone["id"], "dispute", BUYER).headers["Location"]


def text(n: int) -> dict:
    return {"text": f"note {n}"}


def file(size: int) -> dict:
    data = base64.b64encode(b"x" * size).decode()
    return {"filename": "log.txt", "content_type": "text/plain", "content_base64": data}


def refused(response, scope: str) -> None:
    assert response.status_code == 422, response.json
    assert response.json["code"] == "evidence_quota"
    assert response.json["scope"] == scope


def count(client: Client, location: str) -> int:
    return len(client.get(location, actor=BUYER).json["evidence"])


def test_a_dispute_holds_at_most_its_items(client: Client) -> None:
    case = dispute(client)
    for n in range(3):
        assert client.post(f"{case}/evidence", text(n), actor=BUYER).status_code == 201
    refused(client.post(f"{case}/evidence", text(3), actor=PROVIDER), "dispute")
    assert count(client, case) == 3


def test_a_dispute_holds_at_most_its_file_bytes(client: Client) -> None:
    case = dispute(client)
    assert client.post(f"{case}/evidence", file(60), actor=BUYER).status_code == 201
    refused(client.post(f"{case}/evidence", file(41), actor=BUYER), "dispute")
    assert client.post(f"{case}/evidence", file(40), actor=BUYER).status_code == 201


def test_a_tenant_holds_at_most_its_quota_over_all_its_disputes(
    client: Client, other: Client
) -> None:
    first, second = dispute(client), dispute(client)
    assert client.post(f"{first}/evidence", file(100), actor=BUYER).status_code == 201
    refused(client.post(f"{second}/evidence", file(51), actor=BUYER), "tenant")
    for n in range(3):
        assert client.post(f"{second}/evidence", text(n), actor=BUYER).status_code == 201
    refused(client.post(f"{second}/evidence", text(9), actor=BUYER), "dispute")
    third = dispute(client)
    refused(client.post(f"{third}/evidence", text(9), actor=BUYER), "tenant")
    assert count(client, third) == 0
    elsewhere = dispute(other)  # another tenant has its own quota
    assert other.post(f"{elsewhere}/evidence", file(100), actor=BUYER).status_code == 201


def test_a_stranger_learns_nothing_about_a_full_dispute(client: Client) -> None:
    case = dispute(client)
    for n in range(3):
        client.post(f"{case}/evidence", text(n), actor=BUYER)
    assert client.post(f"{case}/evidence", text(9), actor="stranger-1").status_code == 403


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
@pytest.mark.parametrize("scope", ["dispute", "tenant"])
def test_racing_for_the_last_place_exactly_one_wins(client: Client, live, scope: str) -> None:
    """Six uploads at once for one place left: in one dispute, or across the tenant's."""
    first = dispute(client)
    for n in range(3 if scope == "tenant" else 2):
        client.post(f"{first}/evidence", text(n), actor=BUYER)
    cases = [first] * 6 if scope == "dispute" else [dispute(client) for _ in range(6)]
    live.key = client.key  # the same tenant, over real connections
    barrier, codes = threading.Barrier(6), []

    def upload(case: str) -> None:
        barrier.wait()
        codes.append(live.call("POST", f"{case}/evidence", text(10), actor=BUYER)[0])

    threads = [threading.Thread(target=upload, args=(case,)) for case in cases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [201] + [422] * 5
    stored = sum(count(client, case) for case in set(cases) | {first})
    assert stored == (4 if scope == "tenant" else 3)
