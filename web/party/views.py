"""The parties' hosted pages at /p/<token>: read, confirm, act, and stay live.

No password: the link's token is the key, checked on every request (expiry and
revocation included). Every POST carries a CSRF token derived from the app's secret and
the link, so a page elsewhere cannot make the party act; every action is confirmed
first, showing the money it moves. Pages may be framed only by the tenant's origins.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from sqlalchemy import select

from arbitration.evidence import Upload
from arbitration.service import Arbitration
from engine.domain.errors import TrancheError, ValidationError
from engine.service import parties
from engine.service.sandbox import tenant_clock
from engine.service.uow import UnitOfWork
from engine.store import notices
from engine.store.models import Contract
from engine.store.notice_models import PartyLink
from web.api.problems import STATUS_BY_CODE
from web.party import actions
from web.party.page import PartyPage, evidence_line, read_page

party = Blueprint(
    "party", __name__, url_prefix="/p", template_folder="templates", static_folder="static"
)
TOKEN = "<token>"
DONE = {"1": "Done."}
POLL_SECONDS = 0.2
"""How often a live stream looks at the contract's event counter: a change shows within
about this long plus one page fetch."""


def _service() -> Arbitration:
    return current_app.extensions["arbitration"]


def csrf_for(link: PartyLink) -> str:
    key = str(current_app.secret_key).encode()
    return hmac.new(key, f"party-csrf:{link.id}".encode(), hashlib.sha256).hexdigest()


def _check_csrf(link: PartyLink) -> None:
    if not hmac.compare_digest(request.form.get("csrf_token", ""), csrf_for(link)):
        abort(400, description="This form was not sent from your page. Reload it and try again.")


def _overrides(link: PartyLink) -> tuple[str, str]:
    """The link's locale and zone, or those the query asks for (checked)."""
    locale = request.args.get("lang", link.locale)
    zone = request.args.get("tz", link.time_zone)
    return parties.check_locale(locale), parties.check_time_zone(zone)


def _load(token: str) -> PartyPage:
    def query(uow: UnitOfWork) -> PartyPage:
        link = parties.open_link(uow, token)
        page = read_page(uow, link, *_overrides(link))
        g.settings = parties.settings_of(uow, link.tenant)
        return page

    return _service().read(query)


def _render(page: PartyPage, template: str, status: int = 200, **context: Any) -> Response:
    nonce = secrets.token_urlsafe(16)
    body = render_template(
        template,
        page=page,
        csrf=csrf_for(page.link),
        token=request.view_args["token"] if request.view_args else "",
        theme=g.settings["theme"],
        nonce=nonce,
        evidence_line=evidence_line,
        **context,
    )
    response = Response(body, status=status, mimetype="text/html")
    ancestors = " ".join(["'self'", *g.settings["embed_origins"]])
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self'; "
        f"style-src 'self' 'nonce-{nonce}'; form-action 'self'; base-uri 'none'; "
        f"frame-ancestors {ancestors}"
    )
    return response


@party.after_request
def _headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the address
    response.headers["Cache-Control"] = "no-store"
    return response


@party.errorhandler(parties.LinkRefusedError)
def _refused(exc: parties.LinkRefusedError) -> Any:
    status = 404 if exc.fields.get("reason") == "unknown" else 410
    return render_template("party/refused.html", message=exc.message), status


@party.errorhandler(ValidationError)
def _invalid(exc: ValidationError) -> Any:
    """A bad query (locale, zone) before any page could be read."""
    return render_template("party/refused.html", message=exc.message), 422


@party.get(f"/{TOKEN}")
def page(token: str) -> Response:
    """The page; opening it stamps the party's notices seen, and it shows them so."""
    found = _load(token)
    now = _service().clock.now()
    if any(n.seen_at is None and n.created_at <= now for n in found.notices):
        _service().write(
            lambda uow: notices.mark_seen(uow.session, found.contract.id, found.role, now)
        )
        found = _load(token)
    return _render(found, "party/page.html", done=DONE.get(request.args.get("done", "")))


@party.post(f"/{TOKEN}/review")
def review(token: str) -> Response:
    """The confirmation step: what would happen, and what money would move."""
    found = _load(token)
    _check_csrf(found.link)
    try:
        action = actions.parse(request.form, found.contract.currency)
        lines = _service().read(
            lambda uow: actions.preview(uow, parties.open_link(uow, token), action, found.fmt)
        )
    except TrancheError as exc:
        return _render(found, "party/page.html", _status(exc), error=exc.message)
    return _render(found, "party/confirm.html", action=action, lines=lines)


@party.post(f"/{TOKEN}/act")
def act(token: str) -> Any:
    found = _load(token)
    _check_csrf(found.link)
    service = _service()
    try:
        action = actions.parse(request.form, found.contract.currency)
        with tenant_clock(service, found.link.tenant):  # a sandbox's parties act on its clock
            service.write(
                lambda uow: actions.run(
                    uow, parties.open_link(uow, token), found.actor, action, service.settings
                )
            )
    except TrancheError as exc:
        return _render(found, "party/page.html", _status(exc), error=exc.message)
    return redirect(url_for("party.page", token=token, done="1"), code=303)


@party.post(f"/{TOKEN}/evidence")
def evidence_file(token: str) -> Any:
    """A file of evidence for the dispute (multipart), within the evidence size limit."""
    service = _service()
    request.max_content_length = service.settings.max_evidence_bytes + 64 * 1024
    found = _load(token)
    _check_csrf(found.link)
    sent = request.files.get("file")
    try:
        if sent is None or not sent.filename:
            raise ValidationError("choose a file to attach", field="file")
        upload = Upload(sent.filename, sent.mimetype, sent.read())
        description = request.form.get("description", "").strip()
        target = request.form.get("target", "")[:40]
        with tenant_clock(service, found.link.tenant):
            service.write(
                lambda uow: actions.add_file(
                    uow,
                    parties.open_link(uow, token),
                    found.actor,
                    target,
                    upload,
                    description,
                    service.settings,
                )
            )
    except TrancheError as exc:
        return _render(found, "party/page.html", _status(exc), error=exc.message)
    return redirect(url_for("party.page", token=token, done="1"), code=303)


def _status(exc: TrancheError) -> int:
    return STATUS_BY_CODE.get(exc.code, 422)


def _seq(contract_id: str) -> int:
    engine = _service().database.engine
    with engine.connect() as connection:
        return int(
            connection.scalar(select(Contract.event_seq).where(Contract.id == contract_id)) or 0
        )


def _contract_of(token: str) -> str:
    return _service().read(lambda uow: parties.open_link(uow, token).contract_id)


@party.get(f"/{TOKEN}/seq")
def seq(token: str) -> Response:
    """The polling fallback: the contract's event counter."""
    return Response(json.dumps({"seq": _seq(_contract_of(token))}), mimetype="application/json")


@party.get(f"/{TOKEN}/stream")
def stream(token: str) -> Response:
    """Server-Sent Events: `change` with the new counter whenever the contract moves.

    Bounded (STREAM_SECONDS): the browser reconnects by itself, and the link is checked
    again each time, so a revoked link stops streaming within that bound.
    """
    contract_id = _contract_of(token)
    seen = request.args.get("seq", "")
    last = int(seen) if seen.isdigit() and len(seen) < 10 else -1
    bound = float(current_app.config.get("PARTY_STREAM_SECONDS", 25))

    def events() -> Iterator[str]:
        nonlocal last
        yield "retry: 1000\n\n"
        ends = time.monotonic() + bound
        while time.monotonic() < ends:
            now = _seq(contract_id)
            if now != last:
                last = now
                yield f"event: change\ndata: {now}\n\n"
            time.sleep(POLL_SECONDS)
        yield ": bye\n\n"

    return Response(
        stream_with_context(events()),
        mimetype="text/event-stream",
        headers={"X-Accel-Buffering": "no"},
    )
