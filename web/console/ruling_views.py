"""The ruling and its approval: type, review the postings, confirm what was shown.

"Review" shows the exact postings of the split (per party, the platform fee, the
net) as the engine would make them (`arbitration.preview`); "Confirm" commits the
split signed into that preview (`web.console.confirm`), on the case version the
preview showed. Any refusal re-renders the case page with the form as it was typed
and the reason beside it, in major units. Works without JavaScript: the quick
splits are submit buttons of the same form.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from flask import abort, flash, g, redirect, request, url_for

from arbitration.changes import check_version
from arbitration.disputes import escrow_of, load
from arbitration.models import Ruling
from arbitration.preview import Preview, preview_ruling
from engine.domain.errors import ConflictError, TrancheError, ValidationError
from engine.domain.money import Money
from engine.service.uow import UnitOfWork
from web.console import confirm
from web.console.auth import arbitration, client_address, login_required, senior_required
from web.console.filters import money_input
from web.console.messages import staff_message
from web.console.views import RulingForm, console, form_version, render_case

RULE, APPROVE = "rule", "approve"
SHARES = {"100": 100, "50": 50, "0": 0}


@dataclass(frozen=True, slots=True)
class Confirmation:
    """A preview on the case page, waiting for its "Confirm" (or "Change")."""

    kind: str
    preview: Preview
    token: str
    rationale: str = ""
    ruling_id: str | None = None


def _typed() -> RulingForm:
    return RulingForm(
        request.form.get("to_provider", "").strip()[:40],
        request.form.get("to_buyer", "").strip()[:40],
        request.form.get("rationale", "")[:20_000],
    )


def _split(form: RulingForm, currency: str, escrow: int) -> tuple[int, int]:
    """The split in minor units: a quick share, or a blank side taken as the escrow's rest."""
    share = request.form.get("share")
    if share in SHARES:
        to_provider = escrow * SHARES[share] // 100
        return to_provider, escrow - to_provider
    if not form.to_provider and not form.to_buyer:
        raise ValidationError("Enter the amount for the provider, the buyer, or both.")
    provider = Money.parse(form.to_provider, currency).minor if form.to_provider else None
    buyer = Money.parse(form.to_buyer, currency).minor if form.to_buyer else None
    if provider is None:
        provider = escrow - (buyer or 0)
    if buyer is None:
        buyer = escrow - provider
    return provider, buyer


def _refused(dispute_id: str, exc: TrancheError, form: RulingForm) -> Any:
    currency = arbitration().read(lambda u: load(u, dispute_id).currency)
    status = 409 if isinstance(exc, ConflictError) else 422
    return render_case(dispute_id, replace(form, error=staff_message(exc, currency)), status)


def _case_now(u: UnitOfWork, dispute_id: str, version: int | None) -> tuple[str, int]:
    dispute = load(u, dispute_id)
    check_version(u, dispute, version)
    return dispute.currency, escrow_of(u, dispute)


@console.post("/disputes/<dispute_id>/rule/preview")
@login_required
def rule_preview(dispute_id: str) -> Any:
    form = _typed()
    if request.form.get("edit"):
        return render_case(dispute_id, form)
    try:
        version = form_version()
        currency, escrow = arbitration().read(lambda u: _case_now(u, dispute_id, version))
        to_provider, to_buyer = _split(form, currency, escrow)
        form = replace(
            form,
            to_provider=money_input(to_provider, currency),
            to_buyer=money_input(to_buyer, currency),
        )
        if not form.rationale.strip():
            raise ValidationError("Write the rationale: both parties will read it.")
        settings = arbitration().settings
        preview = arbitration().read(
            lambda u: preview_ruling(u, dispute_id, to_provider, to_buyer, settings)
        )
    except TrancheError as exc:
        return _refused(dispute_id, exc, form)
    token = confirm.sign(
        RULE,
        g.staff.id,
        dispute=dispute_id,
        version=preview.version,
        to_provider=to_provider,
        to_buyer=to_buyer,
        rationale=form.rationale,
    )
    return render_case(dispute_id, form, confirm=Confirmation(RULE, preview, token, form.rationale))


@console.post("/disputes/<dispute_id>/rule")
@login_required
def rule(dispute_id: str) -> Any:
    form = RulingForm()
    try:
        signed = confirm.unsign(request.form.get("token", ""), RULE, g.staff.id)
        if signed["dispute"] != dispute_id:
            raise ValidationError("This confirmation belongs to another case.", field="token")
        currency = arbitration().read(lambda u: load(u, dispute_id).currency)
        form = RulingForm(
            money_input(signed["to_provider"], currency),
            money_input(signed["to_buyer"], currency),
            signed["rationale"],
        )
        ruling = arbitration().rule(
            dispute_id,
            g.staff,
            signed["to_provider"],
            signed["to_buyer"],
            signed["rationale"],
            client_address(),
            expected_version=signed["version"],
        )
    except TrancheError as exc:
        return _refused(dispute_id, exc, form)
    if ruling.status == "pending":
        flash("The ruling awaits a senior's approval (two-person rule).", "ok")
    else:
        flash("Ruling recorded; the money has moved.", "ok")
    return redirect(url_for("console.case", dispute_id=dispute_id))


def _ruling(ruling_id: str) -> Ruling:
    found = arbitration().read(lambda u: u.session.get(Ruling, ruling_id))
    if found is None:
        abort(404, description=f"There is no ruling {ruling_id!r}.")
    return found


@console.post("/rulings/<ruling_id>/approve/preview")
@senior_required
def approve_preview(ruling_id: str) -> Any:
    ruling = _ruling(ruling_id)
    try:
        version = form_version()
        settings = arbitration().settings

        def read(u: UnitOfWork) -> Preview:
            check_version(u, load(u, ruling.dispute_id), version)
            return preview_ruling(
                u, ruling.dispute_id, ruling.to_provider, ruling.to_buyer, settings
            )

        preview = arbitration().read(read)
    except TrancheError as exc:
        return _refused(ruling.dispute_id, exc, RulingForm())
    token = confirm.sign(
        APPROVE,
        g.staff.id,
        ruling=ruling.id,
        version=preview.version,
        to_provider=ruling.to_provider,
        to_buyer=ruling.to_buyer,
    )
    shown = Confirmation(APPROVE, preview, token, ruling.rationale, ruling.id)
    return render_case(ruling.dispute_id, confirm=shown)


@console.post("/rulings/<ruling_id>/approve")
@senior_required
def approve(ruling_id: str) -> Any:
    ruling = _ruling(ruling_id)
    try:
        signed = confirm.unsign(request.form.get("token", ""), APPROVE, g.staff.id)
        shown = (signed["ruling"], signed["to_provider"], signed["to_buyer"])
        if shown != (ruling.id, ruling.to_provider, ruling.to_buyer):
            raise ValidationError("This confirmation belongs to another ruling.", field="token")
        arbitration().approve(
            ruling_id, g.staff, client_address(), expected_version=signed["version"]
        )
    except TrancheError as exc:
        return _refused(ruling.dispute_id, exc, RulingForm())
    flash("Ruling approved; the money has moved.", "ok")
    return redirect(url_for("console.case", dispute_id=ruling.dispute_id))


@console.post("/rulings/<ruling_id>/decline")
@senior_required
def decline(ruling_id: str) -> Any:
    ruling = _ruling(ruling_id)
    try:
        arbitration().decline(
            ruling_id,
            g.staff,
            request.form.get("note", ""),
            client_address(),
            expected_version=form_version(),
        )
    except TrancheError as exc:
        return _refused(ruling.dispute_id, exc, RulingForm())
    flash("Ruling sent back to its author.", "ok")
    return redirect(url_for("console.case", dispute_id=ruling.dispute_id))
