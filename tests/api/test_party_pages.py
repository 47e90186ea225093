"""Party pages through HTTP: links (scope, expiry, revocation), figures, confirmed and
CSRF-checked actions audited as the party, notices and their stamps, embedding."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta

import pytest
from flask import Flask

from api.helpers import ENCRYPTION_KEYS, Client
from engine.domain.clock import FixedClock
from engine.store.db import Database
from web.api.auth import create_key
from web.app import create_app

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


@pytest.fixture
def app(database: Database, clock: FixedClock, tmp_path) -> Flask:
    """Evidence files go to the test's own directory."""
    config = {"DATABASE_URL": database.url, "ENCRYPTION_KEYS": ENCRYPTION_KEYS}
    return create_app(config | {"EVIDENCE_DIR": str(tmp_path / "evidence")}, clock)


@pytest.fixture
def deal(client):
    return make_deal(client)


def make_deal(client):
    """A contract with one funded milestone: its id and the milestone's."""
    body = {
        "buyer_id": "alice",
        "provider_id": "bob",
        "currency": "EUR",
        "agreed_amount": 100_000,
        "title": "Website redesign",
        "milestones": [{"title": "Wireframes", "amount": 25_000}],
    }
    created = client.post("/v1/contracts", body).get_json()
    milestone = created["milestones"][0]["id"]
    assert client.post(f"/v1/milestones/{milestone}/events/fund", actor="alice").status_code == 200
    return created["id"], milestone


def mint(client, contract_id, role, **extra):
    answer = client.post(f"/v1/contracts/{contract_id}/party-links", {"role": role, **extra})
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    return body, "/p/" + body["url"].rsplit("/p/", 1)[1]


def act(client, path, **form):
    """Review, then confirm, as the page's two forms do."""
    page = client.http.get(path)
    csrf = CSRF.search(page.get_data(as_text=True)).group(1)
    review = client.http.post(f"{path}/review", data={"csrf_token": csrf, **form})
    assert review.status_code == 200, review.get_data(as_text=True)
    done = client.http.post(f"{path}/act", data={"csrf_token": csrf, **form})
    return review.get_data(as_text=True), done


def test_the_page_shows_the_figures_in_the_party_locale(client, deal):
    contract_id, _ = deal
    _, path = mint(client, contract_id, "provider", locale="de_DE", time_zone="Europe/Berlin")
    page = client.http.get(path)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "1.000,00\xa0€" in text  # agreed, German format
    assert "250,00\xa0€" in text  # in escrow
    assert "Your contract as the provider (bob)" in text
    assert "Submit the work" in text
    assert "Approve" not in text
    assert "frame-ancestors 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "no-referrer"


def test_release_from_the_page_is_confirmed_and_audited_as_the_buyer(client, deal):
    contract_id, milestone = deal
    _, path = mint(client, contract_id, "buyer")
    form = {"action": "event", "target": milestone, "event": "release", "amount": "62.50"}
    review, done = act(client, path, **form)
    assert "62.50 from escrow to the provider" in review.replace("€", "")
    assert done.status_code == 303
    events = client.get(f"/v1/milestones/{milestone}/history").get_json()["data"]
    last = events[-1]
    assert (last["type"], last["actor_id"], last["actor_role"]) == ("release", "alice", "buyer")
    assert last["data"]["via"] == "party_page"
    summary = client.get(f"/v1/contracts/{contract_id}").get_json()["summary"]
    assert summary["paid_to_date"] == 6_250


def test_a_post_without_the_csrf_token_is_refused(client, deal):
    contract_id, milestone = deal
    _, path = mint(client, contract_id, "buyer")
    form = {"action": "event", "target": milestone, "event": "approve"}
    for token in ("", "0" * 64):
        answer = client.http.post(f"{path}/act", data={"csrf_token": token, **form})
        assert answer.status_code == 400
    assert client.get(f"/v1/milestones/{milestone}").get_json()["state"] == "funded"


def test_a_party_may_not_act_for_the_other_or_on_another_contract(client, deal):
    contract_id, milestone = deal
    _, path = mint(client, contract_id, "provider")
    _, done = act(client, path, action="event", target=milestone, event="submit")
    assert done.status_code == 303
    page = client.http.get(path)
    csrf = CSRF.search(page.get_data(as_text=True)).group(1)
    form = {"csrf_token": csrf, "action": "event", "target": milestone, "event": "approve"}
    refused = client.http.post(f"{path}/act", data=form)
    assert refused.status_code == 409  # forbidden_event, as in the API
    assert "may not approve" in refused.get_data(as_text=True)
    other = client.post(
        "/v1/contracts",
        {
            "buyer_id": "alice",
            "provider_id": "bob",
            "currency": "EUR",
            "agreed_amount": 500,
            "title": "Other",
            "milestones": [{"title": "x", "amount": 500}],
        },
    ).get_json()
    form["target"] = other["milestones"][0]["id"]
    form["event"] = "cancel"
    assert client.http.post(f"{path}/act", data=form).status_code == 404


def test_links_stop_on_revocation_and_expiry_and_unknown_tokens_open_nothing(
    client, deal, clock: FixedClock
):
    contract_id, _ = deal
    link, path = mint(client, contract_id, "buyer", expires_in=3600)
    assert client.http.get(path).status_code == 200
    clock.advance(timedelta(hours=1))
    assert client.http.get(path).status_code == 410
    link, path = mint(client, contract_id, "buyer")
    assert client.post(f"/v1/party-links/{link['id']}/revoke").status_code == 200
    answer = client.http.get(path)
    assert answer.status_code == 410
    assert "revoked" in answer.get_data(as_text=True)
    assert client.http.get("/p/tp_" + "A" * 43).status_code == 404
    assert client.http.get(path + "/stream").status_code == 410
    listed = client.get(f"/v1/contracts/{contract_id}/party-links").get_json()["data"]
    assert "url" not in listed[0]
    assert len(listed) == 2


def test_another_tenant_cannot_mint_or_read_notices(client, other, deal):
    contract_id, _ = deal
    assert (
        other.post(f"/v1/contracts/{contract_id}/party-links", {"role": "buyer"}).status_code == 404
    )
    assert other.get(f"/v1/contracts/{contract_id}/notices").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "staff"}, "role"),
        ({"role": "buyer", "locale": "zz-QQ"}, "locale"),
        ({"role": "buyer", "time_zone": "../etc/passwd"}, "time_zone"),
        ({"role": "buyer", "expires_in": 10}, "expires_in"),
        ({"role": "buyer", "email": "not an address"}, "email"),
    ],
)
def test_bad_link_requests_are_precise(client, deal, body, field):
    answer = client.post(f"/v1/contracts/{deal[0]}/party-links", body)
    assert answer.status_code == 422
    assert field in str(answer.get_json())


def test_a_bad_locale_in_the_address_is_a_clear_error(client, deal):
    _, path = mint(client, deal[0], "buyer")
    answer = client.http.get(path + "?lang=%00zz")
    assert answer.status_code == 422
    assert "locale" in answer.get_data(as_text=True)


def test_a_refund_request_notifies_the_provider_and_the_page_proves_it(
    client, deal, clock: FixedClock
):
    contract_id, milestone = deal
    _, provider = mint(client, contract_id, "provider", email="bob@example.com")
    client.post(f"/v1/milestones/{milestone}/events/request_refund", actor="alice")
    notice = client.get(f"/v1/contracts/{contract_id}/notices").get_json()["data"][-1]
    assert (notice["event_type"], notice["role"], notice["party_id"]) == (
        "request_refund",
        "provider",
        "bob",
    )
    assert notice["email"]["status"] == "pending"
    assert notice["seen_at"] is None
    _, buyer = mint(client, contract_id, "buyer")
    told = client.http.get(buyer).get_data(as_text=True)  # the buyer sees the proof too
    assert "provider notified 11/24/26, 9:00\u202fAM on the page" in told
    assert "page not yet seen" in told
    clock.advance(timedelta(minutes=13))
    page = client.http.get(provider).get_data(as_text=True)
    assert "page seen 11/24/26, 9:13\u202fAM" in page  # this very visit
    notice = client.get(f"/v1/contracts/{contract_id}/notices").get_json()["data"][-1]
    assert notice["seen_at"].startswith("2026-11-24T09:13")


def test_settings_frame_the_page_and_theme_it(client, deal):
    answer = client.post(
        "/v1/party-settings",
        {
            "mail_from": "escrow@market.example",
            "embed_origins": ["https://market.example"],
            "theme": {"accent": "#0a7d5a"},
        },
    )
    assert answer.status_code == 200
    _, path = mint(client, deal[0], "buyer")
    page = client.http.get(path)
    assert (
        "frame-ancestors 'self' https://market.example" in page.headers["Content-Security-Policy"]
    )
    assert "--party-accent: #0a7d5a" in page.get_data(as_text=True)
    for bad in (
        {"embed_origins": ["https://x.example; script-src *"]},
        {"theme": {"accent": "red;}"}},
    ):
        assert client.post("/v1/party-settings", bad).status_code == 422


def test_a_dispute_is_opened_answered_and_settled_from_the_pages(client, deal):
    contract_id, milestone = deal
    _, provider = mint(client, contract_id, "provider")
    _, buyer = mint(client, contract_id, "buyer")
    _, done = act(
        client, provider, action="event", target=milestone, event="dispute", reason="Delivered."
    )
    assert done.status_code == 303
    dispute = client.get(f"/v1/milestones/{milestone}").get_json()
    told = client.get(f"/v1/contracts/{contract_id}/notices").get_json()["data"]
    assert {n["role"] for n in told if n["event_type"] == "dispute"} == {"buyer", "provider"}
    assert dispute["state"] == "disputed"
    page = client.http.get(buyer).get_data(as_text=True)
    dispute_id = re.search(r'name="target" value="(dp_[0-9a-f]{28})"', page).group(1)
    act(client, buyer, action="statement", target=dispute_id, body="Only half of it.")
    act(client, buyer, action="evidence", target=dispute_id, text="Pages 3-5 are empty.")
    review, _ = act(
        client, buyer, action="offer", target=dispute_id, to_provider="125.00", to_buyer="125.00"
    )
    assert "if accepted, €125.00 goes to the provider and €125.00 back" in review
    page = client.http.get(provider).get_data(as_text=True)
    assert "Only half of it." in page
    assert "Pages 3-5 are empty." in page
    offer = re.search(r'name="offer" value="([^"]+)"', page).group(1)
    review, done = act(client, provider, action="accept_offer", target=dispute_id, offer=offer)
    assert "from escrow to the provider and" in review
    assert done.status_code == 303
    summary = client.get(f"/v1/contracts/{contract_id}").get_json()["summary"]
    assert (summary["in_escrow"], summary["refunded"]) == (0, 12_500)
    events = client.get(f"/v1/milestones/{milestone}/history").get_json()["data"]
    assert (events[-1]["type"], events[-1]["actor_id"]) == ("accept_offer", "bob")


def test_a_milestone_event_of_the_dispute_or_the_rail_is_refused_on_the_page(client, deal):
    contract_id, milestone = deal
    _, buyer = mint(client, contract_id, "buyer")
    page = client.http.get(buyer)
    csrf = CSRF.search(page.get_data(as_text=True)).group(1)
    for event, words in (("fund", "payment rail"), ("accept_offer", "in the dispute")):
        form = {"csrf_token": csrf, "action": "event", "target": milestone, "event": event}
        answer = client.http.post(f"{buyer}/review", data=form)
        assert answer.status_code == 422
        assert words in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    "form",
    [
        {"action": "event", "event": "release", "amount": "1.005"},  # a third decimal
        {"action": "event", "event": "release", "amount": "x" * 100},
        {"action": "event", "event": "request_refund", "note": "a\x00b"},
        {"action": "event", "event": "request_refund", "note": "n" * 2_001},
        {"action": "drop_tables"},
        {"action": "event", "event": "e" * 65},
    ],
)
def test_bad_page_input_is_a_precise_error_never_a_500(client, deal, form):
    contract_id, milestone = deal
    _, path = mint(client, contract_id, "buyer")
    csrf = CSRF.search(client.http.get(path).get_data(as_text=True)).group(1)
    for step in ("review", "act"):
        sent = {"csrf_token": csrf, "target": milestone, **form}
        answer = client.http.post(f"{path}/{step}", data=sent)
        assert answer.status_code in (404, 422), answer.status_code
        assert 'role="alert"' in answer.get_data(as_text=True)
    assert client.get(f"/v1/milestones/{milestone}").get_json()["version"] == 2


def test_a_file_of_evidence_is_attached_from_the_page(client, deal, app):
    contract_id, milestone = deal
    _, buyer = mint(client, contract_id, "buyer")
    act(client, buyer, action="event", target=milestone, event="dispute", reason="Missing.")
    page = client.http.get(buyer).get_data(as_text=True)
    dispute_id = re.search(r'name="target" value="(dp_[0-9a-f]{28})"', page).group(1)
    csrf = CSRF.search(page).group(1)

    def attach(name: str, content_type: str, data: bytes):
        return client.http.post(
            f"{buyer}/evidence",
            data={
                "csrf_token": csrf,
                "target": dispute_id,
                "description": "The empty pages",
                "file": (io.BytesIO(data), name, content_type),
            },
            content_type="multipart/form-data",
        )

    assert attach("log.txt", "text/plain", b"pages 3-5: 404\n").status_code == 303
    refused = attach("fake.png", "image/png", b"not a png")
    assert refused.status_code == 422
    limit = app.extensions["arbitration"].settings.max_evidence_bytes
    assert attach("big.txt", "text/plain", b"a" * (limit + 100_000)).status_code == 413
    told = client.get(f"/v1/disputes/{dispute_id}", actor="bob").get_json()
    assert [(e["filename"], e["by"]) for e in told["evidence"]] == [("log.txt", "buyer")]


def test_a_party_never_sees_staff_notes_or_names(client, deal, app):
    contract_id, milestone = deal
    _, buyer = mint(client, contract_id, "buyer")
    act(client, buyer, action="event", target=milestone, event="dispute", reason="Missing.")
    page = client.http.get(buyer).get_data(as_text=True)
    dispute_id = re.search(r'name="target" value="(dp_[0-9a-f]{28})"', page).group(1)
    arb = app.extensions["arbitration"]
    rita = arb.create_staff("rita@example.com", "reviewer", "a long enough password 1")
    arb.claim(dispute_id, rita, "127.0.0.1")
    arb.note(dispute_id, rita, "Internal: the buyer seems to be bluffing.", "127.0.0.1")
    page = client.http.get(buyer).get_data(as_text=True)
    assert "bluffing" not in page
    assert "rita@example.com" not in page
    assert "Missing." in page


def test_a_sandbox_party_acts_on_the_sandbox_clock(app):
    sandbox = Client(app, create_key(app.extensions["tranche"].database, "try", test=True)[1])
    contract_id, milestone = make_deal(sandbox)
    moved = sandbox.post("/v1/test-clock/advance", {"by": "3d"}).get_json()
    _, path = mint(sandbox, contract_id, "buyer")
    form = {"action": "event", "target": milestone, "event": "release", "amount": "62.50"}
    assert act(sandbox, path, **form)[1].status_code == 303
    last = sandbox.get(f"/v1/milestones/{milestone}/history").get_json()["data"][-1]
    assert last["type"] == "release"
    assert datetime.fromisoformat(last["created_at"]) == datetime.fromisoformat(moved["now"])
