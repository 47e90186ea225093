"""Money at the rail's boundary: fundings, payouts and refunds, chargebacks, party balances.

The integrator's payment rail moves the money; these routes are how it tells Tranche
what moved (engine.service.fundings, payouts, chargebacks). Every POST is a command
like any other: one transaction, replayed under its Idempotency-Key.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask_smorest import Blueprint

from engine.domain.actors import Actor
from engine.service import chargebacks, fundings, payouts, sandbox
from engine.service.fundings import Charge
from engine.service.milestones import view_milestone
from engine.service.uow import UnitOfWork
from web.api import auth, present, schemas
from web.api.commands import json_response, run, tranche
from web.api.problems import ProblemError

blp = Blueprint("rail", __name__, url_prefix="/v1", description="Money at the payment rail")


def fund(
    body: dict[str, Any], milestone_id: str, event: str, actor: Actor, version: int | None
) -> Any:
    """The funding event with the rail: confirm first (a reference, the amount and currency
    charged) or two-phase (`pending`: the rail's confirmation funds it later)."""
    options = {"expected_version": version, "tenant": auth.tenant()}
    if body["pending"]:
        if "amount" in body or "currency" in body:
            raise _invalid("amount", "a pending funding is charged later: confirm it with these")
        seconds = body.get("expires_in")
        expiry = fundings.DEFAULT_EXPIRY if seconds is None else timedelta(seconds=seconds)

        def opening(uow: UnitOfWork) -> Any:
            found = fundings.open_funding(
                uow, milestone_id, event, actor, expiry, body.get("rail_reference"), **options
            )
            return _funded(uow, sandbox.funding_opened(uow, found), actor, 202)

        return run(opening, {"body": body, "if_match": version})
    for name in ("amount", "currency"):
        if body.get(name) is None:
            raise _invalid(name, "say what the rail charged, with its reference")
    charge = Charge(body["rail_reference"], body["amount"], body["currency"])

    def confirmed(uow: UnitOfWork) -> Any:
        found = fundings.fund_confirmed(uow, milestone_id, event, actor, charge, **options)
        return _funded(uow, found, actor, 200)

    return run(confirmed, {"body": body, "if_match": version})


def _funded(uow: UnitOfWork, found: Any, actor: Actor | None, status: int) -> Any:
    view = view_milestone(uow, found.milestone_id, actor, auth.tenant())
    headers = {"Location": f"/v1/fundings/{found.id}", "ETag": f'"{view.version}"'}
    payload = {"funding": present.funding(found), "milestone": present.milestone(view)}
    return status, payload, headers


def answer(
    action: Callable[[UnitOfWork], Any],
    shown: Callable[[Any], dict[str, Any]],
    body: Any = None,
    status: int = 200,
    location: str = "",
) -> Any:
    """Run `action` as a command (once per Idempotency-Key) and answer with what it made."""

    def command(uow: UnitOfWork) -> Any:
        found = action(uow)
        headers = {"Location": f"{location}/{found.id}"} if location else {}
        return status, shown(found), headers

    return run(command, body)


def _read(query: Callable[[UnitOfWork], Any]) -> Any:
    """Answer a GET with what `query` reads, in a read-only unit of work."""
    with tranche().reading() as uow:
        return json_response(200, query(uow))


def _of_milestone(
    milestone_id: str,
    rows: Callable[[UnitOfWork, str], list[Any]],
    shown: Callable[[Any], dict[str, Any]],
) -> Any:
    """A milestone's records (a milestone of the caller's tenant: else 404)."""

    def query(uow: UnitOfWork) -> Any:
        view_milestone(uow, milestone_id, tenant=auth.tenant())  # existence and tenancy
        return {"data": [shown(row) for row in rows(uow, milestone_id)]}

    return _read(query)


def _invalid(field: str, message: str) -> ProblemError:
    return ProblemError("validation", f"{field}: {message}", errors={field: [message]})


@blp.route("/fundings/<string:funding_id>", methods=["GET"])
@blp.response(200, schemas.FundingOut)
def get_funding(funding_id: str) -> Any:
    return _read(lambda uow: present.funding(fundings.get_funding(uow, funding_id, auth.tenant())))


@blp.route("/milestones/<string:milestone_id>/fundings", methods=["GET"])
@blp.response(200, schemas.FundingList)
def milestone_fundings(milestone_id: str) -> Any:
    """The milestone's fundings, oldest first."""
    return _of_milestone(milestone_id, fundings.fundings_of, present.funding)


@blp.route("/fundings/<string:funding_id>/confirm", methods=["POST"])
@blp.arguments(schemas.ChargeBody())
@blp.response(200, schemas.FundingResult)
def confirm_funding(body: dict[str, Any], funding_id: str) -> Any:
    """The rail charged the buyer: the hold posts and the funding event fires, once."""
    charge = Charge(body["rail_reference"], body["amount"], body["currency"])

    def command(uow: UnitOfWork) -> Any:
        found = fundings.confirm_funding(uow, funding_id, charge, auth.tenant())
        return _funded(uow, found, None, 200)

    return run(command, body)


@blp.route("/fundings/<string:funding_id>/fail", methods=["POST"])
@blp.arguments(schemas.ReasonBody())
@blp.response(200, schemas.FundingOut)
def fail_funding(body: dict[str, Any], funding_id: str) -> Any:
    """The charge failed: nothing was held, the milestone is where it was."""
    return answer(
        lambda uow: fundings.fail_funding(uow, funding_id, body["reason"], auth.tenant()),
        present.funding,
        body,
    )


@blp.route("/payouts", methods=["POST"])
@blp.arguments(schemas.PayoutCreate())
@blp.response(201, schemas.PayoutOut)
def create_payout(body: dict[str, Any]) -> Any:
    """Record a payout (to the provider) or refund (to the buyer) the rail is making: never
    more than is available to the party on the contract."""

    return answer(
        lambda uow: sandbox.payout_recorded(
            uow,
            payouts.record_payout(
                uow,
                auth.tenant(),
                body["contract_id"],
                body["party_id"],
                body["amount"],
                body["currency"].upper(),
                body["rail_reference"],
            ),
        ),
        present.payout,
        body,
        201,
        "/v1/payouts",
    )


@blp.route("/payouts/<string:payout_id>", methods=["GET"])
@blp.response(200, schemas.PayoutOut)
def get_payout(payout_id: str) -> Any:
    return _read(lambda uow: present.payout(payouts.get_payout(uow, payout_id, auth.tenant())))


@blp.route("/payouts/<string:payout_id>/paid", methods=["POST"])
@blp.response(200, schemas.PayoutOut)
def payout_paid(payout_id: str) -> Any:
    """The rail paid it."""
    return answer(
        lambda uow: payouts.settle_payout(uow, payout_id, True, tenant=auth.tenant()),
        present.payout,
    )


@blp.route("/payouts/<string:payout_id>/failed", methods=["POST"])
@blp.arguments(schemas.ReasonBody())
@blp.response(200, schemas.PayoutOut)
def payout_failed(body: dict[str, Any], payout_id: str) -> Any:
    """The rail could not pay it: the amount is available again."""
    return answer(
        lambda uow: payouts.settle_payout(uow, payout_id, False, body["reason"], auth.tenant()),
        present.payout,
        body,
    )


@blp.route("/payouts/<string:payout_id>/reversed", methods=["POST"])
@blp.arguments(schemas.ReversalBody())
@blp.response(200, schemas.PayoutOut)
def payout_reversed(body: dict[str, Any], payout_id: str) -> Any:
    """The rail took (part of) it back from the party: that much is owed to them again."""
    return answer(
        lambda uow: payouts.reverse_payout(uow, payout_id, body["reversed_total"], auth.tenant()),
        present.payout,
        body,
    )


@blp.route("/chargebacks", methods=["POST"])
@blp.arguments(schemas.ChargebackCreate())
@blp.response(201, schemas.ChargebackOut)
def create_chargeback(body: dict[str, Any]) -> Any:
    """The rail took money back from a funding: booked in the policy's order."""

    return booked(
        lambda uow: chargebacks.report_chargeback(
            uow,
            auth.tenant(),
            body["funding_reference"],
            body["rail_reference"],
            body["amount"],
            body["currency"],
            body["reason"],
            body["respond_by"],
        ),
        body | {"respond_by": present.moment(body["respond_by"])},
    )


def booked(action: Callable[[UnitOfWork], Any], body: Any) -> Any:
    """Answer 201 with the chargeback `action` booked (once per Idempotency-Key)."""
    return answer(action, present.chargeback, body, 201, "/v1/chargebacks")


@blp.route("/chargebacks/<string:chargeback_id>", methods=["GET"])
@blp.response(200, schemas.ChargebackOut)
def get_chargeback(chargeback_id: str) -> Any:
    return _read(
        lambda uow: present.chargeback(
            chargebacks.get_chargeback(uow, chargeback_id, auth.tenant())
        )
    )


@blp.route("/milestones/<string:milestone_id>/chargebacks", methods=["GET"])
@blp.response(200, schemas.ChargebackList)
def milestone_chargebacks(milestone_id: str) -> Any:
    """What the card network took back from the milestone's fundings, oldest first."""
    return _of_milestone(milestone_id, chargebacks.chargebacks_of, present.chargeback)


def _closing(won: bool) -> Any:
    def close(chargeback_id: str) -> Any:
        return answer(
            lambda uow: chargebacks.close_chargeback(uow, chargeback_id, won, auth.tenant()),
            present.chargeback,
        )

    close.__name__ = "chargeback_" + ("won" if won else "lost")
    close.__doc__ = (
        "The network decided for the platform: what the chargeback took is given back."
        if won
        else "The network decided for the buyer: the booking stands."
    )
    return close


for _won in (True, False):
    _view = blp.response(200, schemas.ChargebackOut)(_closing(_won))
    blp.route(f"/chargebacks/<string:chargeback_id>/{'won' if _won else 'lost'}", methods=["POST"])(
        _view
    )


@blp.route("/parties/<string:party_id>/balances", methods=["GET"])
@blp.response(200, schemas.BalanceList)
def party_balances(party_id: str) -> Any:
    """What Tranche owes the party, per currency, over all their contracts."""
    return _read(
        lambda uow: {
            "data": [b.as_dict() for b in payouts.balances_of(uow, auth.tenant(), party_id)]
        }
    )


@blp.route("/payables", methods=["GET"])
@blp.arguments(schemas.CurrencyArgs(), location="query")
@blp.response(200, schemas.BalanceList)
def payables(args: dict[str, Any]) -> Any:
    """Every party with money available to pay out now (at most 1,000, largest first)."""
    currency = args.get("currency")
    currency = currency.upper() if currency else None
    return _read(
        lambda uow: {"data": [b.as_dict() for b in payouts.due_now(uow, auth.tenant(), currency)]}
    )
