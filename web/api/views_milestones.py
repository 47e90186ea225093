"""Milestones: read one, fire any event of its policy through one route, read its history."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_smorest import Blueprint

from arbitration.disputes import open_dispute
from engine.domain.decision import EventArgs
from engine.domain.policy.diagram import MEDIA_TYPES
from engine.service.drawings import milestone_diagram
from engine.service.milestones import fire_event, history, view_milestone
from engine.service.uow import UnitOfWork
from web.api import auth, present, schemas, views_rail
from web.api.commands import etag, expected_version, json_response, run, tranche
from web.api.views_disputes import settings

NO_REASON = "(no reason given)"
blp = Blueprint("milestones", __name__, url_prefix="/v1", description="Milestones and events")
# Arguments take schema instances, built once: given a class, webargs builds it on every request.


@blp.route("/milestones/<string:milestone_id>", methods=["GET"])
@blp.response(200, schemas.MilestoneOut, headers={"ETag": {"schema": {"type": "string"}}})
def get_milestone(milestone_id: str) -> Any:
    """State, amounts, policy, version (also the ETag) and the Tranche-Actor's allowed events."""
    actor = auth.actor(required=False)
    with tranche().reading() as uow:
        view = view_milestone(uow, milestone_id, actor, auth.tenant())
        return json_response(200, present.milestone(view), {"ETag": etag(view.version)})


@blp.route("/milestones/<string:milestone_id>/events/<string:event>", methods=["POST"])
@blp.arguments(schemas.EventBody(), required=False)
@blp.response(200, schemas.MilestoneOut, headers={"ETag": {"schema": {"type": "string"}}})
def fire(body: dict[str, Any], milestone_id: str, event: str) -> Any:
    """Fire one event of the milestone's policy (fund, submit, approve, release...).

    A funding event may name the rail's charge (`rail_reference`, `amount`, `currency`:
    confirmed first), or open a funding the rail confirms later (`pending`: 202, with
    the funding). The policy decides whether the Tranche-Actor may fire it now; a refusal lists
    the events they may fire instead. Send `If-Match` with the ETag you read to
    refuse the command (412) if the milestone changed meanwhile.
    """
    actor = auth.actor()
    version = expected_version()
    if body.get("pending") or "rail_reference" in body:
        return views_rail.fund(body, milestone_id, event, actor, version)
    args = EventArgs(amount=body.get("amount"), note=body.get("note", ""))

    def command(uow: UnitOfWork) -> Any:
        headers: dict[str, str] = {}
        if event == "dispute":  # a dispute is a case too: its rows commit with the transition
            opened = open_dispute(
                uow,
                milestone_id,
                actor,
                args.note.strip() or NO_REASON,
                settings(),
                expected_version=version,
                tenant=auth.tenant(),
            )
            headers["Location"] = f"/v1/disputes/{opened.id}"
        else:
            fire_event(
                uow,
                milestone_id,
                event,
                actor,
                args,
                expected_version=version,
                tenant=auth.tenant(),
            )
        view = view_milestone(uow, milestone_id, actor, auth.tenant())
        return 200, present.milestone(view), {"ETag": etag(view.version), **headers}

    return run(command, {"body": body, "if_match": version})


@blp.route("/milestones/<string:milestone_id>/history", methods=["GET"])
@blp.response(200, schemas.EventList)
def milestone_history(milestone_id: str) -> Any:
    """The milestone's events, oldest first (each hash-chained to the one before)."""
    with tranche().reading() as uow:
        events = history(uow, milestone_id, auth.tenant())
        return json_response(200, {"data": [present.event(e) for e in events]})


DRAWING = {"content": {t: {"schema": {"type": "string"}} for t in MEDIA_TYPES.values()}}


@blp.route("/milestones/<string:milestone_id>/diagram", methods=["GET"])
@blp.arguments(schemas.DiagramArgs(), location="query")
@blp.response(200, description="the drawing")
@blp.doc(responses={"200": DRAWING})
def milestone_drawing(args: dict[str, Any], milestone_id: str) -> Any:
    """The milestone's policy version drawn, its current state marked."""
    with tranche().reading() as uow:
        body = milestone_diagram(uow, milestone_id, args["format"], auth.tenant())
    return Response(body, 200, mimetype=MEDIA_TYPES[args["format"]])
