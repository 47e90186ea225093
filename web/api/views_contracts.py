"""Contracts, their milestones, direct payments and payment requests."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from sqlalchemy import and_, or_, select

from engine.domain.summary import Summary
from engine.service import contracts as commands
from engine.service.milestones import view_milestone
from engine.service.uow import UnitOfWork
from engine.store.models import Contract, Milestone, PaymentRequest
from engine.store.summaries import contract_summary
from web.api import auth, present, schemas
from web.api.commands import etag, json_response, run, tranche
from web.api.problems import ProblemError

blp = Blueprint("contracts", __name__, url_prefix="/v1", description="Contracts and payments")
# Arguments take schema instances, built once: given a class, webargs builds it on every request.


def _contract_body(uow: UnitOfWork, contract: Contract) -> dict[str, Any]:
    return present.contract(contract, contract_summary(uow.session, contract))


@blp.route("/contracts", methods=["POST"])
@blp.arguments(schemas.ContractCreate())
@blp.response(201, schemas.ContractCreated)
def create_contract(body: dict[str, Any]) -> Any:
    """Create a contract between a buyer and a provider, on a policy (default fixed-price).

    `milestones`, if given, are proposed with it in the same transaction: a contract is
    never left half set up because its third milestone was refused.
    """
    actor = auth.actor(required=False)
    fields = dict(body)
    milestones = fields.pop("milestones")

    def command(uow: UnitOfWork) -> Any:
        contract, added = commands.create_contract_with_milestones(
            uow, milestones, tenant=auth.tenant(), **fields
        )
        # Nothing can have been posted to a contract created in this transaction.
        body_out = present.contract(
            contract, Summary.opening(contract.currency, contract.agreed_amount)
        )
        body_out["milestones"] = [
            present.milestone(view_milestone(uow, m.id, actor, auth.tenant())) for m in added
        ]
        return 201, body_out, {"Location": f"/v1/contracts/{contract.id}"}

    return run(command, body)


@blp.route("/contracts", methods=["GET"])
@blp.arguments(schemas.PageArgs(), location="query")
@blp.response(200, schemas.ContractPage)
def list_contracts(args: dict[str, Any]) -> Any:
    """The tenant's contracts, oldest first; pass `next_cursor` as `after` for the next page."""
    with tranche().reading() as uow:
        query = select(Contract).where(Contract.tenant == auth.tenant())
        if "after" in args:
            last = commands.get_contract(uow, args["after"], auth.tenant())
            query = query.where(
                or_(
                    Contract.created_at > last.created_at,
                    and_(Contract.created_at == last.created_at, Contract.id > last.id),
                )
            )
        rows = list(
            uow.session.scalars(
                query.order_by(Contract.created_at, Contract.id).limit(args["limit"] + 1)
            )
        )
        page = rows[: args["limit"]]
        data = [_contract_body(uow, row) for row in page]
        more = len(rows) > args["limit"]
        return json_response(200, {"data": data, "next_cursor": page[-1].id if more else None})


@blp.route("/contracts/<string:contract_id>", methods=["GET"])
@blp.response(200, schemas.ContractOut)
def get_contract(contract_id: str) -> Any:
    """A contract with its summary: agreed, funded, in escrow, paid to date, remaining."""
    with tranche().reading() as uow:
        contract = commands.get_contract(uow, contract_id, auth.tenant())
        return json_response(200, _contract_body(uow, contract))


@blp.route("/contracts/<string:contract_id>/milestones", methods=["POST"])
@blp.arguments(schemas.MilestoneCreate())
@blp.response(201, schemas.MilestoneOut)
def add_milestone(body: dict[str, Any], contract_id: str) -> Any:
    """Add a proposed milestone; milestones may not add up to more than the agreed amount."""
    actor = auth.actor(required=False)

    def command(uow: UnitOfWork) -> Any:
        row = commands.add_milestone(uow, contract_id, actor=actor, tenant=auth.tenant(), **body)
        view = view_milestone(uow, row.id, actor, auth.tenant())
        headers = {"ETag": etag(view.version), "Location": f"/v1/milestones/{row.id}"}
        return 201, present.milestone(view), headers

    return run(command, body)


@blp.route("/contracts/<string:contract_id>/milestones", methods=["GET"])
@blp.response(200, schemas.MilestoneList)
def list_milestones(contract_id: str) -> Any:
    """The contract's milestones in order, with what the Tranche-Actor may do on each."""
    actor = auth.actor(required=False)
    with tranche().reading() as uow:
        commands.get_contract(uow, contract_id, auth.tenant())
        ids = uow.session.scalars(
            select(Milestone.id)
            .where(Milestone.contract_id == contract_id)
            .order_by(Milestone.position)
        )
        data = [present.milestone(view_milestone(uow, mid, actor, auth.tenant())) for mid in ids]
        return json_response(200, {"data": data})


@blp.route("/contracts/<string:contract_id>/payments", methods=["POST"])
@blp.arguments(schemas.PaymentBody())
@blp.response(201, schemas.PaymentOut)
def pay_directly(body: dict[str, Any], contract_id: str) -> Any:
    """The buyer pays the provider directly, outside the milestones (a bonus, an advance)."""
    actor = auth.actor()

    def command(uow: UnitOfWork) -> Any:
        commands.pay_directly(uow, contract_id, actor=actor, tenant=auth.tenant(), **body)
        contract = commands.get_contract(uow, contract_id, auth.tenant())
        payload = {
            "contract_id": contract.id,
            "amount": body["amount"],
            "currency": contract.currency,
            "note": body["note"],
            "summary": present.summary(contract_summary(uow.session, contract)),
        }
        return 201, payload, {}

    return run(command, body)


@blp.route("/contracts/<string:contract_id>/payment-requests", methods=["POST"])
@blp.arguments(schemas.PaymentBody())
@blp.response(201, schemas.PaymentRequestOut)
def request_payment(body: dict[str, Any], contract_id: str) -> Any:
    """The provider asks the buyer for a direct payment."""
    actor = auth.actor()

    def command(uow: UnitOfWork) -> Any:
        row = commands.request_payment(uow, contract_id, actor=actor, tenant=auth.tenant(), **body)
        contract = commands.get_contract(uow, contract_id)
        return 201, present.payment_request(row, contract.currency), {}

    return run(command, body)


def _decide(request_id: str, pay: bool) -> Any:
    actor = auth.actor()

    def command(uow: UnitOfWork) -> Any:
        _visible_request(uow, request_id)
        row = commands.decide_payment_request(
            uow, request_id, actor=actor, pay=pay, tenant=auth.tenant()
        )
        contract = commands.get_contract(uow, row.contract_id)
        return 200, present.payment_request(row, contract.currency), {}

    return run(command, {"pay": pay})


def _visible_request(uow: UnitOfWork, request_id: str) -> PaymentRequest:
    row = uow.session.get(PaymentRequest, request_id)
    contract = uow.session.get(Contract, row.contract_id) if row else None
    if row is None or contract is None or contract.tenant != auth.tenant():
        raise ProblemError("not_found", f"no payment request {request_id!r}")
    return row


@blp.route("/payment-requests/<string:request_id>/pay", methods=["POST"])
@blp.response(200, schemas.PaymentRequestOut)
def pay_request(request_id: str) -> Any:
    """The buyer pays an open payment request."""
    return _decide(request_id, True)


@blp.route("/payment-requests/<string:request_id>/decline", methods=["POST"])
@blp.response(200, schemas.PaymentRequestOut)
def decline_request(request_id: str) -> Any:
    """The buyer declines an open payment request."""
    return _decide(request_id, False)
