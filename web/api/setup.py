"""Mount the API on an app: blueprints, authentication, content types, OpenAPI, /docs."""

from __future__ import annotations

import copy
from contextlib import ExitStack
from typing import Any

from flask import Flask, Request, Response, g, jsonify, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_smorest import Api

from engine.domain.actors import PARTY_ID
from engine.domain.sandbox import is_test_tenant
from engine.service.sandbox import tenant_clock
from web.api import body, problems, schemas
from web.api.auth import KeyCache, authenticate
from web.api.docs import docs
from web.api.problems import PROBLEM_JSON, ProblemError
from web.api.webhooks import WebhookSettings

PREFIX = "/v1"
PUBLIC = {"/v1/openapi.json"}
ERRORS = {
    "get": ("401", "403", "404", "422", "503"),
    "post": ("400", "401", "403", "404", "409", "412", "413", "415", "422", "503"),
    "put": ("401", "409", "422", "503"),
    "delete": ("401", "404", "422", "503"),
}
DESCRIPTIONS = {
    "400": "The body is not JSON, is nested too deeply, or holds a number too long to read",
    "413": "The body is larger than the limit (MAX_CONTENT_LENGTH; evidence: its file limit)",
    "503": "The database cannot be reached just now (database_unavailable, with Retry-After), "
    "or, for a drawing, Graphviz is not installed (diagram_unavailable)",
}


class SessionsOutsideApi(SecureCookieSessionInterface):
    """Cookie sessions (the console's) everywhere but the API, which authenticates by key.

    Opening a session builds a signing serializer and parses the cookies on every
    request; under the prefix Flask gets a null session instead and saves none.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(PREFIX):
            return None
        return super().open_session(app, request)


def install(app: Flask) -> None:
    app.config.setdefault("API_TITLE", "Tranche")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    Api.DEFAULT_ERROR_RESPONSE_NAME = None
    api = Api(app, spec_kwargs={"info": {"description": "Milestone escrow for integrators."}})
    from web.api import (
        stripe_webhook,
        views_contracts,
        views_disputes,
        views_milestones,
        views_misc,
        views_rail,
        views_reconciliations,
        views_reports,
        views_sandbox,
    )
    from web.party import api as party_api
    from web.statements import api as statements_api

    modules = (views_contracts, views_milestones, views_disputes, views_misc, views_rail)
    modules += (views_reconciliations, views_reports, views_sandbox)
    for module in (*modules, stripe_webhook, party_api, statements_api):
        api.register_blueprint(module.blp)
    app.register_blueprint(docs)
    problems.install(app, PREFIX)
    app.extensions["tranche_webhooks"] = WebhookSettings.from_config(app.config)
    app.session_interface = SessionsOutsideApi()
    cache = KeyCache()
    tranche = app.extensions["tranche"]
    database = tranche.database

    @app.before_request
    def guard() -> None:
        if not request.path.startswith(PREFIX) or request.path in PUBLIC:
            return
        if request.endpoint == stripe_webhook.RECEIVER:
            return  # Stripe's signature authenticates it (web.api.stripe_webhook)
        if request.endpoint == views_disputes.EVIDENCE_ENDPOINT:
            request.max_content_length = views_disputes.evidence_body_limit(app)
        report = request.endpoint == views_reconciliations.UPLOAD_ENDPOINT
        if report:  # a CSV file, not JSON (read by the view)
            request.max_content_length = views_reconciliations.upload_limit(app)
        data = b""
        if request.method in ("POST", "PUT", "PATCH") and request.content_length != 0:
            data = request.get_data(cache=True)  # 413 beyond request.max_content_length
            if data and not request.is_json and not report:
                raise ProblemError(
                    "unsupported_media_type",
                    f"send the body as application/json, not {request.mimetype or 'nothing'}",
                )
        caller = authenticate(database, cache)
        if is_test_tenant(caller.tenant):  # every unit of work of the request: the test clock
            g.sandbox_time = ExitStack()
            g.sandbox_time.enter_context(tenant_clock(tranche, caller.tenant))
        for name, value in [*(request.view_args or {}).items(), *request.args.items(multi=True)]:
            if isinstance(value, str):
                body.check_text(name, value)
        if data and not report:
            body.check_json_body(data)

    @app.teardown_request
    def leave_sandbox_time(_: BaseException | None) -> None:
        stack = g.pop("sandbox_time", None)
        if stack is not None:
            stack.close()

    document: dict[str, Any] = {}

    @app.get("/v1/openapi.json")
    def openapi() -> Response:
        if not document:
            document.update(_finish(api.spec.to_dict()))
        return jsonify(document)


def _header(name: str, description: str, required: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": {"type": "string", "minLength": 1, "maxLength": 128},
    }


ACTOR = _header(
    "Tranche-Actor", "the acting user, by party id (printable ASCII); the contract gives the role"
)
ACTOR["schema"]["pattern"] = "^" + PARTY_ID.pattern + "$"
IDEMPOTENCY_KEY = _header("Idempotency-Key", "a retry with the same key replays the response")
IDEMPOTENCY_KEY["schema"] = {"type": "string", "pattern": "^[ -~]{1,255}$"}


def _finish(spec: dict[str, Any]) -> dict[str, Any]:
    """What flask-smorest leaves out: problem+json errors, auth, and our request headers."""
    spec = copy.deepcopy(spec)
    components = spec.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearer"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "an API key from `tranche apikey create NAME`",
    }
    spec["security"] = [{"bearer": []}]
    problem = {"$ref": "#/components/schemas/Problem"}
    components.setdefault("schemas", {})["Problem"] = _problem_schema()
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in ERRORS:
                continue
            responses = operation.setdefault("responses", {})
            declared = {  # a view's own @blp.alt_response keeps its code and description
                code: responses.pop(code).get("description")
                for code in list(responses)
                if code.startswith(("4", "5"))
            }
            for code in sorted(set(ERRORS[method]) | set(declared)):
                responses[code] = {
                    "description": declared.get(code)
                    or DESCRIPTIONS.get(code)
                    or problems.TITLES.get(problems.CODE_BY_STATUS.get(int(code), ""), code),
                    "content": {PROBLEM_JSON: {"schema": problem}},
                }
            responses["503"]["headers"] = {
                "Retry-After": {
                    "description": "seconds to wait before retrying (database_unavailable)",
                    "schema": {"type": "integer"},
                }
            }
            params = operation.setdefault("parameters", [])
            params.append(ACTOR | {"required": method == "post" and _needs_actor(path)})
            if method == "post":
                params.append(IDEMPOTENCY_KEY)
            if path.endswith("/events/{event}"):
                params.append(_header("If-Match", "the ETag (version) the command expects"))
    if "/v1/openapi.json" not in spec["paths"]:
        spec["paths"]["/v1/openapi.json"] = {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {
                        "description": "OpenAPI 3",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        }
    return spec


def _needs_actor(path: str) -> bool:
    return path.endswith(("/events/{event}", "/payments", "/payment-requests", "/pay", "/decline"))


def _problem_schema() -> dict[str, Any]:
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    spec = APISpec("x", "1", "3.0.3", plugins=[MarshmallowPlugin()])
    spec.components.schema("Problem", schema=schemas.ProblemSchema)
    return spec.to_dict()["components"]["schemas"]["Problem"]
