"""Webhooks: an outbox row per event, signed deliveries to a real receiver, backoff,
redelivery, failures recorded as codes, and no subscription waiting on another's."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from api.helpers import BUYER, Client
from api.webhook_receivers import Receiver, closed_port, run_deliver, serving
from web.api.egress import EgressPolicy
from web.api.models import WebhookDelivery
from web.api.webhook_post import Poster
from web.api.webhooks import WebhookSettings, backoff, deliver_due, verify

WEBHOOK_ALLOW_HOSTS = "127.0.0.1"
"""The operator's allow-list in these tests' app: the receivers listen on 127.0.0.1."""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving() as made:
        yield made


def deliver(app: Flask, **kw) -> list:
    settings: WebhookSettings = app.extensions["tranche_webhooks"]
    return deliver_due(app.extensions["tranche"], settings, **kw)


def test_signed_deliveries_reach_a_receiver(client: Client, app, receiver: Receiver) -> None:
    hook = client.post("/v1/webhooks", {"url": receiver.url}).json
    assert hook["secret"].startswith("whsec_")
    assert "secret" not in client.get("/v1/webhooks").json["data"][0]
    milestone = client.milestone(client.contract()["id"])
    client.fire(milestone["id"], "fund", BUYER)

    outcomes = deliver(app)
    assert [o.status for o in outcomes] == ["delivered"] * 3
    types = []
    for headers, body in receiver.received:
        assert verify(hook["secret"], headers["Tranche-Signature"], body)
        assert not verify("whsec_wrong", headers["Tranche-Signature"], body)
        assert not verify(hook["secret"], headers["Tranche-Signature"], body + b" ")
        types.append(json.loads(body)["event"]["type"])
    assert types == ["contract_created", "milestone_added", "fund"]
    assert deliver(app) == []


def test_deliver_sends_events_nobody_read(client: Client, app, receiver: Receiver) -> None:
    """`tranche deliver` numbers the feed itself: webhooks go out though no one reads it."""
    client.post("/v1/webhooks", {"url": receiver.url})
    milestone = client.milestone(client.contract()["id"])
    client.fire(milestone["id"], "fund", BUYER)
    database = app.extensions["tranche"].database
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    result = run_deliver(database)
    assert result.exit_code == 0, result.output
    assert result.output.count(": delivered (204)") == 3
    sent = [json.loads(body) for _, body in receiver.received]
    assert [(s["cursor"], s["event"]["type"]) for s in sent] == [
        ("1", "contract_created"),
        ("2", "milestone_added"),
        ("3", "fund"),
    ]


def test_a_subscription_gets_the_events_after_it(
    client: Client, app, clock, receiver: Receiver
) -> None:
    """Numbered after the subscription was made, an earlier event still gets no delivery."""
    client.contract()
    clock.advance(timedelta(seconds=1))
    client.post("/v1/webhooks", {"url": receiver.url})
    clock.advance(timedelta(seconds=1))
    later = client.contract()
    assert [o.status for o in deliver(app)] == ["delivered"]
    (sent,) = [json.loads(body) for _, body in receiver.received]
    assert (sent["cursor"], sent["event"]["contract_id"]) == ("2", later["id"])


def test_failures_back_off_and_can_be_redelivered(
    client: Client, app, clock, receiver: Receiver
) -> None:
    hook = client.post("/v1/webhooks", {"url": receiver.url}).json
    client.contract()
    receiver.fail = 2
    (first,) = deliver(app)
    assert (first.status, first.status_code, first.error) == ("pending", 500, "http_5xx")
    assert deliver(app) == []  # not due before the backoff
    clock.advance(backoff(1))
    (second,) = deliver(app)
    assert second.status == "pending"
    clock.advance(backoff(2))
    (third,) = deliver(app)
    assert (third.status, third.error) == ("delivered", None)
    deliveries = client.get(f"/v1/webhooks/{hook['id']}/deliveries").json["data"]
    assert deliveries[0]["attempts"] == 3
    assert deliveries[0]["status"] == "delivered"

    again = client.post(f"/v1/webhooks/{hook['id']}/deliveries/{deliveries[0]['id']}/redeliver")
    assert again.status_code == 200
    assert again.json["status"] == "pending"
    (fourth,) = deliver(app)
    assert fourth.status == "delivered"
    assert len(receiver.received) == 4
    assert json.loads(receiver.received[-1][1])["id"] == deliveries[0]["id"]


def test_deliveries_list_an_error_code_never_the_raw_error(client: Client, app) -> None:
    """A tenant reads the deliveries listing: a socket error's text ("[Errno 111]
    Connection refused" on one port, a timeout on another) would map the network."""
    hook = client.post("/v1/webhooks", {"url": f"http://127.0.0.1:{closed_port()}/x"}).json
    client.contract()
    result = run_deliver(app.extensions["tranche"].database)
    assert result.exit_code == 0, result.output
    assert "(connection_refused)" in result.output
    (delivery,) = client.get(f"/v1/webhooks/{hook['id']}/deliveries").json["data"]
    assert delivery["status"] == "pending"
    assert delivery["last_error"] == "connection_refused"
    assert delivery["last_status_code"] is None


@pytest.mark.parametrize(
    ("status", "error"),
    [(301, "redirect"), (307, "redirect"), (404, "http_4xx"), (410, "http_4xx")],
)
def test_a_redirect_is_not_followed_and_answers_are_classified(
    client: Client, app, status: int, error: str
) -> None:
    with serving(status) as receiver:
        client.post("/v1/webhooks", {"url": receiver.url})
        client.contract()
        (outcome,) = deliver(app)
    assert (outcome.status, outcome.status_code, outcome.error) == ("pending", status, error)
    assert len(receiver.received) == 1  # the Location was not visited (it is a closed port)


def test_a_receiver_that_never_answers_is_a_timeout(client: Client, app, receiver) -> None:
    answer = threading.Event()
    receiver.before_answer = lambda: answer.wait(60)
    client.post("/v1/webhooks", {"url": receiver.url})
    client.contract()
    poster = Poster(EgressPolicy.from_setting("127.0.0.1"), timeout=0.2)
    try:
        (outcome,) = deliver(app, send=poster)
    finally:
        answer.set()
    assert (outcome.status, outcome.status_code, outcome.error) == ("pending", None, "timeout")


def test_a_slow_receiver_holds_up_no_other_subscription(client: Client, other: Client, app):
    """Two tenants; one endpoint hangs on its first delivery. The other's deliveries all
    arrive, in order, while the hung one is still in flight (nothing recorded for it
    yet); then the hung one's arrive, in order, once it answers. Sent one at a time,
    the fast tenant's would wait behind it."""
    with serving() as slow, serving() as fast:
        release = threading.Event()
        slow.before_answer = lambda: release.wait(120)
        hung = client.post("/v1/webhooks", {"url": slow.url}).json["id"]
        other.post("/v1/webhooks", {"url": fast.url})
        for _ in range(2):
            client.milestone(client.contract()["id"])
            other.milestone(other.contract()["id"])
        database = app.extensions["tranche"].database
        options = ("--workers", "4", "--timeout", "120")
        worker = threading.Thread(target=lambda: run_deliver(database, *options))
        worker.start()
        try:
            assert slow.wait_for(1)
            assert fast.wait_for(4), "the fast endpoint waited for the slow one"
            with database.session() as session:
                tried = session.scalars(
                    select(WebhookDelivery.attempts).where(WebhookDelivery.subscription_id == hung)
                ).all()
            assert (len(slow.received), tried) == (1, [0, 0, 0, 0])  # still in flight
        finally:
            release.set()
            worker.join(timeout=120)
        assert not worker.is_alive()
        for endpoint in (slow, fast):
            cursors = [int(json.loads(body)["cursor"]) for _, body in endpoint.received]
            assert len(cursors) == 4
            assert cursors == sorted(cursors)


def test_deleted_subscription_gets_nothing(client: Client, other: Client, app) -> None:
    hook = client.post("/v1/webhooks", {"url": "https://hooks.example.com/x"}).json
    assert other.call("DELETE", f"/v1/webhooks/{hook['id']}").status_code == 404
    assert client.call("DELETE", f"/v1/webhooks/{hook['id']}").status_code == 204
    client.contract()
    assert deliver(app) == []
    assert client.get("/v1/webhooks").json["data"] == []
    assert client.call("DELETE", f"/v1/webhooks/{hook['id']}").status_code == 404


def test_deleting_a_subscription_cancels_what_it_still_owed(client: Client, app) -> None:
    hook = client.post("/v1/webhooks", {"url": "https://hooks.example.com/x"}).json
    for _ in range(3):
        client.contract()
    assert len(client.get(f"/v1/webhooks/{hook['id']}/deliveries").json["data"]) == 3
    assert client.call("DELETE", f"/v1/webhooks/{hook['id']}").status_code == 204
    assert deliver(app) == []
    with app.extensions["tranche"].database.session() as session:
        statuses = session.scalars(select(WebhookDelivery.status)).all()
    assert statuses == ["cancelled"] * 3


def test_backoff_doubles_and_caps() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [10, 20, 40]
    assert backoff(30) == timedelta(hours=6)
