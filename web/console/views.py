"""Console pages: sign-in, queue, case, approvals, search, and the staff actions.

Every page needs a signed-in staff member; every POST needs the CSRF token.
A refusal from the domain becomes a message on the page it came from, never a 500.
"""

from __future__ import annotations

import io
import math
import re
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.exceptions import HTTPException

from arbitration import audit
from arbitration import views as read
from arbitration.disputes import load
from arbitration.errors import LoginRefusedError, LoginThrottledError
from arbitration.models import STATUSES, Evidence
from arbitration.staff import all_staff
from engine.domain.errors import NotFoundError, TrancheError, ValidationError
from engine.domain.money import Money
from web.api.body import has_forbidden_text
from web.console.auth import (
    arbitration,
    check_csrf,
    client_address,
    csrf_token,
    load_staff,
    login_required,
    safe_next,
    senior_required,
    sign_in,
    sign_out,
)
from web.console.diagram import exits, state_diagram

console = Blueprint("console", __name__, template_folder="templates", static_folder="static")
PAGE_SIZE = 50
AGES = (1, 3, 7, 14, 30)


@console.before_request
def _before() -> None:
    sent = [*(request.view_args or {}).items(), *request.args.items(multi=True)]
    for name, value in [*sent, *request.form.items(multi=True)]:
        if isinstance(value, str) and has_forbidden_text(value):
            abort(422, description=f"The field {name!r} contains a NUL character.")
    load_staff()
    check_csrf()


@console.app_context_processor
def _globals() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "statuses": STATUSES}


@console.after_request
def _headers(response: Response) -> Response:
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'",
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


@console.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    return render_template("console/error.html", error=exc), exc.code or 500


def _now() -> Any:
    return arbitration().clock.now()


def _back(dispute_id: str) -> Any:
    return redirect(url_for("console.case", dispute_id=dispute_id))


def _attempt(action: Any, success: str, dispute_id: str) -> Any:
    """Run a staff action; show its refusal as a message on the case page."""
    try:
        action()
    except TrancheError as exc:
        flash(exc.message, "error")
    else:
        flash(success, "ok")
    return _back(dispute_id)


# sign-in ------------------------------------------------------------------------------
@console.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """One answer for any email: a throttled one gets the same 429 whether it is staff's or
    nobody's, and a throttle is per email typed and per client address."""
    if request.method == "GET":
        return render_template("console/login.html", error=None)
    try:
        staff = arbitration().login(
            request.form.get("email", ""), request.form.get("password", ""), client_address()
        )
    except LoginThrottledError as exc:
        retry_after = datetime.fromisoformat(exc.fields["retry_after"]) - _now()
        seconds = max(1, math.ceil(retry_after.total_seconds()))
        error = "Too many failed attempts. Try again later."
        page = render_template("console/login.html", error=error)
        return page, 429, {"Retry-After": str(seconds)}
    except LoginRefusedError:
        return render_template("console/login.html", error="Wrong email or password."), 401
    sign_in(staff)
    return redirect(safe_next(request.args.get("next")))


@console.post("/logout")
@login_required
def logout() -> Any:
    sign_out()
    flash("You are signed out.", "ok")
    return redirect(url_for("console.login"))


# queue and search ---------------------------------------------------------------------
PARAMS = {"min_amount": "min", "max_amount": "max", "older_than_days": "age"}
"""The queue's query parameters, by the filter field each sets."""
DAYS = re.compile("[0-9]{1,5}")


def _amount_arg(name: str) -> int | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return Money.parse(text, "USD").minor  # two decimals, the common case
    except TrancheError:
        raise ValidationError(f"{text[:40]!r} is not an amount", field=name) from None


def _filters() -> read.QueueFilter:
    """The queue's filters from the query; a bad one is a 400 page naming its parameter."""
    try:
        assignee = request.args.get("assignee", "")
        if len(assignee) > 40:  # a staff id's column
            raise ValidationError("not a staff member", field="assignee")
        age = request.args.get("age", "").strip()
        if age and DAYS.fullmatch(age) is None:
            raise ValidationError("a whole number of days", field="age")
        after = request.args.get("after") or None
        if after is not None:
            read.decode_cursor(after)
        return read.QueueFilter(
            status=request.args.get("status", "open") or "open",
            assignee=(g.staff.id if assignee == "me" else assignee) or None,
            min_amount=_amount_arg("min"),
            max_amount=_amount_arg("max"),
            older_than_days=int(age) if age else None,
        )
    except ValidationError as exc:
        field = str(exc.fields.get("field", "?"))
        abort(400, description=f"{PARAMS.get(field, field)!r}: {exc.message}")


@console.get("/")
@login_required
def queue() -> Any:
    filters = _filters()
    page = arbitration().read(
        lambda u: read.queue(u, filters, request.args.get("after") or None, PAGE_SIZE)
    )
    args = {k: v for k, v in request.args.items() if k != "after"}
    return render_template(
        "console/queue.html",
        page=page,
        filters=filters,
        args=args,
        ages=AGES,
        staff_list=arbitration().read(all_staff),
        now=_now(),
    )


@console.get("/search")
@login_required
def search() -> Any:
    term = request.args.get("q", "").strip()[:200]
    rows = arbitration().read(lambda u: read.search(u, term)) if term else []
    if len(rows) == 1:
        return _back(rows[0].id)
    return render_template("console/search.html", term=term, rows=rows, now=_now())


@console.get("/approvals")
@login_required
def approvals() -> Any:
    rows = arbitration().read(read.pending_rulings)
    names = arbitration().read(read.staff_names)
    return render_template("console/approvals.html", rows=rows, names=names, now=_now())


# the case -----------------------------------------------------------------------------
@console.get("/disputes/<dispute_id>")
@login_required
def case(dispute_id: str) -> Any:
    try:
        found = arbitration().read(lambda u: read.case(u, dispute_id))
    except NotFoundError:
        abort(404, description=f"There is no dispute {dispute_id!r}.")
    trail = arbitration().read(lambda u: read_trail(u, dispute_id))
    return render_template(
        "console/case.html",
        case=found,
        d=found.dispute,
        diagram=state_diagram(found.policy, found.milestone.state),
        exits=exits(found.policy, found.milestone.state),
        trail=trail,
        staff_list=arbitration().read(all_staff),
        event_data=read.event_data,
        now=_now(),
        threshold=arbitration().settings.two_person_threshold,
    )


def read_trail(uow: Any, dispute_id: str) -> list[Any]:
    return audit.trail(uow.session, dispute_id)


@console.get("/evidence/<int(max=2147483647):evidence_id>/file")
@login_required
def evidence_file(evidence_id: int) -> Any:
    row = arbitration().read(lambda u: u.session.get(Evidence, evidence_id))
    if row is None or row.sha256 is None:
        abort(404, description="No such evidence file.")
    try:
        data = arbitration().store.read(row.sha256)
    except NotFoundError:
        abort(404, description="The file is missing from the evidence store.")
    response = send_file(
        io.BytesIO(data),
        mimetype=row.content_type,
        as_attachment=row.content_type not in ("image/png", "image/jpeg"),
        download_name=row.filename or row.sha256,
        etag=row.sha256,
    )
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


@console.post("/disputes/<dispute_id>/claim")
@login_required
def claim(dispute_id: str) -> Any:
    return _attempt(
        lambda: arbitration().claim(dispute_id, g.staff, client_address()),
        "The case is yours.",
        dispute_id,
    )


@console.post("/disputes/<dispute_id>/assign")
@senior_required
def assign(dispute_id: str) -> Any:
    assignee = request.form.get("assignee") or None
    return _attempt(
        lambda: arbitration().assign(dispute_id, g.staff, assignee, client_address()),
        "Assignment changed.",
        dispute_id,
    )


@console.post("/disputes/<dispute_id>/note")
@login_required
def note(dispute_id: str) -> Any:
    return _attempt(
        lambda: arbitration().note(
            dispute_id, g.staff, request.form.get("body", ""), client_address()
        ),
        "Note added (staff only).",
        dispute_id,
    )


@console.post("/disputes/<dispute_id>/rule")
@login_required
def rule(dispute_id: str) -> Any:
    def act() -> None:
        currency = arbitration().read(lambda u: load(u, dispute_id).currency)  # never the form's
        to_provider = Money.parse(request.form.get("to_provider", ""), currency).minor
        to_buyer = Money.parse(request.form.get("to_buyer", ""), currency).minor
        ruling = arbitration().rule(
            dispute_id,
            g.staff,
            to_provider,
            to_buyer,
            request.form.get("rationale", ""),
            client_address(),
        )
        if ruling.status == "pending":
            flash("The ruling awaits a senior's approval (two-person rule).", "ok")

    return _attempt(act, "Ruling recorded.", dispute_id)


@console.post("/rulings/<ruling_id>/approve")
@senior_required
def approve(ruling_id: str) -> Any:
    dispute_id = request.form.get("dispute_id", "")
    return _attempt(
        lambda: arbitration().approve(ruling_id, g.staff, client_address()),
        "Ruling approved; the money has moved.",
        dispute_id,
    )


@console.post("/rulings/<ruling_id>/decline")
@senior_required
def decline(ruling_id: str) -> Any:
    dispute_id = request.form.get("dispute_id", "")
    return _attempt(
        lambda: arbitration().decline(
            ruling_id, g.staff, request.form.get("note", ""), client_address()
        ),
        "Ruling sent back to review.",
        dispute_id,
    )
