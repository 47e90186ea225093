"""Console pages: sign-in, queue, case, approvals, search, and the staff actions.

Every page needs a signed-in staff member; every POST needs the CSRF token.
A refusal from the domain becomes a message on the page it came from, never a 500.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
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
from arbitration.errors import LoginRefusedError, LoginThrottledError
from arbitration.models import STATUSES, Evidence
from arbitration.search import search as find
from arbitration.staff import all_staff
from engine.domain.errors import NotFoundError, TrancheError, ValidationError
from engine.domain.money import Money
from engine.store import notices
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
from web.console.filters import money_input

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


def _amount_arg(name: str, currency: str | None) -> int | None:
    text = request.args.get(name, "").strip()[:40]
    if not text:
        return None
    if currency is None:
        raise ValidationError("Choose the currency of the amounts at stake.", field="currency")
    try:
        return Money.parse(text, currency).minor
    except TrancheError:
        raise ValidationError(f"{text!r} is not an amount in {currency}", field=name) from None


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
        currency = request.args.get("currency", "").strip().upper()[:3] or None
        return read.QueueFilter(
            status=request.args.get("status", "open") or "open",
            assignee=(g.staff.id if assignee == "me" else assignee) or None,
            min_amount=_amount_arg("min", currency),
            max_amount=_amount_arg("max", currency),
            older_than_days=int(age) if age else None,
            currency=currency,
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
        sla_days=arbitration().settings.review_sla.days,
        currencies=sorted(
            {*arbitration().settings.two_person_thresholds, filters.currency} - {None}
        ),
    )


@console.get("/search")
@login_required
def search() -> Any:
    term = request.args.get("q", "").strip()[:200]
    rows = arbitration().read(lambda u: find(u, term)) if term else []
    if len(rows) == 1:
        return _back(rows[0].id)
    return render_template(
        "console/search.html",
        term=term,
        rows=rows,
        titles=arbitration().read(lambda u: read.contract_titles(u, rows)),
        names=arbitration().read(read.staff_names),
        now=_now(),
        sla_days=arbitration().settings.review_sla.days,
    )


@console.get("/approvals")
@login_required
def approvals() -> Any:
    rows = arbitration().read(read.pending_rulings)
    names = arbitration().read(read.staff_names)
    titles = arbitration().read(lambda u: read.contract_titles(u, [d for _, d in rows]))
    return render_template(
        "console/approvals.html", rows=rows, names=names, titles=titles, now=_now()
    )


@console.get("/audit")
@login_required
def audit_trail() -> Any:
    """The latest staff actions across all cases: who did what, when, from where."""
    rows = arbitration().read(lambda u: audit.trail(u.session))
    names = arbitration().read(read.staff_names)
    return render_template("console/audit.html", rows=rows, names=names, now=_now())


# the case -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RulingForm:
    """What the staff member typed in the ruling form, kept through any refusal."""

    to_provider: str = ""
    to_buyer: str = ""
    rationale: str = ""
    error: str | None = None


def render_case(
    dispute_id: str,
    form: RulingForm | None = None,
    status: int = 200,
    confirm: Any = None,
) -> Any:
    """The case page; `form` refills the ruling form (and shows its error beside it)."""
    try:
        found = arbitration().read(lambda u: read.case(u, dispute_id))
    except NotFoundError:
        abort(404, description=f"There is no dispute {dispute_id!r}.")
    trail = arbitration().read(lambda u: audit.trail(u.session, dispute_id))
    told = arbitration().read(lambda u: notices.of_contract(u.session, found.dispute.contract_id))
    sent_back = found.sent_back
    if form is None and sent_back is not None and found.pending is None:
        cur = found.dispute.currency
        form = RulingForm(
            money_input(sent_back.to_provider, cur),
            money_input(sent_back.to_buyer, cur),
            sent_back.rationale,
        )
    page = render_template(
        "console/case.html",
        case=found,
        d=found.dispute,
        form=form or RulingForm(),
        confirm=confirm,
        diagram=state_diagram(found.policy, found.milestone.state),
        exits=exits(found.policy, found.milestone.state),
        trail=trail,
        notices=told,
        staff_list=arbitration().read(all_staff),
        event_data=read.event_data,
        now=_now(),
        threshold=arbitration().settings.threshold(found.dispute.currency),
    )
    return page, status


@console.get("/disputes/<dispute_id>")
@login_required
def case(dispute_id: str) -> Any:
    return render_case(dispute_id)


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


def form_version() -> int | None:
    """The case version the page showed; a form without one is refused as stale."""
    text = request.form.get("version", "")
    if not text.isdigit():
        raise ValidationError(
            "This form is out of date (it names no case version); reload the page.",
            field="version",
        )
    return int(text)


@console.post("/disputes/<dispute_id>/claim")
@login_required
def claim(dispute_id: str) -> Any:
    owner = request.form.get("take_over_from") or None
    return _attempt(
        lambda: arbitration().claim(
            dispute_id,
            g.staff,
            client_address(),
            expected_version=form_version(),
            take_over_from=owner,
        ),
        "You took over the case." if owner else "The case is yours.",
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
