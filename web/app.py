"""The Flask app factory: configuration in, an app out; nothing is built at import.

The app never needs the database to start: each request opens its own connection
(pinged first, so one the server dropped is replaced), and a database that cannot
be reached answers 503 with Retry-After (web.api.problems). Migrating the schema
is `tranche db upgrade`, run once per release; AUTO_UPGRADE (off by default) lets
a single process do it at start, retrying with back-off and never failing the
start, since a gunicorn worker that fails to boot makes its master shut down.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from engine.domain.clock import Clock
from engine.service.tranche import Tranche
from engine.store.db import Database
from web.console import init_console
from web.home import home
from web.party.views import party

log = logging.getLogger(__name__)
BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0)
"""Seconds between the attempts of an AUTO_UPGRADE at start: six attempts over 15.5 s."""
_sleep = time.sleep


def create_app(config: dict[str, Any] | None = None, clock: Clock | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(
        DATABASE_URL=None,
        AUTO_UPGRADE=False,
        MAX_CONTENT_LENGTH=1024 * 1024,  # bytes of a request body; evidence uploads get more
        SESSION_COOKIE_SECURE=True,  # console sessions; plain-HTTP development sets it false
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.config.from_prefixed_env("TRANCHE")
    if config:
        app.config.from_mapping(config)
    database = Database(app.config["DATABASE_URL"])
    if app.config["AUTO_UPGRADE"]:
        upgrade_at_start(database)
    app.extensions["tranche"] = Tranche(database, clock)
    init_console(app, database, clock)
    from web.api.setup import install as install_api

    install_api(app)
    app.register_blueprint(home)
    app.register_blueprint(party)

    @app.get("/health")
    def health() -> Any:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return jsonify(status="ok", database=database.engine.dialect.name)

    return app


def upgrade_at_start(database: Database) -> bool:
    """Migrate, retrying a database that is not up yet; on giving up, log and serve anyway."""
    for attempt, delay in enumerate((*BACKOFF, None), start=1):
        try:
            database.upgrade()
            return True
        except SQLAlchemyError as exc:
            if delay is None:
                log.error("schema not upgraded after %d attempts: %s", attempt, exc)
                return False
            log.warning(
                "schema upgrade failed (attempt %d), retrying in %ss: %s", attempt, delay, exc
            )
            _sleep(delay)
    return False
