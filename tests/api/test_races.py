"""Concurrent clients against a real server: one key acts once; one event wins per milestone;
one decision per payment request; one send per webhook delivery."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from racing import WON, race
from sqlalchemy import select

from api.helpers import BUYER, PROVIDER, Client, LiveServer
from engine.service.tranche import Tranche
from web.api.models import WebhookDelivery
from web.api.webhooks import deliver_due

CLIENTS = 8

WEBHOOK_ALLOW_HOSTS = "127.0.0.1"  # the webhook race posts to this machine


def _contract_and_milestone(live: LiveServer, with_milestone: bool = True) -> str:
    """A milestone's id; or, without one, the contract's."""
    status, contract, _ = live.call(
        "POST",
        "/v1/contracts",
        {
            "buyer_id": BUYER,
            "provider_id": PROVIDER,
            "currency": "EUR",
            "agreed_amount": 50_000,
            "title": "Race",
        },
    )
    assert status == 201
    if not with_milestone:
        return contract["id"]
    status, milestone, _ = live.call(
        "POST", f"/v1/contracts/{contract['id']}/milestones", {"title": "m", "amount": 50_000}
    )
    assert status == 201
    return milestone["id"]


def _together(calls: list) -> list:
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


@pytest.mark.parametrize("attempt", range(3))
def test_same_idempotency_key_acts_once(live: LiveServer, app, attempt: int) -> None:
    milestone = _contract_and_milestone(live)
    path = f"/v1/milestones/{milestone}/events/fund"
    headers = {"Idempotency-Key": f"fund-{attempt}"}
    results = _together(
        [lambda: live.call("POST", path, {}, BUYER, headers) for _ in range(CLIENTS)]
    )
    assert {status for status, _, _ in results} == {200}
    assert len({str(body) for _, body, _ in results}) == 1
    status, history, _ = live.call("GET", f"/v1/milestones/{milestone}/history")
    assert [e["type"] for e in history["data"]].count("fund") == 1
    tranche: Tranche = app.extensions["tranche"]
    assert tranche.unbalanced_entries() == []


@pytest.mark.parametrize("attempt", range(3))
def test_conflicting_events_exactly_one_wins(live: LiveServer, app, attempt: int) -> None:
    milestone = _contract_and_milestone(live)
    assert live.call("POST", f"/v1/milestones/{milestone}/events/fund", {}, BUYER)[0] == 200
    assert live.call("POST", f"/v1/milestones/{milestone}/events/submit", {}, PROVIDER)[0] == 200
    path = f"/v1/milestones/{milestone}/events/"
    moves = [("approve", BUYER), ("refund", PROVIDER), ("dispute", BUYER), ("dispute", PROVIDER)]
    calls = [
        (lambda e=event, a=actor: live.call("POST", path + e, {}, a))
        for event, actor in moves * (CLIENTS // len(moves))
    ]
    results = _together(calls)
    statuses = sorted(status for status, _, _ in results)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 409}
    winner = next(body for status, body, _ in results if status == 200)
    status, now, _ = live.call("GET", f"/v1/milestones/{milestone}")
    assert now["state"] == winner["state"]
    tranche: Tranche = app.extensions["tranche"]
    assert tranche.unbalanced_entries() == []
    assert tranche.verify() == []
    summary = now["summary"]
    assert summary["funded"] == summary["released"] + summary["refunded"] + summary["in_escrow"]


def _payment_request(live: LiveServer) -> str:
    contract = _contract_and_milestone(live, with_milestone=False)
    status, request, _ = live.call(
        "POST", f"/v1/contracts/{contract}/payment-requests", {"amount": 2_000}, PROVIDER
    )
    assert status == 201
    return request["id"]


@pytest.mark.parametrize("verbs", [("pay",), ("pay", "decline")], ids=["pay", "pay-or-decline"])
def test_a_payment_request_is_decided_by_exactly_one_client(
    live: LiveServer, app, verbs: tuple[str, ...]
) -> None:
    request = _payment_request(live)
    paths = [f"/v1/payment-requests/{request}/{verbs[i % len(verbs)]}" for i in range(CLIENTS)]
    calls = [lambda p=path: live.call("POST", p, None, BUYER) for path in paths]
    results = _together(calls)
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [200] + [409] * (CLIENTS - 1), statuses
    winner = next(body for status, body, _ in results if status == 200)
    contract = winner["contract_id"]
    status, found, _ = live.call("GET", f"/v1/contracts/{contract}")
    paid = 2_000 if winner["status"] == "paid" else 0
    assert (found["summary"]["direct_payments"], found["summary"]["paid_to_date"]) == (paid, paid)
    tranche: Tranche = app.extensions["tranche"]
    assert tranche.unbalanced_entries() == []
    assert tranche.verify() == []


def test_webhook_workers_at_once_send_each_delivery_once(client: Client, app, clock) -> None:
    """Several `tranche deliver` workers: each delivery is claimed (leased) by one of them."""
    client.post("/v1/webhooks", {"url": "http://127.0.0.1:9/hooks"})
    contract = client.contract()
    for _ in range(3):
        milestone = client.milestone(contract["id"], amount=1_000)
        client.fire(milestone["id"], "fund", BUYER)
    sent: list[str] = []

    def receive(url: str, body: bytes, headers: dict[str, str]) -> int:
        sent.append(headers["Tranche-Delivery"])
        return 204

    database = app.extensions["tranche"].database
    settings = app.extensions["tranche_webhooks"]
    outcomes = race(
        [lambda: deliver_due(Tranche(database, clock), settings, receive) for _ in range(4)]
    )
    assert outcomes == [WON] * 4
    with database.session() as session:
        statuses = session.execute(select(WebhookDelivery.id, WebhookDelivery.status)).all()
    assert len(statuses) == 7  # the contract, three milestones and three fundings
    assert sorted(sent) == sorted(delivery for delivery, _ in statuses)
    assert {status for _, status in statuses} == {"delivered"}
