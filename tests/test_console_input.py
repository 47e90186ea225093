"""Odd input to the console: every query parameter and form field is checked, never a 500."""

import pytest
from arb_helpers import PASSWORD, funded
from console_helpers import post_form
from test_console import sign_in, token

from conftest import BUYER
from engine.domain.errors import InvalidAmountError
from engine.domain.money import Money
from web.app import create_app


@pytest.fixture
def app(database, clock, tmp_path):
    return create_app(
        {
            "DATABASE_URL": database.url,
            "AUTO_UPGRADE": False,
            "SECRET_KEY": "test",
            "EVIDENCE_DIR": str(tmp_path / "evidence"),
            "SESSION_COOKIE_SECURE": False,
        },
        clock,
    )


@pytest.fixture
def rita(app):
    app.extensions["arbitration"].create_staff("rita@example.com", "reviewer", PASSWORD)
    return sign_in(app.test_client(), "rita@example.com")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("age=99999999999", "age"),
        ("age=%C2%B2", "age"),
        ("age=-3", "age"),
        ("currency=USD&min=99999999999999999999999", "min"),
        ("min=10", "currency"),
        ("currency=USD&min=" + "9" * 5_000, "min"),
        ("currency=USD&max=1e5", "max"),
        ("status=nonsense", "status"),
        ("after=x&_method=PUT", "after"),
        ("after=2026-01-01T00:00:00%7C" + "x" * 300, "after"),
        ("assignee=" + "x" * 300, "assignee"),
    ],
)
def test_a_bad_queue_parameter_is_a_clear_400_page(rita, query, field):
    response = rita.get(f"/console/?{query}")
    assert response.status_code == 400, response.data[:300]
    assert response.mimetype == "text/html"
    assert f"&#39;{field}&#39;" in response.get_data(as_text=True)


def test_a_good_queue_parameter_still_filters(rita):
    response = rita.get("/console/?age=7&currency=USD&min=10.50&max=2000&status=all&assignee=me")
    assert response.status_code == 200


def test_an_evidence_id_beyond_any_row_is_404(rita):
    assert rita.get("/console/evidence/99999999999999999999/file").status_code == 404


@pytest.mark.parametrize(
    "path", ["/console/search?q=a%00b", "/console/?assignee=%00", "/console/disputes/dp_%00"]
)
def test_a_nul_in_a_query_parameter_is_refused_naming_it(rita, path):
    response = rita.get(path)
    assert response.status_code == 422
    assert "contains a NUL" in response.get_data(as_text=True)


def test_a_nul_in_a_form_field_is_refused_naming_it(app, rita):
    response = rita.post(
        "/console/disputes/dp_x/note",
        data={"body": "a\x00b", "csrf_token": token(rita, "/console/")},
    )
    assert response.status_code == 422
    assert "&#39;body&#39;" in response.get_data(as_text=True)


def test_a_nul_in_the_sign_in_form_is_refused(app):
    client = app.test_client()
    response = client.post(
        "/console/login",
        data={"email": "rita\x00@example.com", "password": PASSWORD, "csrf_token": token(client)},
    )
    assert response.status_code == 422


def test_a_ruling_of_endless_digits_is_a_message_on_the_case(app, rita, contract):
    milestone_id = funded(app.extensions["tranche"], contract)
    case = app.extensions["arbitration"].open(milestone_id, BUYER, "Missing pages.")
    page = f"/console/disputes/{case.id}"
    response = post_form(
        rita,
        f"{page}/rule/preview",
        page,
        to_provider="9" * 5_000,
        to_buyer="0",
        rationale="x" * 20,
    )
    assert response.status_code == 422  # the case page again, the form kept, the reason shown
    assert "more than any amount may be" in response.get_data(as_text=True)


def test_money_parses_no_more_digits_than_an_amount_can_have():
    assert Money.parse("10000000000000.00", "USD").minor == 10**15
    with pytest.raises(InvalidAmountError, match="more than any amount"):
        Money.parse("9" * 5_000, "USD")
