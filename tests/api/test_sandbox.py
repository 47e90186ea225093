"""Test mode: a sandbox tenant's own clock moves on request and fires what falls due, as
the sweep would; its pretend rail fails what it is told to; live keys reach none of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from rail.conftest import assert_books_match, publish_variant

from api.helpers import BUYER, PROVIDER, Client
from arbitration.service import Arbitration
from engine.domain.clock import FixedClock
from engine.domain.sandbox import is_test_tenant
from engine.service.tranche import Tranche
from engine.store.models import Contract, Event
from web.api.auth import create_key
from web.sweeping import sweep_due


@pytest.fixture
def sandbox(app: Flask) -> Client:
    _, key = create_key(app.extensions["tranche"].database, "acme test", test=True)
    return Client(app, key)


def now_of(client: Client) -> datetime:
    response = client.get("/v1/test-clock")
    assert response.status_code == 200, response.json
    return datetime.fromisoformat(response.json["now"])


def advance(client: Client, **body: str) -> dict:
    response = client.post("/v1/test-clock/advance", body)
    assert response.status_code == 200, response.json
    return response.json


def submitted(client: Client) -> dict:
    milestone = client.milestone(client.contract()["id"], 25_000)
    assert client.fire(milestone["id"], "fund", BUYER).status_code == 200
    assert client.fire(milestone["id"], "submit", PROVIDER).status_code == 200
    return milestone


def state(client: Client, milestone_id: str) -> str:
    return client.get(f"/v1/milestones/{milestone_id}").json["state"]


def test_a_test_key_has_a_sandbox_tenant_with_its_own_clock(app, sandbox, clock):
    database = app.extensions["tranche"].database
    row, key = create_key(database, "second", test=True)
    assert key.startswith("tr_test_")
    assert is_test_tenant(row.tenant)
    started = now_of(sandbox)
    assert started.microsecond == 0
    assert abs(started - datetime.now(UTC)) < timedelta(minutes=5)  # the wall clock, not `clock`
    assert started != clock.now()


def test_keys_never_cross_modes(app):
    database = app.extensions["tranche"].database
    live_tenant = create_key(database, "x")[0].tenant
    test_tenant = create_key(database, "y", test=True)[0].tenant
    with pytest.raises(ValueError, match="live tenant"):
        create_key(database, "join", tenant=live_tenant, test=True)
    with pytest.raises(ValueError, match="sandbox"):
        create_key(database, "join", tenant=test_tenant)
    with pytest.raises(ValueError, match="no key has tenant"):
        create_key(database, "typo", tenant="test_nobody", test=True)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/test-clock", None),
        ("/v1/test-clock/advance", {"by": "1d"}),
        ("/v1/test-helpers/fail-next-funding", {"reason": "card_declined"}),
        ("/v1/test-helpers/fail-next-payout", {"reason": "account_closed"}),
        ("/v1/test-helpers/chargebacks", {"funding_id": "fd_x"}),
    ],
)
def test_a_live_key_reaches_nothing_of_the_sandbox(client, sandbox, path, body):
    before = now_of(sandbox)
    response = client.get(path) if body is None else client.post(path, body)
    assert response.status_code == 403, response.json
    assert response.json["code"] == "test_mode_only"
    assert now_of(sandbox) == before


def test_a_14_day_review_period_passes_in_one_call(sandbox, client, database, clock):
    milestone = submitted(sandbox)
    live_one = submitted(client)  # a live tenant's review period, due on the wall clock
    started = now_of(sandbox)
    early = advance(sandbox, by="13d")
    assert early["timers"] == []
    assert state(sandbox, milestone["id"]) == "submitted"
    done = advance(sandbox, by="1d")
    assert done["previous"] == early["now"]
    assert datetime.fromisoformat(done["now"]) == started + timedelta(days=14)
    assert done["timers"] == [
        {"milestone_id": milestone["id"], "event": "review_period_elapsed", "outcome": "approved"}
    ]
    assert state(sandbox, milestone["id"]) == "approved"
    assert state(client, live_one["id"]) == "submitted"  # another tenant's time did not move
    with Tranche(database).reading() as uow:
        events = uow.session.query(Event).filter_by(milestone_id=milestone["id"]).all()
        stamps = [as_naive(e.created_at) for e in events]
    assert stamps[-1] == as_naive(started + timedelta(days=14))  # the sandbox's time, not `clock`
    assert all(as_naive(started) <= s for s in stamps)


def as_naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def test_the_wall_clock_sweep_never_touches_a_sandbox(app, sandbox, client, database):
    in_sandbox, live_one = submitted(sandbox), submitted(client)
    far = datetime.now(UTC) + timedelta(days=400)
    swept = sweep_due(Tranche(database, FixedClock(far)), Arbitration(database), far)
    assert [f.milestone_id for f in swept.fired] == [live_one["id"]]
    assert state(sandbox, in_sandbox["id"]) == "submitted"


def test_a_dispute_unanswered_and_a_funding_unconfirmed_lapse_as_the_clock_moves(sandbox):
    disputed = submitted(sandbox)
    opened = sandbox.fire(disputed["id"], "dispute", BUYER, body={"note": "not what we agreed"})
    assert opened.status_code == 200, opened.json
    waiting = sandbox.milestone(sandbox.contract()["id"], 10_000)
    pending = sandbox.fire(waiting["id"], "fund", BUYER, body={"pending": True, "expires_in": 3600})
    assert pending.status_code == 202, pending.json
    moved = advance(sandbox, by="30d")
    dispute_id = opened.headers["Location"].rsplit("/", 1)[1]
    assert [d["dispute_id"] for d in moved["disputes"]] == [dispute_id]
    assert moved["fundings_expired"] == [pending.json["funding"]["id"]]
    assert sandbox.get(pending.headers["Location"]).json["status"] == "expired"


def test_the_clock_only_moves_forward_and_says_why_not(sandbox):
    now = now_of(sandbox)
    cases = [
        ({"to": (now - timedelta(seconds=1)).isoformat()}, 409, "clock_not_forward"),
        ({"to": now.isoformat()}, 409, "clock_not_forward"),
        ({"to": (now + timedelta(days=1)).isoformat(), "by": "1d"}, 422, "validation"),
        ({}, 422, "validation"),
        ({"by": "14x"}, 422, "validation"),
        ({"by": "2000d"}, 422, "validation"),
        ({"by": "99999999d"}, 422, "validation"),  # past the calendar's end
        ({"by": "9" * 30 + "d"}, 422, "validation"),  # past what a duration can hold
        ({"to": "9999-12-31T23:59:59Z"}, 422, "validation"),
        ({"to": "2026-13-01T00:00:00Z"}, 422, "validation"),
        ({"to": "2030-01-01T00:00:00"}, 422, "validation"),  # no zone
        ({"by": "1d", "extra": 1}, 422, "validation"),
    ]
    for body, status, code in cases:
        response = sandbox.post("/v1/test-clock/advance", body)
        assert (response.status_code, response.json["code"]) == (status, code), body
    assert now_of(sandbox) == now


def test_a_retried_advance_moves_the_clock_once(sandbox):
    now = now_of(sandbox)
    headers = {"Idempotency-Key": "advance-1"}
    first = sandbox.post("/v1/test-clock/advance", {"by": "2d"}, headers=headers)
    again = sandbox.post("/v1/test-clock/advance", {"by": "2d"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.json["now"] == again.json["now"]
    assert now_of(sandbox) == now + timedelta(days=2)
    advance(sandbox, to=(now + timedelta(days=3)).isoformat())
    assert now_of(sandbox) == now + timedelta(days=3)


def test_the_pretend_rail_fails_the_next_funding_once(sandbox):
    ordered = sandbox.post("/v1/test-helpers/fail-next-funding", {"reason": "card_declined"})
    assert ordered.status_code == 200
    assert ordered.json["reason"] == "card_declined"
    milestone = sandbox.milestone(sandbox.contract()["id"], 10_000)
    failed = sandbox.fire(milestone["id"], "fund", BUYER, body={"pending": True})
    assert failed.status_code == 202, failed.json
    assert failed.json["funding"]["status"] == "failed"
    assert failed.json["milestone"]["state"] == "proposed"
    assert failed.json["milestone"]["summary"]["pending_funding"] == 0
    second = sandbox.fire(milestone["id"], "fund", BUYER, body={"pending": True})
    assert second.json["funding"]["status"] == "pending"


def test_the_pretend_rail_fails_the_next_payout_and_the_money_is_available_again(sandbox):
    milestone = submitted(sandbox)
    assert sandbox.fire(milestone["id"], "approve", BUYER).status_code == 200
    due = sandbox.get(f"/v1/parties/{PROVIDER}/balances").json["data"][0]["available"]
    sandbox.post("/v1/test-helpers/fail-next-payout", {"reason": "account_closed"})
    body = {
        "contract_id": milestone["contract_id"],
        "party_id": PROVIDER,
        "amount": due,
        "currency": "USD",
        "rail_reference": "po_test_1",
    }
    payout = sandbox.post("/v1/payouts", body)
    assert payout.status_code == 201, payout.json
    assert (payout.json["status"], payout.json["failure_reason"]) == ("failed", "account_closed")
    balance = sandbox.get(f"/v1/parties/{PROVIDER}/balances").json["data"][0]
    assert (balance["available"], balance["in_flight"]) == (due, 0)
    paid = sandbox.post("/v1/payouts", body | {"rail_reference": "po_test_2"})
    assert paid.json["status"] == "in_flight"


def test_the_pretend_network_brings_a_chargeback(sandbox):
    milestone = sandbox.milestone(sandbox.contract()["id"], 10_000)
    charge = {"rail_reference": "pi_test_1", "amount": 10_000, "currency": "USD"}
    funded = sandbox.fire(milestone["id"], "fund", BUYER, body=charge)
    assert funded.status_code == 200, funded.json
    funding_id = sandbox.get(f"/v1/milestones/{milestone['id']}/fundings").json["data"][0]["id"]
    brought = sandbox.post("/v1/test-helpers/chargebacks", {"funding_id": funding_id})
    assert brought.status_code == 201, brought.json
    assert brought.json["amount"] == 10_000
    assert brought.json["status"] == "booked"
    respond_by = datetime.fromisoformat(brought.json["respond_by"])
    assert respond_by == now_of(sandbox) + timedelta(days=7)
    unknown = sandbox.post("/v1/test-helpers/chargebacks", {"funding_id": "fd_nope"})
    assert unknown.status_code == 404
    waiting = sandbox.milestone(sandbox.contract()["id"], 10_000)
    pending = sandbox.fire(waiting["id"], "fund", BUYER, body={"pending": True}).json["funding"]
    refused = sandbox.post("/v1/test-helpers/chargebacks", {"funding_id": pending["id"]})
    assert (refused.status_code, refused.json["field"]) == (422, "funding_id")


def test_bad_orders_are_refused_and_change_nothing(sandbox):
    for body in ({}, {"reason": ""}, {"reason": "x" * 501}, {"reason": 5}):
        response = sandbox.post("/v1/test-helpers/fail-next-payout", body)
        assert response.status_code == 422, body
    milestone = sandbox.milestone(sandbox.contract()["id"], 10_000)
    opened = sandbox.fire(milestone["id"], "fund", BUYER, body={"pending": True})
    assert opened.json["funding"]["status"] == "pending"


def test_a_sandbox_tenant_and_a_live_tenant_never_see_each_other(sandbox, client, database):
    theirs, ours = sandbox.contract()["id"], client.contract()["id"]
    assert client.get(f"/v1/contracts/{theirs}").status_code == 404
    assert sandbox.get(f"/v1/contracts/{ours}").status_code == 404
    with Tranche(database).reading() as uow:
        tenants = {c.id: c.tenant for c in uow.session.query(Contract)}
    assert is_test_tenant(tenants[theirs])
    assert not is_test_tenant(tenants[ours])


def test_a_security_hold_runs_out_on_the_sandbox_clock_and_the_books_match(sandbox, database):
    policy = publish_variant(database, "held-five-days", "  payout_hold: 5d\n")
    contract = sandbox.post(
        "/v1/contracts",
        {
            "buyer_id": BUYER,
            "provider_id": PROVIDER,
            "currency": "USD",
            "agreed_amount": 20_000,
            "title": "Held",
            "policy": policy,
            "milestones": [{"title": "All", "amount": 20_000}],
        },
    ).json
    milestone = contract["milestones"][0]["id"]
    for actor, event in ((BUYER, "fund"), (PROVIDER, "submit"), (BUYER, "approve")):
        assert sandbox.fire(milestone, event, actor).status_code == 200
    owed = sandbox.get(f"/v1/parties/{PROVIDER}/balances").json["data"][0]
    assert (owed["pending"], owed["available"]) == (19_000, 0)
    far = datetime.now(UTC) + timedelta(days=400)  # the wall-clock sweep leaves it held
    assert sweep_due(Tranche(database, FixedClock(far)), Arbitration(database), far).matured == []
    assert advance(sandbox, by="4d")["holds_matured"] == 0
    assert advance(sandbox, by="1d")["holds_matured"] == 1
    owed = sandbox.get(f"/v1/parties/{PROVIDER}/balances").json["data"][0]
    assert (owed["pending"], owed["available"]) == (0, 19_000)
    assert_books_match(Tranche(database))


def test_a_sandbox_holds_no_money_for_the_platform_but_reports_its_own(sandbox, client, database):
    for party in (sandbox, client):
        milestone = party.milestone(party.contract()["id"], 25_000 if party is sandbox else 7_000)
        assert party.fire(milestone["id"], "fund", BUYER).status_code == 200
    advance(sandbox, by="3d")
    platform = Tranche(database).liability(None, None)
    assert [(line.currency, line.in_escrow) for line in platform.lines] == [("USD", 7_000)]
    own = sandbox.get("/v1/reports/liability")
    assert own.status_code == 200, own.json
    assert [(d["currency"], d["in_escrow"]) for d in own.json["data"]] == [("USD", 25_000)]
    assert datetime.fromisoformat(own.json["as_of"]) == now_of(sandbox)
