"""/docs: Swagger UI for the OpenAPI document, served from this origin only.

The UI is the copy of Swagger UI inside the pinned flask-swagger-ui wheel (its
`dist` folder; the package's own blueprint is not used, since its page carries an
inline script). So the docs work offline, and the staff console's origin runs no
third party's script: the page, the UI's files and the script that starts it are
all ours, under a Content-Security-Policy that allows 'self' alone.
"""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Response, render_template, send_from_directory

from web.home import CSP_SELF

SWAGGER_UI = Path(flask_swagger_ui.__file__).resolve().parent / "dist"
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js")

docs = Blueprint(
    "docs",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/docs/static",
)


@docs.get("/docs")
def page() -> str:
    return render_template("api_docs.html")


@docs.get("/docs/swagger-ui/<name>")
def swagger_ui(name: str) -> Response:
    """Only the files the page loads; nothing else from the wheel's folder."""
    if name not in ASSETS:
        return Response("not found\n", status=404, mimetype="text/plain")
    return send_from_directory(SWAGGER_UI, name)


@docs.after_request
def self_only(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP_SELF
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
