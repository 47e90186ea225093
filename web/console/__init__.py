"""The staff reviewer console: server-rendered pages at /console.

`init_console(app, database, clock)` reads the arbitration settings from the app
config (TRANCHE_EVIDENCE_DIR, TRANCHE_TWO_PERSON_THRESHOLDS, TRANCHE_SECRET_KEY,
TRANCHE_SESSION_COOKIE_SECURE...) and registers the blueprint. Pages live in
`views`, sign-in and CSRF in `auth`, the state diagram in `diagram`.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask

from arbitration.service import Arbitration
from arbitration.settings import (
    DEFAULT_THRESHOLDS,
    EVIDENCE_PER_DISPUTE,
    EVIDENCE_PER_TENANT,
    Settings,
    parse_thresholds,
)
from engine.domain.clock import Clock
from engine.store.db import Database


class MissingSecretKeyError(RuntimeError):
    """Served by worker processes without TRANCHE_SECRET_KEY: each would sign with its own."""


def refuse_a_key_per_worker() -> None:
    """Under gunicorn, each worker (and each worker it restarts) would make up its own key,
    so a session or CSRF token signed by one fails at the next: refuse to start instead.
    gunicorn sets SERVER_SOFTWARE in its master, and its workers inherit it."""
    if os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn"):
        raise MissingSecretKeyError(
            "TRANCHE_SECRET_KEY is not set: gunicorn's workers would each sign console "
            "sessions and CSRF tokens with a key of their own, and sign-ins would fail at "
            "random. Give every worker the same secret, e.g. "
            "TRANCHE_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
        )


def init_console(app: Flask, database: Database, clock: Clock | None = None) -> Arbitration:
    from web.console import filters, ruling_views  # noqa: F401  (its routes join the blueprint)
    from web.console.views import console

    config = app.config
    for key, value in {
        "EVIDENCE_DIR": "evidence",
        "TWO_PERSON_THRESHOLDS": DEFAULT_THRESHOLDS,
        "MAX_EVIDENCE_BYTES": 10 * 1024 * 1024,
        "EVIDENCE_PER_DISPUTE": EVIDENCE_PER_DISPUTE,
        "EVIDENCE_PER_TENANT": EVIDENCE_PER_TENANT,
        "CONSOLE_SESSION_HOURS": 10,
    }.items():
        config.setdefault(key, value)
    app.permanent_session_lifetime = timedelta(hours=int(config["CONSOLE_SESSION_HOURS"]))
    if not config.get("SECRET_KEY"):
        refuse_a_key_per_worker()
        # One process (`tranche serve`): sessions then last as long as it does.
        config["SECRET_KEY"] = secrets.token_hex(32)
    settings = Settings(
        evidence_dir=Path(config["EVIDENCE_DIR"]),
        two_person_thresholds=parse_thresholds(str(config["TWO_PERSON_THRESHOLDS"])),
        max_evidence_bytes=int(config["MAX_EVIDENCE_BYTES"]),
        evidence_per_dispute=_pair(config["EVIDENCE_PER_DISPUTE"]),
        evidence_per_tenant=_pair(config["EVIDENCE_PER_TENANT"]),
    )
    arbitration = Arbitration(database, clock, settings)
    app.extensions["arbitration"] = arbitration
    filters.register(app)
    app.register_blueprint(console, url_prefix="/console")
    return arbitration


def _pair(value: object) -> tuple[int, int]:
    """[items, bytes] from the config (TRANCHE_EVIDENCE_PER_DISPUTE='[100, 104857600]')."""
    items, size = value  # type: ignore[misc]
    return int(items), int(size)
