"""/docs in a real browser with no way out: Swagger UI loads from this origin and lists the API.

Debian's chromium through Playwright; every request to another origin is refused
and recorded, so the page must work offline. The screenshot goes to artifacts/.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from web.app import create_app

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("TRANCHE_ARTIFACTS", Path(__file__).parent.parent / "artifacts"))

if not Path(CHROMIUM).exists() and os.environ.get("CI") != "true":
    pytest.skip(f"{CHROMIUM} is not installed (.ci/run installs it)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def base_url(sqlite_database, clock) -> Iterator[str]:
    app = create_app({"DATABASE_URL": sqlite_database.url, "AUTO_UPGRADE": False}, clock)
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}"
    finally:
        http.shutdown()
        thread.join(timeout=5)


def test_docs_list_the_operations_offline(base_url: str) -> None:
    origin = urlsplit(base_url).netloc
    elsewhere: list[str] = []
    refused: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def only_here(route) -> None:
            if urlsplit(route.request.url).netloc == origin or route.request.url.startswith(
                "data:"
            ):
                route.continue_()
            else:
                elsewhere.append(route.request.url)
                route.abort()

        page.route("**/*", only_here)
        page.on(
            "console",
            lambda message: (
                refused.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        page.goto(f"{base_url}/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=15_000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        title = page.locator(".information-container .title").inner_text()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "docs.png"), full_page=False)
        browser.close()
    assert "Tranche" in title
    assert {"/v1/contracts", "/v1/disputes/{dispute_id}/offers"} <= {p.strip() for p in paths}
    assert elsewhere == []
    assert refused == []
