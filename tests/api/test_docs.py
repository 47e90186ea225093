"""/docs loads Swagger UI from this origin only, under a CSP that allows nothing else."""

from __future__ import annotations

from html.parser import HTMLParser

from flask import Flask

from web.home import CSP_SELF


class Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            assert found.get("src"), "an inline script would need 'unsafe-inline'"
            self.urls.append(found["src"] or "")
        elif tag == "link":
            self.urls.append(found.get("href") or "")


def test_docs_load_only_files_of_this_origin(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"] == CSP_SELF
    assert "default-src 'self';" in CSP_SELF
    assert "unsafe" not in CSP_SELF
    assets = Assets()
    assets.feed(page.get_data(as_text=True))
    assert assets.urls == [
        "/docs/swagger-ui/swagger-ui.css",
        "/docs/swagger-ui/swagger-ui-bundle.js",
        "/docs/static/docs.js",
    ]
    for url in assets.urls:
        served = client.get(url)
        assert served.status_code == 200, url
        assert served.mimetype == ("text/css" if url.endswith(".css") else "text/javascript")
        assert served.headers["Content-Security-Policy"] == CSP_SELF
        served.close()
    bundle = client.get("/docs/swagger-ui/swagger-ui-bundle.js")
    assert len(bundle.get_data()) > 1_000_000  # the whole UI, not a stub
    starter = client.get("/docs/static/docs.js").get_data(as_text=True)
    assert 'url: "/v1/openapi.json"' in starter
    assert "validatorUrl: null" in starter  # else the UI asks validator.swagger.io


def test_docs_serve_nothing_else_of_the_wheel(app: Flask) -> None:
    client = app.test_client()
    for name in ("oauth2-redirect.html", "index.html", "..%2F__init__.py", "swagger-ui.js"):
        assert client.get(f"/docs/swagger-ui/{name}").status_code == 404, name
