"""Test mode: a sandbox tenant's test clock and pretend rail (engine.service.sandbox).

Only a test-mode key reaches these routes; a live key gets 403 `test_mode_only`, and
no live tenant has a sandbox to move. Advancing the clock does what the sweep does as
time passes, for this tenant only, in seconds instead of days.
"""

from __future__ import annotations

import json
from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from engine.domain.clock import effective
from engine.domain.sandbox import is_test_tenant
from engine.service import sandbox
from engine.service.uow import UnitOfWork
from engine.store.sandbox import ORDERS
from web.api import auth, present, schemas
from web.api.commands import json_response, run, tranche
from web.api.problems import ProblemError
from web.api.views_rail import booked
from web.sweeping import sweep_due

blp = Blueprint(
    "sandbox", __name__, url_prefix="/v1", description="Test mode: test clock, pretend rail"
)


@blp.before_request
def test_keys_only() -> None:
    if not is_test_tenant(auth.tenant()):
        raise ProblemError(
            "test_mode_only",
            "this is a live API key; test clocks and test helpers take a test-mode key "
            "(tranche apikey create --test)",
        )


@blp.route("/test-clock", methods=["GET"])
@blp.response(200, schemas.ClockOut)
def test_clock() -> Any:
    now = effective(tranche().clock).now()  # the request runs on the test clock, read once
    return json_response(200, {"tenant": auth.tenant(), "now": present.moment(now)})


@blp.route("/test-clock/advance", methods=["POST"])
@blp.arguments(schemas.ClockAdvance())
@blp.response(200, schemas.AdvanceOut)
def advance(body: dict[str, Any]) -> Any:
    """Move the clock forward, then fire all that fell due for this tenant, as the sweep
    would: review periods, refund deadlines, dispute answers, payout holds, funding expiries.

    With an Idempotency-Key a retry does not move the clock twice; every call then does
    what is due as the clock stands, which a retry may safely repeat."""
    tenant = auth.tenant()

    def move(uow: UnitOfWork) -> Any:
        before, after = sandbox.move_clock(uow, tenant, body.get("to"), body.get("by"))
        moved = {"tenant": tenant, "previous": present.moment(before), "now": present.moment(after)}
        return 200, moved, {}

    keyed = {"to": present.moment(body["to"])} if "to" in body else {"by": str(body["by"])}
    moved = run(move, keyed)
    if moved.status_code != 200:
        return moved
    with tranche().reading() as uow:
        now = sandbox.clock(uow, tenant)
    swept = sweep_due(tranche(), current_app.extensions["arbitration"], now, tenant)
    report = json.loads(moved.get_data()) | {
        "now": present.moment(now),
        "timers": [
            {"milestone_id": f.milestone_id, "event": f.event, "outcome": f.outcome}
            for f in swept.fired
        ],
        "disputes": [{"dispute_id": d.dispute_id, "outcome": d.outcome} for d in swept.lapsed],
        "fundings_expired": swept.expired,
        "holds_matured": len(swept.matured),
    }
    replayed = moved.headers.get("Idempotent-Replayed")
    return json_response(200, report, {"Idempotent-Replayed": replayed} if replayed else {})


def _order(order: str) -> Any:
    def ordered(body: dict[str, Any]) -> Any:
        def command(uow: UnitOfWork) -> Any:
            reason = sandbox.order_failure(uow, auth.tenant(), order, body["reason"])
            return 200, {"order": order, "reason": reason}, {}

        return run(command, body)

    ordered.__name__ = order
    ordered.__doc__ = f"The pretend rail fails the next {order.split('_')[-1]} with this reason."
    return ordered


for _order_name in ORDERS:
    blp.route(f"/test-helpers/{_order_name.replace('_', '-')}", methods=["POST"])(
        blp.arguments(schemas.ReasonBody())(
            blp.response(200, schemas.OrderOut)(_order(_order_name))
        )
    )


@blp.route("/test-helpers/chargebacks", methods=["POST"])
@blp.arguments(schemas.PretendChargeback())
@blp.response(201, schemas.ChargebackOut)
def pretend_chargeback(body: dict[str, Any]) -> Any:
    """The pretend card network takes back a confirmed funding (all of it by default)."""
    return booked(
        lambda uow: sandbox.bring_chargeback(
            uow, auth.tenant(), body["funding_id"], body["amount"], body["reason"]
        ),
        body,
    )
