"""Shared pieces of the console tests: an app, staff, signing in, reading a page's forms."""

from __future__ import annotations

import re

from arb_helpers import PASSWORD, funded

from conftest import BUYER, PROVIDER
from web.app import create_app


def make_app(database, clock, tmp_path, thresholds: str = "USD=300.00"):
    return create_app(
        {
            "DATABASE_URL": database.url,
            "AUTO_UPGRADE": False,
            "SECRET_KEY": "test",
            "EVIDENCE_DIR": str(tmp_path / "evidence"),
            "TWO_PERSON_THRESHOLDS": thresholds,
            "SESSION_COOKIE_SECURE": False,
        },
        clock,
    )


def make_staff(arb) -> dict:
    return {
        "rita": arb.create_staff("rita@example.com", "reviewer", PASSWORD),
        "sam": arb.create_staff("sam@example.com", "senior", PASSWORD),
        "sue": arb.create_staff("sue@example.com", "senior", PASSWORD),
    }


def field(page: str, name: str) -> str:
    """The value of the first hidden field `name` on the page."""
    return re.search(rf'name="{name}" value="([^"]*)"', page).group(1)


def token(client, path="/console/login"):
    return field(client.get(path).get_data(as_text=True), "csrf_token")


def sign_in(client, email):
    response = client.post(
        "/console/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token(client)},
    )
    assert response.status_code == 302
    return client


def answered_dispute(app, contract, amount: int, reason: str = "Half of the pages are missing."):
    """A dispute the provider has answered, so staff may rule on it now."""
    arb = app.extensions["arbitration"]
    found = arb.open(funded(app.extensions["tranche"], contract, amount=amount), BUYER, reason)
    arb.statement(found.id, PROVIDER, "All pages were delivered.")
    return found


def post_form(client, path: str, page_path: str, **data):
    """POST `data` with the CSRF token and the case version shown on `page_path`."""
    page = client.get(page_path).get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page)
    if version:
        data.setdefault("version", version.group(1))
    return client.post(path, data={"csrf_token": field(page, "csrf_token"), **data})
