"""Retries with an Idempotency-Key replay the first answer; If-Match refuses stale writes."""

from __future__ import annotations

from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import select

from api.helpers import BUYER, PROVIDER, Client
from web.api.commands import purge_keys
from web.api.models import IdempotencyRecord
from web.cli import main


def test_replay_returns_the_same_answer_without_acting(client: Client) -> None:
    contract = client.contract()
    body = {"title": "Design", "amount": 10_000}
    key = {"Idempotency-Key": "ms-create-1"}
    first = client.post(f"/v1/contracts/{contract['id']}/milestones", body, headers=key)
    again = client.post(f"/v1/contracts/{contract['id']}/milestones", body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.data == first.data
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["ETag"] == first.headers["ETag"]
    listed = client.get(f"/v1/contracts/{contract['id']}/milestones").json["data"]
    assert len(listed) == 1


def test_replayed_event_moves_money_once(client: Client) -> None:
    milestone = client.milestone(client.contract()["id"])
    key = {"Idempotency-Key": "fund-1"}
    first = client.fire(milestone["id"], "fund", BUYER, headers=key)
    second = client.fire(milestone["id"], "fund", BUYER, headers=key)
    assert second.status_code == first.status_code == 200
    assert second.json == first.json
    assert client.get(f"/v1/milestones/{milestone['id']}").json["summary"]["funded"] == 25_000
    without_key = client.fire(milestone["id"], "fund", BUYER)
    assert without_key.status_code == 409


def test_a_retried_payment_pays_once(client: Client) -> None:
    """The retry would succeed again on its own; the key's record makes it roll back."""
    contract = client.contract()
    path, key = f"/v1/contracts/{contract['id']}/payments", {"Idempotency-Key": "pay-1"}
    first = client.post(path, {"amount": 1_000}, actor=BUYER, headers=key)
    again = client.post(path, {"amount": 1_000}, actor=BUYER, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.data == first.data
    assert again.headers["Idempotent-Replayed"] == "true"
    summary = client.get(f"/v1/contracts/{contract['id']}").json["summary"]
    assert summary["direct_payments"] == 1_000
    feed = client.get("/v1/events").json["data"]
    assert [e["event"]["type"] for e in feed].count("payment_made") == 1


def test_same_key_different_body_is_refused(client: Client) -> None:
    contract = client.contract()
    key = {"Idempotency-Key": "k"}
    path = f"/v1/contracts/{contract['id']}/milestones"
    assert client.post(path, {"title": "a", "amount": 1}, headers=key).status_code == 201
    refused = client.post(path, {"title": "a", "amount": 2}, headers=key)
    assert refused.status_code == 422
    assert refused.json["type"] == "urn:tranche:problem:idempotency_mismatch"
    assert len(client.get(f"{path}").json["data"]) == 1


def test_keys_belong_to_one_tenant(client: Client, other: Client) -> None:
    key = {"Idempotency-Key": "shared-name"}
    mine = client.post("/v1/webhooks", {"url": "https://hooks.example.com/x"}, headers=key)
    theirs = other.post("/v1/webhooks", {"url": "https://hooks.example.com/x"}, headers=key)
    assert mine.status_code == theirs.status_code == 201
    assert mine.json["id"] != theirs.json["id"]


def test_a_refusal_is_not_stored(client: Client) -> None:
    milestone = client.milestone(client.contract()["id"])
    key = {"Idempotency-Key": "submit-early"}
    assert client.fire(milestone["id"], "submit", PROVIDER, headers=key).status_code == 409
    client.fire(milestone["id"], "fund", BUYER)
    assert client.fire(milestone["id"], "submit", PROVIDER, headers=key).status_code == 200


def test_stale_if_match_is_412_and_changes_nothing(client: Client) -> None:
    milestone = client.milestone(client.contract()["id"])
    read = client.get(f"/v1/milestones/{milestone['id']}")
    tag = read.headers["ETag"]
    funded = client.fire(milestone["id"], "fund", BUYER, headers={"If-Match": tag})
    assert funded.status_code == 200
    assert funded.headers["ETag"] != tag
    stale = client.fire(milestone["id"], "cancel", BUYER, headers={"If-Match": tag})
    assert stale.status_code == 412
    assert stale.json["type"] == "urn:tranche:problem:precondition_failed"
    assert stale.json["current_version"] == funded.json["version"]
    assert client.get(f"/v1/milestones/{milestone['id']}").json["state"] == "funded"
    garbage = client.fire(milestone["id"], "submit", PROVIDER, headers={"If-Match": '"abc"'})
    assert garbage.status_code == 412
    current = client.fire(
        milestone["id"], "submit", PROVIDER, headers={"If-Match": funded.headers["ETag"]}
    )
    assert current.status_code == 200


def stored_keys(app) -> set[str]:
    with app.extensions["tranche"].reading() as uow:
        return set(uow.session.scalars(select(IdempotencyRecord.key)))


def test_keys_past_their_window_are_forgotten_a_batch_at_a_time(client: Client, app, clock):
    contract = client.contract()
    path = f"/v1/contracts/{contract['id']}/milestones"
    for n in range(5):
        client.post(path, {"title": "a", "amount": 1}, headers={"Idempotency-Key": f"old-{n}"})
    clock.advance(timedelta(hours=25))
    client.post(path, {"title": "b", "amount": 1}, headers={"Idempotency-Key": "fresh"})
    assert purge_keys(app.extensions["tranche"], batch=2) == 5  # three transactions
    assert stored_keys(app) == {"fresh"}


def test_the_sweep_forgets_keys_past_their_window(client: Client, app) -> None:
    """`tranche sweep` purges too, so keys do not pile up where no webhook worker runs
    (the records here were written on the test clock, days before the real one)."""
    body = {"buyer_id": BUYER, "provider_id": PROVIDER, "currency": "USD", "agreed_amount": 1}
    client.post("/v1/contracts", {**body, "title": "t"}, headers={"Idempotency-Key": "a-day-old"})
    result = CliRunner().invoke(
        main, ["--database-url", app.extensions["tranche"].database.url, "sweep"]
    )
    assert "1 Idempotency-Key record(s) past their window" in result.output
    assert stored_keys(app) == set()
