"""The egress policy: a tenant's webhook URL never reaches an internal address, in any
notation, at subscription or (after DNS) at delivery, unless the operator allows it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.helpers import ENCRYPTION_KEYS, Client
from api.webhook_receivers import serving
from engine.domain.clock import FixedClock
from engine.store.db import Database
from web.api.auth import create_key
from web.api.egress import EgressPolicy, EgressRefused, inward_kind, literal_address
from web.api.models import WebhookSubscription
from web.api.problems import PROBLEM_JSON
from web.api.webhook_post import Poster
from web.api.webhooks import deliver_due
from web.app import create_app

INWARD = [
    "http://127.0.0.1:8000/hooks",
    "http://127.8.9.10/",
    "http://localhost:9000/x",
    "http://LOCALHOST./x",
    "http://api.localhost/x",
    "http://[::1]/x",
    "http://[::]/x",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://0.0.0.0/",
    "http://0/",
    "http://2130706433/",  # 127.0.0.1 as one number
    "http://0x7f.1/",
    "http://0x7f000001/",
    "http://017700000001/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://127.0.0.1./",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[0:0:0:0:0:ffff:a9fe:a9fe]/",  # mapped 169.254.169.254
    "http://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",
    "http://[fc00::1]/",
    "http://[fec0::1]/",
    "http://[ff02::1]/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://evil@127.0.0.1/",
    "http://user:pass@hooks.example.com/",
    "http://127.0.0.1@hooks.example.com/",
    "http://hooks.example.com\\@127.0.0.1/",
]


def test_a_subscription_to_an_internal_address_is_refused(client: Client) -> None:
    for url in INWARD:
        response = client.post("/v1/webhooks", {"url": url})
        assert response.status_code == 422, (url, response.json)
        assert response.headers["Content-Type"] == PROBLEM_JSON
        assert response.json["code"] == "validation"
        assert list(response.json["errors"]) == ["url"]
    assert client.get("/v1/webhooks").json["data"] == []


@pytest.mark.parametrize("url", INWARD)
def test_every_notation_is_refused_by_the_policy(url: str) -> None:
    with pytest.raises(EgressRefused):
        EgressPolicy().check_url(url)


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/tranche", "http://8.8.8.8:8080/x", "http://[2001:4860::1]/"]
)
def test_a_public_url_is_accepted(client: Client, url: str) -> None:
    assert client.post("/v1/webhooks", {"url": url}).status_code == 201


def test_the_operator_allows_named_hosts(database: Database, clock: FixedClock) -> None:
    app = create_app(
        {
            "DATABASE_URL": database.url,
            "AUTO_UPGRADE": False,
            "ENCRYPTION_KEYS": ENCRYPTION_KEYS,
            "WEBHOOK_ALLOW_HOSTS": " 127.0.0.1, localhost ",
        },
        clock,
    )
    client = Client(app, create_key(database, "dev")[1])
    for url in ("http://127.0.0.1:9000/", "http://localhost:9000/", "http://2130706433:9000/"):
        assert client.post("/v1/webhooks", {"url": url}).status_code == 201, url
    for url in ("http://10.0.0.1/", "http://[::1]/", "http://127.0.0.2/"):
        assert client.post("/v1/webhooks", {"url": url}).status_code == 422, url


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::ffff:10.1.2.3", "private (inside ::ffff:a01:203)"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("239.1.1.1", "multicast"),
        ("100.64.0.1", "not globally routable"),
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
    ],
)
def test_addresses_are_classified(address: str, kind: str | None) -> None:
    found = literal_address(address)
    assert found is not None
    assert inward_kind(found) == kind


@given(st.text(max_size=80))
def test_any_url_is_judged_without_crashing(text: str) -> None:
    for url in (text, "http://" + text, "http://[" + text + "]/"):
        try:
            EgressPolicy().check_url(url)
        except EgressRefused:
            pass


def test_an_internal_address_is_refused_again_at_delivery(client: Client, app) -> None:
    """A URL the API would refuse today, already stored (made before the allow-list
    changed, say): the worker refuses to send to it."""
    with serving() as receiver:
        hook = client.post("/v1/webhooks", {"url": "https://hooks.example.com/x"}).json
        database = app.extensions["tranche"].database
        with database.session() as session, session.begin():
            session.get(WebhookSubscription, hook["id"]).url = receiver.url
        client.contract()
        settings = app.extensions["tranche_webhooks"]
        (outcome,) = deliver_due(app.extensions["tranche"], settings)
    assert (outcome.status, outcome.error) == ("pending", "refused_by_egress_policy")
    assert receiver.received == []


def test_a_name_that_resolves_inward_is_refused(client: Client, app) -> None:
    """The check after DNS: a public-looking name whose record points inside."""
    looked_up: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return ["93.184.215.14", "10.0.0.7"]  # one outward, one inward: refused

    client.post("/v1/webhooks", {"url": "https://inward.example.com/x"})
    client.contract()
    settings = app.extensions["tranche_webhooks"]
    poster = Poster(EgressPolicy(resolver=resolver))
    (outcome,) = deliver_due(app.extensions["tranche"], settings, poster)
    assert (outcome.error, looked_up) == ("refused_by_egress_policy", ["inward.example.com"])


def test_the_connection_goes_to_the_address_that_was_checked(client: Client, app) -> None:
    """DNS rebinding: the name is resolved once, checked, and that address is dialled; a
    second lookup (which would now point at 10.0.0.9) never happens. The operator allows
    127.0.0.1 here so the test can listen on it."""
    answers = iter([["127.0.0.1"], ["10.0.0.9"]])
    looked_up: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return next(answers)

    with serving() as receiver:
        name = f"rebind.example.com:{receiver.port}"
        client.post("/v1/webhooks", {"url": f"http://{name}/hooks"})
        client.contract()
        settings = app.extensions["tranche_webhooks"]
        poster = Poster(EgressPolicy(frozenset({"127.0.0.1"}), resolver))
        (outcome,) = deliver_due(app.extensions["tranche"], settings, poster)
    assert (outcome.status, outcome.error) == ("delivered", None)
    assert looked_up == ["rebind.example.com"]
    ((headers, body),) = receiver.received
    assert headers["Host"] == name
    assert json.loads(body)["event"]["type"] == "contract_created"
