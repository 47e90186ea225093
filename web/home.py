"""The root page: what is running here, and the way to the console, the docs and the checks.

Plain server-rendered HTML with no script, so a newcomer who opens the address
`tranche serve` printed finds their way instead of a 404.
"""

from __future__ import annotations

from importlib.metadata import version

from flask import Blueprint, Response, current_app, render_template

CSP_SELF = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
"""Pages that load nothing but this origin's own files (data: images are inline SVG icons)."""
DATABASES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}

home = Blueprint("home", __name__)


@home.get("/")
def index() -> Response:
    dialect = current_app.extensions["tranche"].database.engine.dialect.name
    page = render_template(
        "home.html", version=version("tranche"), database=DATABASES.get(dialect, dialect)
    )
    return Response(page, mimetype="text/html", headers={"Content-Security-Policy": CSP_SELF})
