"""Stripe's webhooks end to end: signed as Stripe signs, acted on once, by the reference.

Payloads are built as Stripe documents its Event object, and signed with the scheme
Stripe documents (`t=<ts>,v1=<hex HMAC-SHA256(secret, "<ts>.<payload>")>`); the official
`stripe` package's own verification accepts them, so the signer here is Stripe's.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from typing import Any

import pytest
import stripe
from api.helpers import ENCRYPTION_KEYS, Client
from sqlalchemy import func, select

from conftest import BUYER, PROVIDER
from engine.service.fundings import Charge
from engine.store.models import Chargeback, Funding, Payout, RailEndpoint, RailEvent
from rail.conftest import assert_books_match, released
from web.api.auth import create_key
from web.app import create_app

SECRET = "whsec_" + "a1B2" * 8
ids = itertools.count(1)


@pytest.fixture
def app(database, clock):
    config = {"DATABASE_URL": database.url, "AUTO_UPGRADE": False}
    return create_app(config | {"ENCRYPTION_KEYS": ENCRYPTION_KEYS}, clock)


@pytest.fixture
def key(app) -> tuple[str, str]:
    """A new tenant's API key: (tenant, key)."""
    row, plain = create_key(app.extensions["tranche"].database, "integrator")
    return row.tenant, plain


@pytest.fixture
def client(app, key) -> Client:
    return Client(app, key[1])


@pytest.fixture
def contract(tranche, key):
    """The usual contract (1,000.00 USD), of the API key's tenant."""
    return tranche.create_contract(
        buyer_id=BUYER.id,
        provider_id=PROVIDER.id,
        currency="USD",
        agreed_amount=100_000,
        title="Test work",
        tenant=key[0],
    )


@pytest.fixture
def url(client) -> str:
    response = client.call("PUT", "/v1/rails/stripe", {"signing_secret": SECRET})
    assert response.status_code == 201, response.json
    return response.json["endpoint_url"]


def sign(payload: str, secret: str = SECRET, at: int | None = None) -> str:
    timestamp = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def event(kind: str, obj: dict[str, Any], event_id: str | None = None) -> str:
    """An Event as Stripe's API reference documents it."""
    return json.dumps(
        {
            "id": event_id or f"evt_{next(ids):024d}",
            "object": "event",
            "api_version": "2025-06-30.basil",
            "created": int(time.time()),
            "type": kind,
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
        }
    )


def deliver(client: Client, url: str, payload: Any, header: str | None = "sign") -> Any:
    """POST as Stripe does: no API key, the Stripe-Signature header."""
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if header is not None:
        headers["Stripe-Signature"] = sign(payload) if header == "sign" else header
    return client.http.post(url, data=payload, headers=headers)


def intent(pi: str, amount: int = 25_000, **fields: Any) -> dict[str, Any]:
    return {"id": pi, "object": "payment_intent", "amount": amount, "currency": "usd"} | fields


def row(database, model, key) -> Any:
    with database.session() as session:
        return session.get(model, key)


def received(database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(RailEvent))


def fundings_of(tranche, milestone_id: str) -> list[Funding]:
    return [f for f in _all(tranche.database, Funding) if f.milestone_id == milestone_id]


def _all(database, model) -> list[Any]:
    with database.session() as session:
        return list(session.scalars(select(model)))


# signatures ---------------------------------------------------------------------------
def test_stripes_own_verification_accepts_what_the_tests_sign():
    payload = event("payment_intent.succeeded", intent("pi_1"))
    verified = stripe.Webhook.construct_event(payload, sign(payload), SECRET)
    assert verified["type"] == "payment_intent.succeeded"
    assert verified["data"]["object"]["id"] == "pi_1"


@pytest.mark.parametrize(
    ("case", "make"),
    [
        ("tampered body", lambda p: (p.replace("25000", "1"), sign(p))),
        ("wrong secret", lambda p: (p, sign(p, secret="whsec_other-secret"))),
        ("stale timestamp", lambda p: (p, sign(p, at=int(time.time()) - 301))),
        ("missing header", lambda p: (p, None)),
    ],
)
def test_a_delivery_that_does_not_verify_is_refused_and_changes_nothing(
    client, url, tranche, milestone, database, case, make
):
    funding = tranche.open_funding(milestone.id, "fund", BUYER, reference="pi_1")
    payload, header = make(event("payment_intent.succeeded", intent("pi_1")))
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, header, SECRET)
    response = deliver(client, url, payload, header)
    assert response.status_code == 400, case
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json["code"] == "signature_invalid"
    assert row(database, Funding, funding.id).status == "pending"
    assert received(database) == 0


@pytest.mark.parametrize("endpoint", ["we_unknown", "we_%00x", "x" * 300])
def test_an_unknown_endpoint_is_not_found(client, url, endpoint):
    payload = event("payment_intent.succeeded", intent("pi_1"))
    response = deliver(client, "/v1/rails/stripe/events/" + endpoint, payload)
    assert response.status_code == 404
    assert response.json["code"] == "not_found"


@pytest.mark.parametrize(
    "header", ["t=1,v1=\u00e9", "t=99999999999999999999999,v1=00", "v1=00", "t=1" + "," * 1000]
)
def test_a_malformed_signature_header_is_refused(client, url, database, header):
    response = deliver(client, url, event("customer.created", {"id": "cus_1"}), header)
    assert (response.status_code, response.json["code"]) == (400, "signature_invalid")
    assert received(database) == 0


def test_a_body_too_large_or_not_json_is_refused(client, url, database):
    big = event("customer.created", {"id": "cus_1", "note": "x" * 300_000})
    assert deliver(client, url, big).status_code == 413
    for payload, status in [("not json", 400), ('{"a": "\\u0000"}', 422), ("[1, 2]", 422)]:
        assert deliver(client, url, payload).status_code == status, payload
    assert deliver(client, url, b"\xff\xfe", f"t={int(time.time())},v1=00").status_code == 400
    assert received(database) == 0


# configuration ------------------------------------------------------------------------
def test_the_endpoint_is_configured_by_key_and_keeps_its_secret_encrypted(
    app, client, database, tranche, milestone
):
    assert client.http.put("/v1/rails/stripe", json={"signing_secret": SECRET}).status_code == 401
    for bad in ["not-a-secret", "whsec_", "whsec_" + "x" * 201, "whsec_with space"]:
        response = client.call("PUT", "/v1/rails/stripe", {"signing_secret": bad})
        assert response.status_code == 422, bad
    assert client.get("/v1/rails/stripe").status_code == 404
    made = client.call("PUT", "/v1/rails/stripe", {"signing_secret": SECRET})
    assert made.status_code == 201
    url = made.json["endpoint_url"]
    assert url.startswith("/v1/rails/stripe/events/we_")
    shown = client.get("/v1/rails/stripe")
    assert shown.json["endpoint_url"] == url
    assert "whsec" not in shown.get_data(as_text=True)
    (stored,) = _all(database, RailEndpoint)
    assert "whsec" not in stored.secret

    replaced = client.call("PUT", "/v1/rails/stripe", {"signing_secret": "whsec_new-secret"})
    assert (replaced.status_code, replaced.json["endpoint_url"]) == (200, url)
    tranche.open_funding(milestone.id, "fund", BUYER, reference="pi_1")
    payload = event("payment_intent.succeeded", intent("pi_1"))
    assert deliver(client, url, payload).status_code == 400  # the old secret no longer signs
    fresh = deliver(client, url, payload, sign(payload, "whsec_new-secret"))
    assert fresh.json["outcome"].endswith("confirmed")

    _, key = create_key(database, "globex")
    assert Client(app, key).get("/v1/rails/stripe").status_code == 404
    assert client.call("DELETE", "/v1/rails/stripe").status_code == 204
    assert client.get("/v1/rails/stripe").status_code == 404
    assert deliver(client, url, payload).status_code == 404
    assert received(database) == 0


def test_without_encryption_keys_no_secret_is_stored(database, clock):
    app = create_app({"DATABASE_URL": database.url, "AUTO_UPGRADE": False}, clock)
    _, key = create_key(database, "integrator")
    response = Client(app, key).call("PUT", "/v1/rails/stripe", {"signing_secret": SECRET})
    assert response.status_code == 503
    assert response.json["code"] == "encryption_unconfigured"
    assert _all(database, RailEndpoint) == []


# fundings -----------------------------------------------------------------------------
def test_a_payment_intent_confirms_its_pending_funding_once(client, url, tranche, milestone):
    funding = tranche.open_funding(milestone.id, "fund", BUYER, reference="pi_1")
    payload = event("payment_intent.succeeded", intent("pi_1", metadata={}))
    first = deliver(client, url, payload)
    assert first.status_code == 200
    assert first.json["outcome"] == f"funding {funding.id} confirmed"
    assert first.json["replayed"] is False
    assert tranche.milestone(milestone.id).state == "funded"

    again = deliver(client, url, payload)
    assert (again.status_code, again.json["replayed"]) == (200, True)
    assert again.json["outcome"] == first.json["outcome"]
    assert [e.type for e in tranche.history(milestone.id)].count("fund") == 1
    listed = client.get("/v1/rails/stripe/events").json
    assert [e["outcome"] for e in listed["data"]] == [first.json["outcome"]]
    assert_books_match(tranche)


def test_a_funding_opened_without_a_reference_is_found_by_its_metadata(
    client, url, tranche, milestone, database
):
    funding = tranche.open_funding(milestone.id, "fund", BUYER)
    obj = intent("pi_2", metadata={"tranche_funding_id": funding.id})
    response = deliver(client, url, event("payment_intent.succeeded", obj))
    assert response.json["outcome"] == f"funding {funding.id} confirmed"
    assert row(database, Funding, funding.id).rail_reference == "pi_2"


def test_a_payment_intent_that_funded_confirm_first_is_already_recorded(
    client, url, tranche, milestone
):
    tranche.fund_confirmed(milestone.id, "fund", BUYER, Charge("pi_1", 25_000, "USD"))
    response = deliver(client, url, event("payment_intent.succeeded", intent("pi_1")))
    assert (response.status_code, response.json["outcome"]) == (200, "already recorded")


def test_a_refusal_is_answered_200_and_recorded_with_nothing_changed(
    client, url, tranche, milestone, database
):
    funding = tranche.open_funding(milestone.id, "fund", BUYER, reference="pi_1")
    response = deliver(client, url, event("payment_intent.succeeded", intent("pi_1", 24_999)))
    assert response.status_code == 200
    assert response.json["outcome"].startswith("refused: funding_mismatch: ")
    assert row(database, Funding, funding.id).status == "pending"
    assert tranche.milestone(milestone.id).state == "proposed"
    assert received(database) == 1


def test_a_failed_payment_intent_fails_its_funding_with_stripes_reason(
    client, url, tranche, milestone, database
):
    funding = tranche.open_funding(milestone.id, "fund", BUYER, reference="pi_1")
    error = {"code": "card_declined", "message": "Your card was declined."}
    obj = intent("pi_1", last_payment_error=error, status="requires_payment_method")
    response = deliver(client, url, event("payment_intent.payment_failed", obj))
    assert response.json["outcome"] == f"funding {funding.id} failed"
    stored = row(database, Funding, funding.id)
    assert (stored.status, stored.failure_reason) == ("failed", "Your card was declined.")
    assert tranche.milestone(milestone.id).state == "proposed"
    assert_books_match(tranche)


@pytest.mark.parametrize(
    ("kind", "obj"),
    [
        ("customer.created", {"id": "cus_1", "object": "customer"}),
        ("payment_intent.succeeded", intent("pi_elsewhere")),
        ("payout.paid", {"id": "po_elsewhere", "object": "payout", "amount": 1}),
        ("charge.dispute.closed", {"id": "du_elsewhere", "object": "dispute", "status": "won"}),
    ],
)
def test_what_tranche_does_not_know_is_ignored_recorded_and_not_retried(
    client, url, database, kind, obj
):
    payload = event(kind, obj)
    first = deliver(client, url, payload)
    assert (first.status_code, first.json["outcome"][:9]) == (200, "ignored: ")
    assert deliver(client, url, payload).json["replayed"] is True
    assert received(database) == 1


# chargebacks --------------------------------------------------------------------------
def dispute(status: str, **fields: Any) -> dict[str, Any]:
    due_by = 1_800_000_000
    return {
        "id": "du_1",
        "object": "dispute",
        "amount": 25_000,
        "currency": "usd",
        "charge": "ch_1",
        "payment_intent": "pi_1",
        "reason": "fraudulent",
        "status": status,
        "evidence_details": {"due_by": due_by, "has_evidence": False},
    } | fields


@pytest.mark.parametrize(("closed", "status"), [("won", "won"), ("lost", "lost")])
def test_a_dispute_books_a_chargeback_and_its_close_decides_it(
    client, url, tranche, milestone, database, closed, status
):
    released(tranche, milestone.id, "pi_1")
    booked = deliver(client, url, event("charge.dispute.created", dispute("needs_response")))
    (chargeback,) = _all(database, Chargeback)
    assert booked.json["outcome"] == f"chargeback {chargeback.id} booked"
    assert (chargeback.rail_reference, chargeback.amount) == ("du_1", 25_000)
    assert chargeback.reason == "fraudulent"
    assert chargeback.respond_by.timestamp() == 1_800_000_000
    again = deliver(client, url, event("charge.dispute.created", dispute("needs_response")))
    assert again.json["outcome"] == "already recorded"  # a new event id, the same dispute

    warned = deliver(client, url, event("charge.dispute.closed", dispute("warning_closed")))
    assert warned.json["outcome"].startswith("recorded: ")
    assert row(database, Chargeback, chargeback.id).status == "booked"
    done = deliver(client, url, event("charge.dispute.closed", dispute(closed)))
    assert done.json["outcome"] == f"chargeback {chargeback.id} {status}"
    assert row(database, Chargeback, chargeback.id).status == status
    assert_books_match(tranche)


def test_a_dispute_names_the_charge_when_the_funding_was_made_with_it(
    client, url, tranche, milestone, database
):
    released(tranche, milestone.id, "ch_9")
    obj = dispute("needs_response", charge="ch_9", payment_intent=None, evidence_details=None)
    response = deliver(client, url, event("charge.dispute.created", obj))
    assert response.json["outcome"].endswith("booked")
    assert _all(database, Chargeback)[0].respond_by is None


# payouts ------------------------------------------------------------------------------
def payout_to_provider(tranche, contract, milestone, reference: str) -> Payout:
    released(tranche, milestone.id, "pi_1")
    return tranche.record_payout(
        tenant=contract.tenant,
        contract_id=contract.id,
        party_id=PROVIDER.id,
        amount=20_000,
        currency="USD",
        reference=reference,
    )


def test_a_payout_is_paid(client, url, tranche, contract, milestone, database):
    payout = payout_to_provider(tranche, contract, milestone, "po_1")
    obj = {"id": "po_1", "object": "payout", "amount": 20_000, "currency": "usd"}
    response = deliver(client, url, event("payout.paid", obj | {"status": "paid"}))
    assert response.json["outcome"] == f"payout {payout.id} paid"
    assert row(database, Payout, payout.id).status == "paid"
    late = deliver(client, url, event("payout.failed", obj | {"status": "failed"}))
    assert late.json["outcome"].startswith("refused: already_settled: ")
    assert row(database, Payout, payout.id).status == "paid"
    assert_books_match(tranche)


def test_a_failed_payout_is_available_again(client, url, tranche, contract, milestone, database):
    payout = payout_to_provider(tranche, contract, milestone, "po_1")
    obj = {
        "id": "po_1",
        "object": "payout",
        "status": "failed",
        "failure_code": "account_closed",
        "failure_message": "The bank account has been closed.",
    }
    response = deliver(client, url, event("payout.failed", obj))
    assert response.json["outcome"] == f"payout {payout.id} failed"
    stored = row(database, Payout, payout.id)
    assert (stored.status, stored.failure_reason) == ("failed", obj["failure_message"])
    assert_books_match(tranche)


def test_a_transfer_reversal_is_owed_to_the_provider_again(
    client, url, tranche, contract, milestone, database
):
    payout = payout_to_provider(tranche, contract, milestone, "tr_1")
    tranche.settle_payout(payout.id, True)
    transfer = {"id": "tr_1", "object": "transfer", "amount": 20_000, "currency": "usd"}
    for total in (5_000, 20_000):
        obj = transfer | {"amount_reversed": total, "reversed": total == 20_000}
        deliver(client, url, event("transfer.reversed", obj))
        assert row(database, Payout, payout.id).reversed_amount == total
    assert row(database, Payout, payout.id).status == "reversed"
    assert_books_match(tranche)


# races --------------------------------------------------------------------------------
def test_two_deliveries_of_one_event_at_once_act_once(app, url, tranche, milestone, database):
    """Real threads, each with its own connection from the pool: on PostgreSQL the
    second waits on the RailEvent's primary key, then answers with the first's outcome."""
    tranche.open_funding(milestone.id, "fund", BUYER, reference="pi_1")
    payload = event("payment_intent.succeeded", intent("pi_1"))
    barrier, answers = threading.Barrier(2), []

    def send() -> None:
        http = app.test_client()
        barrier.wait(timeout=30)
        answers.append(http.post(url, data=payload, headers={"Stripe-Signature": sign(payload)}))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [a.status_code for a in answers] == [200, 200]
    assert sorted(a.json["replayed"] for a in answers) == [False, True]
    assert len({a.json["outcome"] for a in answers}) == 1
    assert [e.type for e in tranche.history(milestone.id)].count("fund") == 1
    assert received(database) == 1
    assert_books_match(tranche)


def test_the_events_received_are_listed_a_page_at_a_time(client, url):
    for n in range(3):
        deliver(client, url, event("customer.created", {"id": "cus_1"}, f"evt_{n}"))
    first = client.get("/v1/rails/stripe/events?limit=2").json
    assert [e["event_id"] for e in first["data"]] == ["evt_0", "evt_1"]
    assert first["data"][0]["outcome"] == "ignored: Tranche does not act on customer.created"
    rest = client.get(f"/v1/rails/stripe/events?limit=2&after={first['next_cursor']}").json
    assert ([e["event_id"] for e in rest["data"]], rest["next_cursor"]) == (["evt_2"], None)
    assert client.get("/v1/rails/stripe/events?after=evt_x").status_code == 404


def test_a_sandboxs_stripe_events_happen_at_its_test_clocks_time(app, database):
    sandbox = Client(app, create_key(database, "try", test=True)[1])
    hooked = sandbox.call("PUT", "/v1/rails/stripe", {"signing_secret": SECRET}).json
    contract = sandbox.post(
        "/v1/contracts",
        {
            "buyer_id": BUYER.id,
            "provider_id": PROVIDER.id,
            "currency": "USD",
            "agreed_amount": 25_000,
            "title": "t",
            "milestones": [{"title": "m", "amount": 25_000}],
        },
    ).json
    milestone = contract["milestones"][0]["id"]
    opened = sandbox.post(
        f"/v1/milestones/{milestone}/events/fund",
        {"pending": True, "rail_reference": "pi_sandbox", "expires_in": 3 * 86_400},
        actor=BUYER.id,
    )
    assert opened.status_code == 202, opened.json
    moved = sandbox.post("/v1/test-clock/advance", {"by": "2d"}).json  # within its 3 days
    got = deliver(
        sandbox, hooked["endpoint_url"], event("payment_intent.succeeded", intent("pi_sandbox"))
    )
    assert got.json["outcome"].endswith("confirmed"), got.json
    last = sandbox.get(f"/v1/milestones/{milestone}/history").json["data"][-1]
    assert last["type"] == "fund"
    assert last["created_at"] == moved["now"]
