"""The root page says what is running and leads to the console, the docs and the checks."""

from __future__ import annotations

from html.parser import HTMLParser
from importlib.metadata import version

import pytest

from web.app import create_app
from web.home import CSP_SELF


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.hrefs += [value or "" for name, value in attrs if name == "href"]


@pytest.fixture
def app(database, clock):
    return create_app({"DATABASE_URL": database.url, "AUTO_UPGRADE": False}, clock)


def test_root_page_says_what_runs_and_where_to_go(app, database):
    page = app.test_client().get("/")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert page.headers["Content-Security-Policy"] == CSP_SELF
    text = page.get_data(as_text=True)
    kind = "PostgreSQL" if database.is_postgres else "SQLite"
    assert f"This is Tranche {version('tranche')}, storing its data in {kind}." in text
    parsed = Links()
    parsed.feed(text)
    assert "script" not in parsed.tags
    assert parsed.hrefs == ["/console/", "/docs", "/v1/openapi.json", "/health"]


def test_every_link_on_the_root_page_answers(app):
    client = app.test_client()
    parsed = Links()
    parsed.feed(client.get("/").get_data(as_text=True))
    for href in parsed.hrefs:
        answer = client.get(href)
        if href == "/console/":  # signed out: sent to the sign-in page
            assert answer.status_code == 302, href
            assert client.get(answer.headers["Location"]).status_code == 200
        else:
            assert answer.status_code == 200, href
