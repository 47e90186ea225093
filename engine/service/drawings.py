"""A published policy's drawing, and a milestone's with its current state marked.

`engine.domain.policy.diagram.render` draws; these read what to draw from the database
(GET /v1/policies/{name}/{version}/diagram, /v1/milestones/{id}/diagram, a case page).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.domain.policy.diagram import render
from engine.service.milestones import view_milestone
from engine.service.uow import UnitOfWork
from engine.store.policy_store import get_policy, latest_version


def policy_diagram(
    session: Session,
    name: str,
    version: int | None = None,
    format: str = "svg",
    current_state: str | None = None,
) -> bytes:
    """A published version's drawing (the latest when `version` is None); NotFoundError if none."""
    chosen = get_policy(session, name, version or latest_version(session, name))
    return render(chosen, current_state=current_state, format=format)


def milestone_diagram(
    uow: UnitOfWork, milestone_id: str, format: str = "svg", tenant: str | None = None
) -> bytes:
    """The drawing of a milestone's own policy version, its current state marked."""
    view = view_milestone(uow, milestone_id, tenant=tenant)
    chosen = get_policy(uow.session, view.policy_name, view.policy_version)
    return render(chosen, current_state=view.state, format=format)
