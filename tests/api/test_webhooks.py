"""Webhooks: an outbox row per event, signed deliveries to a real receiver, backoff, redelivery."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from api.helpers import BUYER, Client
from web.api.models import WebhookDelivery
from web.api.webhooks import backoff, deliver_due, verify
from web.cli import main


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records what it gets; fails the first `fail` posts."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                status = 500 if receiver.fail > 0 else 204
                receiver.fail -= 1
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    thread = threading.Thread(target=made.server.serve_forever, daemon=True)
    thread.start()
    yield made
    made.server.shutdown()
    thread.join(timeout=5)


def test_signed_deliveries_reach_a_receiver(client: Client, app, receiver: Receiver) -> None:
    hook = client.post("/v1/webhooks", {"url": receiver.url}).json
    assert hook["secret"].startswith("whsec_")
    assert "secret" not in client.get("/v1/webhooks").json["data"][0]
    milestone = client.milestone(client.contract()["id"])
    client.fire(milestone["id"], "fund", BUYER)

    outcomes = deliver_due(app.extensions["tranche"])
    assert [o.status for o in outcomes] == ["delivered"] * 3
    types = []
    for headers, body in receiver.received:
        assert verify(hook["secret"], headers["Tranche-Signature"], body)
        assert not verify("whsec_wrong", headers["Tranche-Signature"], body)
        assert not verify(hook["secret"], headers["Tranche-Signature"], body + b" ")
        types.append(json.loads(body)["event"]["type"])
    assert types == ["contract_created", "milestone_added", "fund"]
    assert deliver_due(app.extensions["tranche"]) == []


def test_deliver_sends_events_nobody_read(client: Client, app, receiver: Receiver) -> None:
    """`tranche deliver` numbers the feed itself: webhooks go out though no one reads it."""
    client.post("/v1/webhooks", {"url": receiver.url})
    milestone = client.milestone(client.contract()["id"])
    client.fire(milestone["id"], "fund", BUYER)
    database = app.extensions["tranche"].database
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    result = CliRunner().invoke(
        main, ["--database-url", database.url, "deliver", "--once"], catch_exceptions=False
    )
    assert result.exit_code == 0
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
    assert [o.status for o in deliver_due(app.extensions["tranche"])] == ["delivered"]
    (sent,) = [json.loads(body) for _, body in receiver.received]
    assert (sent["cursor"], sent["event"]["contract_id"]) == ("2", later["id"])


def test_failures_back_off_and_can_be_redelivered(
    client: Client, app, clock, receiver: Receiver
) -> None:
    hook = client.post("/v1/webhooks", {"url": receiver.url}).json
    client.contract()
    tranche = app.extensions["tranche"]
    receiver.fail = 2
    (first,) = deliver_due(tranche)
    assert (first.status, first.status_code) == ("pending", 500)
    assert deliver_due(tranche) == []  # not due before the backoff
    clock.advance(backoff(1))
    (second,) = deliver_due(tranche)
    assert second.status == "pending"
    clock.advance(backoff(2))
    (third,) = deliver_due(tranche)
    assert third.status == "delivered"
    deliveries = client.get(f"/v1/webhooks/{hook['id']}/deliveries").json["data"]
    assert deliveries[0]["attempts"] == 3
    assert deliveries[0]["status"] == "delivered"

    again = client.post(f"/v1/webhooks/{hook['id']}/deliveries/{deliveries[0]['id']}/redeliver")
    assert again.status_code == 200
    assert again.json["status"] == "pending"
    (fourth,) = deliver_due(tranche)
    assert fourth.status == "delivered"
    assert len(receiver.received) == 4
    assert json.loads(receiver.received[-1][1])["id"] == deliveries[0]["id"]


def test_unreachable_receiver_is_recorded(client: Client, app) -> None:
    client.post("/v1/webhooks", {"url": "http://127.0.0.1:9/nothing"})
    client.contract()
    (outcome,) = deliver_due(app.extensions["tranche"])
    assert outcome.status == "pending"
    assert outcome.error


def test_deleted_subscription_gets_nothing(client: Client, other: Client, app) -> None:
    hook = client.post("/v1/webhooks", {"url": "http://127.0.0.1:9/x"}).json
    assert other.call("DELETE", f"/v1/webhooks/{hook['id']}").status_code == 404
    assert client.call("DELETE", f"/v1/webhooks/{hook['id']}").status_code == 204
    client.contract()
    assert deliver_due(app.extensions["tranche"]) == []
    assert client.get("/v1/webhooks").json["data"] == []
    assert client.call("DELETE", f"/v1/webhooks/{hook['id']}").status_code == 404


def test_backoff_doubles_and_caps() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [10, 20, 40]
    assert backoff(30) == timedelta(hours=6)
