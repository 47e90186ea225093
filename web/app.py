"""The Flask app factory: configuration in, an app out; nothing is built at import."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from sqlalchemy import text

from engine.clock import Clock
from engine.db import Database
from engine.service import Tranche
from web.console import init_console


def create_app(config: dict[str, Any] | None = None, clock: Clock | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(
        DATABASE_URL=None,
        AUTO_UPGRADE=True,
        MAX_CONTENT_LENGTH=1024 * 1024,  # bytes of a request body; evidence uploads get more
        SESSION_COOKIE_SECURE=True,  # console sessions; plain-HTTP development sets it false
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.config.from_prefixed_env("TRANCHE")
    if config:
        app.config.from_mapping(config)
    database = Database(app.config["DATABASE_URL"])
    if app.config["AUTO_UPGRADE"]:
        database.upgrade()
    app.extensions["tranche"] = Tranche(database, clock)
    init_console(app, database, clock)
    from web.api.setup import install as install_api

    install_api(app)

    @app.get("/health")
    def health() -> Any:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return jsonify(status="ok", database=database.engine.dialect.name)

    return app
