"""The console through Flask's test client: sign-in, sessions, CSRF, roles, escaping, rulings."""

import re

import pytest
from arb_helpers import PASSWORD, funded

from arbitration.evidence import Upload
from conftest import BUYER, PROVIDER
from web.api.auth import create_key
from web.app import create_app

CONSOLE_GETS = [
    "/console/",
    "/console/approvals",
    "/console/audit",
    "/console/search?q=x",
    "/console/disputes/dp_x",
    "/console/evidence/1/file",
]


@pytest.fixture
def app(database, clock, tmp_path):
    return create_app(
        {
            "DATABASE_URL": database.url,
            "AUTO_UPGRADE": False,
            "SECRET_KEY": "test",
            "EVIDENCE_DIR": str(tmp_path / "evidence"),
            "TWO_PERSON_THRESHOLDS": "USD=200.00",
            "SESSION_COOKIE_SECURE": False,
        },
        clock,
    )


@pytest.fixture
def arb(app):
    return app.extensions["arbitration"]


@pytest.fixture
def staff(arb):
    return {
        "rita": arb.create_staff("rita@example.com", "reviewer", PASSWORD),
        "sam": arb.create_staff("sam@example.com", "senior", PASSWORD),
        "sue": arb.create_staff("sue@example.com", "senior", PASSWORD),
    }


def token(client, path="/console/login"):
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(client, email):
    response = client.post(
        "/console/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token(client)},
    )
    assert response.status_code == 302
    return client


@pytest.fixture
def dispute(app, arb, contract):
    tranche = app.extensions["tranche"]
    mid = funded(tranche, contract, amount=50_000)
    found = arb.open(mid, BUYER, "Half of the pages are missing.")
    arb.evidence(found.id, BUYER, text="<script>alert('x')</script> see page 4")
    arb.evidence(
        found.id, PROVIDER, upload=Upload("log.txt", "text/plain", b"delivered 2026-11-20")
    )
    return found


@pytest.mark.parametrize("path", CONSOLE_GETS)
def test_every_page_needs_a_signed_in_staff_member(app, path):
    response = app.test_client().get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login")


def test_a_form_without_the_csrf_token_is_refused(app, staff):
    client = app.test_client()
    response = client.post(
        "/console/login", data={"email": "rita@example.com", "password": PASSWORD}
    )
    assert response.status_code == 400
    sign_in(client, "rita@example.com")
    assert client.post("/console/logout").status_code == 400
    assert client.get("/console/").status_code == 200


def test_the_api_neither_reads_nor_refreshes_the_console_session(app, staff):
    """The API authenticates by key: a staff cookie sent along is not its business."""
    _, key = create_key(app.extensions["tranche"].database, "acme")
    client = sign_in(app.test_client(), "rita@example.com")
    assert client.get("/console/").headers.get("Set-Cookie")  # the console refreshes it
    response = client.get("/v1/contracts", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")
    assert client.get("/v1/contracts").status_code == 401  # the cookie is no credential
    assert client.get("/console/").status_code == 200  # and still signs the staff member in


def test_wrong_password_is_refused_then_throttled(app, staff):
    client = app.test_client()
    for _ in range(5):
        response = client.post(
            "/console/login",
            data={"email": "rita@example.com", "password": "nope", "csrf_token": token(client)},
        )
        assert response.status_code == 401
    response = client.post(
        "/console/login",
        data={"email": "rita@example.com", "password": PASSWORD, "csrf_token": token(client)},
    )
    assert response.status_code == 429
    assert "Too many failed attempts" in response.get_data(as_text=True)


# sessions end server-side: a cookie copied before sign-out (or before a password reset,
# or a deactivation) opens nothing afterwards, though its signature is still good ------
def copied_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def with_cookie(app, value: str):
    other = app.test_client()
    other.set_cookie("session", value)
    return other


def test_a_cookie_copied_before_signing_out_opens_nothing_after(app, staff):
    client = sign_in(app.test_client(), "rita@example.com")
    copy = copied_cookie(client)
    assert with_cookie(app, copy).get("/console/").status_code == 200
    signed_out = client.post("/console/logout", data={"csrf_token": token(client, "/console/")})
    assert signed_out.status_code == 302
    assert client.get("/console/").status_code == 302
    response = with_cookie(app, copy).get("/console/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login")


def test_signing_out_ends_only_that_session(app, staff):
    laptop = sign_in(app.test_client(), "rita@example.com")
    phone = sign_in(app.test_client(), "rita@example.com")
    laptop.post("/console/logout", data={"csrf_token": token(laptop, "/console/")})
    assert phone.get("/console/").status_code == 200


@pytest.mark.parametrize("change", ["reset_password", "deactivate"])
def test_a_password_reset_or_deactivation_ends_every_session(app, arb, staff, change):
    client = sign_in(app.test_client(), "rita@example.com")
    copy = copied_cookie(client)
    if change == "reset_password":
        arb.reset_password("rita@example.com", "an entirely new password")
    else:
        arb.deactivate("rita@example.com")
    assert client.get("/console/").status_code == 302
    assert with_cookie(app, copy).get("/console/").status_code == 302


def test_a_throttled_email_gets_the_same_answer_whether_staff_or_not(app, staff):
    def answers(email: str, first_address: int) -> list[tuple[int, str | None]]:
        seen = []
        for i in range(12):
            client = app.test_client()
            environ = {"REMOTE_ADDR": f"10.9.{first_address}.{i}"}
            response = client.post(
                "/console/login",
                data={"email": email, "password": "wrong", "csrf_token": token(client)},
                environ_base=environ,
            )
            page = response.get_data(as_text=True)
            message = "Too many" if "Too many" in page else "Wrong" if "Wrong" in page else None
            seen.append((response.status_code, message, "Retry-After" in response.headers))
        return seen

    expected = [(401, "Wrong", False)] * 10 + [(429, "Too many", True)] * 2
    assert answers("rita@example.com", 1) == expected
    assert answers("nobody@example.com", 2) == expected
    assert sign_in(app.test_client(), "sam@example.com")  # other accounts are not affected


def test_party_text_is_shown_as_text_never_as_markup(app, staff, dispute):
    client = sign_in(app.test_client(), "rita@example.com")
    page = client.get(f"/console/disputes/{dispute.id}").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; see page 4" in page
    assert "log.txt" in page


def test_the_queue_lists_open_disputes_nearest_deadline_first(app, staff, dispute, arb):
    client = sign_in(app.test_client(), "rita@example.com")
    page = client.get("/console/").get_data(as_text=True)
    assert dispute.id in page
    assert dispute.id not in client.get("/console/?status=settled").get_data(as_text=True)
    assert dispute.id not in client.get("/console/?min=600&currency=USD").get_data(as_text=True)
    assert dispute.id in client.get("/console/?min=500&currency=usd").get_data(as_text=True)
    assert dispute.id not in client.get("/console/?currency=EUR").get_data(as_text=True)
    page = client.get("/console/?min=600").get_data(as_text=True)
    assert "Choose the currency of the amounts at stake." in page
    assert "is not an amount in USD" in client.get("/console/?min=abc&currency=USD").get_data(
        as_text=True
    )
    found = client.get(f"/console/search?q={dispute.contract_id}")
    assert found.headers["Location"].endswith(f"/console/disputes/{dispute.id}")


def test_queue_rows_name_the_contract_and_parties_and_explain_due(app, staff, contract, arb):
    from web.api.views_milestones import NO_REASON

    tranche = app.extensions["tranche"]
    arb.open(funded(tranche, contract, amount=10_000), BUYER, NO_REASON)  # what the API stores
    client = sign_in(app.test_client(), "rita@example.com")
    page = client.get("/console/").get_data(as_text=True)
    assert ">Test work</a>" in page
    assert 'buyer-1 <span class="muted">(buyer)</span> · provider-1' in page
    assert 'id="due-legend"' in page
    assert "review target of 3 days" in page
    assert "`note`" not in page
    assert "The opener gave no reason." in page


def test_search_finds_words_of_the_title_and_the_start_of_ids(app, staff, dispute, arb):
    client = sign_in(app.test_client(), "rita@example.com")
    found = client.get("/console/search?q=test+wor")
    assert found.headers["Location"].endswith(f"/console/disputes/{dispute.id}")
    found = client.get(f"/console/search?q={dispute.id[:12]}")
    assert found.headers["Location"].endswith(f"/console/disputes/{dispute.id}")
    assert "0 disputes" in client.get("/console/search?q=croissant").get_data(as_text=True)


def test_evidence_files_are_served_as_downloads_in_a_sandbox(app, staff, dispute, arb):
    client = sign_in(app.test_client(), "rita@example.com")
    page = client.get(f"/console/disputes/{dispute.id}").get_data(as_text=True)
    link = re.search(r'href="(/console/evidence/\d+/file)"', page).group(1)
    response = client.get(link)
    assert response.data == b"delivered 2026-11-20"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "sandbox" in response.headers["Content-Security-Policy"]


def test_session_cookie_is_secure_httponly_by_default(database, clock, tmp_path):
    app = create_app(
        {"DATABASE_URL": database.url, "AUTO_UPGRADE": False, "EVIDENCE_DIR": str(tmp_path)}, clock
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_moments_read_as_people_say_them():
    from datetime import UTC, datetime, timedelta

    from web.console.filters import relative

    now = datetime(2026, 11, 24, 9, tzinfo=UTC)
    assert relative(now, now) == "just now"
    assert relative(now + timedelta(hours=5), now) == "in 5 h"
    assert relative(now - timedelta(days=3), now) == "3 days ago"
