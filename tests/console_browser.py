"""Shared pieces of the console's browser tests: a served app, Chromium, a seeded story.

Debian's chromium through Playwright (never `playwright install`); screenshots go to
artifacts/ (git-ignored), named by test and viewport, for a person to look at.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from arb_helpers import PASSWORD, funded
from werkzeug.serving import make_server

from arbitration.evidence import Upload
from conftest import BUYER, PROVIDER
from web.app import create_app

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("TRANCHE_ARTIFACTS", Path(__file__).parent.parent / "artifacts"))
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
LONG_STATEMENT = (
    "All pages were delivered to the staging server on the 20th. " * 30
    + "The last line of a long statement."
)


def served(database, clock, tmp_path) -> Iterator[tuple[str, object]]:
    app = create_app(
        {
            "DATABASE_URL": database.url,
            "AUTO_UPGRADE": False,
            "SECRET_KEY": "browser-test",
            "EVIDENCE_DIR": str(tmp_path / "evidence"),
            "TWO_PERSON_THRESHOLDS": "USD=500.00,JPY=50000",
            "SESSION_COOKIE_SECURE": False,  # plain HTTP on 127.0.0.1
        },
        clock,
    )
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}", app
    finally:
        http.shutdown()
        thread.join(timeout=5)


def tiny_png(width: int = 48, height: int = 32) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + b"\xd9\x82\x2b" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def seed(app, clock) -> dict[str, str]:
    """Disputes a day apart: the oldest 600.00 USD with text, file and image evidence and a
    long statement; two 200.00 USD ones; one already ruled. Returns their ids by name."""
    tranche = app.extensions["tranche"]
    arb = app.extensions["arbitration"]
    arb.create_staff("rita@example.com", "reviewer", PASSWORD)
    arb.create_staff("sam@example.com", "senior", PASSWORD)
    contract = tranche.create_contract(
        buyer_id=BUYER.id,
        provider_id=PROVIDER.id,
        currency="USD",
        agreed_amount=200_000,
        title="Website redesign",
    )
    oldest = arb.open(
        funded(tranche, contract, amount=60_000),
        BUYER,
        "Only the home page was delivered; the other pages are missing.",
    )
    arb.evidence(
        oldest.id,
        BUYER,
        text="<script>alert('pwned')</script> Pages 2-5 return 404.",
        description="What the buyer saw",
    )
    arb.evidence(
        oldest.id,
        PROVIDER,
        upload=Upload("delivery-log.txt", "text/plain", b"2026-11-20 pushed all five pages\n"),
    )
    arb.evidence(oldest.id, PROVIDER, upload=Upload("home.png", "image/png", tiny_png()))
    arb.statement(oldest.id, PROVIDER, LONG_STATEMENT)
    ids = {"oldest": oldest.id}
    for title in ("Logo", "Copywriting"):
        clock.advance(timedelta(days=1))
        milestone = funded(tranche, contract, amount=20_000)
        ids[title] = arb.open(milestone, PROVIDER, f"{title}: delivered, buyer silent.").id
        arb.statement(ids[title], BUYER, f"{title} was not what we agreed.")
    sam = arb.staff(arb.read(lambda u: _staff_id(u, "sam@example.com")))
    arb.claim(ids["Copywriting"], sam, "127.0.0.1")
    arb.rule(ids["Copywriting"], sam, 12_000, 8_000, "Most of the copy was usable.", "127.0.0.1")
    return ids


def _staff_id(uow, email: str) -> str:
    from sqlalchemy import select

    from arbitration.models import Staff

    return uow.session.scalars(select(Staff.id).where(Staff.email == email)).one()


def launch(playwright):
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    )


def sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/console/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Dispute queue')")
    # The page's keys are wired on DOMContentLoaded, after the heading is already shown:
    # a key pressed before then is lost (seen under load).
    page.wait_for_load_state("domcontentloaded")


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def needs_chromium() -> None:
    if not Path(CHROMIUM).exists() and os.environ.get("CI") != "true":
        pytest.skip(f"{CHROMIUM} is not installed (.ci/run installs it)", allow_module_level=True)
