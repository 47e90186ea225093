"""The staff reviewer console: server-rendered pages at /console.

`init_console(app, database, clock)` reads the arbitration settings from the app
config (TRANCHE_EVIDENCE_DIR, TRANCHE_TWO_PERSON_THRESHOLDS, TRANCHE_SECRET_KEY,
TRANCHE_SESSION_COOKIE_SECURE...) and registers the blueprint. Pages live in
`views`, sign-in and CSRF in `auth`, the state diagram in `diagram`.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask

from arbitration.service import Arbitration
from arbitration.settings import DEFAULT_THRESHOLDS, Settings, parse_thresholds
from engine.clock import Clock
from engine.db import Database


def init_console(app: Flask, database: Database, clock: Clock | None = None) -> Arbitration:
    from web.console import filters, ruling_views  # noqa: F401  (its routes join the blueprint)
    from web.console.views import console

    config = app.config
    for key, value in {
        "EVIDENCE_DIR": "evidence",
        "TWO_PERSON_THRESHOLDS": DEFAULT_THRESHOLDS,
        "MAX_EVIDENCE_BYTES": 10 * 1024 * 1024,
        "CONSOLE_SESSION_HOURS": 10,
    }.items():
        config.setdefault(key, value)
    app.permanent_session_lifetime = timedelta(hours=int(config["CONSOLE_SESSION_HOURS"]))
    if not config.get("SECRET_KEY"):
        # Sessions then last as long as this process: set TRANCHE_SECRET_KEY in production.
        config["SECRET_KEY"] = secrets.token_hex(32)
    settings = Settings(
        evidence_dir=Path(config["EVIDENCE_DIR"]),
        two_person_thresholds=parse_thresholds(str(config["TWO_PERSON_THRESHOLDS"])),
        max_evidence_bytes=int(config["MAX_EVIDENCE_BYTES"]),
    )
    arbitration = Arbitration(database, clock, settings)
    app.extensions["arbitration"] = arbitration
    filters.register(app)
    app.register_blueprint(console, url_prefix="/console")
    return arbitration
