"""Over HTTP: withdrawing a dispute closes its case, so no deadline can grant its claim later."""

from __future__ import annotations

from datetime import timedelta

from arb_helpers import arbitration_for
from sqlalchemy import select

from api.helpers import BUYER, PROVIDER
from engine.domain.decision import UNDER_REVIEW, WITHDRAWN
from engine.service.uow import UnitOfWork
from engine.store.models import Dispute


def _cases(database, milestone_id: str) -> dict[str, str]:
    with UnitOfWork(database) as uow:
        rows = uow.session.execute(
            select(Dispute.id, Dispute.status).where(Dispute.milestone_id == milestone_id)
        ).all()
        return dict(rows)


def test_a_withdrawn_dispute_never_refunds_the_buyer_after_delivery(app, client, clock, tmp_path):
    """fund, submit, dispute, withdraw over HTTP; a second dispute is answered; the sweep
    eight days on must not grant the first, withdrawn claim."""
    contract = client.contract()
    milestone = client.milestone(contract["id"])
    mid = milestone["id"]
    for event, actor in [("fund", BUYER), ("submit", PROVIDER)]:
        assert client.fire(mid, event, actor).status_code == 200
    first = client.fire(mid, "dispute", BUYER, body={"note": "not what we agreed"})
    assert first.status_code == 200
    withdrawn = client.fire(mid, "withdraw", BUYER)
    assert withdrawn.status_code == 200
    assert withdrawn.json["state"] == "submitted"
    database = app.extensions["tranche"].database
    (first_case,) = _cases(database, mid)
    assert _cases(database, mid)[first_case] == WITHDRAWN
    second = client.fire(mid, "dispute", BUYER, body={"note": "still wrong"})
    assert second.status_code == 200
    dispute_id = second.headers["Location"].rsplit("/", 1)[1]
    answer = client.post(
        f"/v1/disputes/{dispute_id}/statements", {"body": "it is right"}, actor=PROVIDER
    )
    assert answer.status_code == 201, answer.json
    clock.advance(timedelta(days=8))
    arbitration_for(app.extensions["tranche"], tmp_path).sweep()
    after = client.get(f"/v1/milestones/{mid}", actor=PROVIDER).json
    assert after["state"] == "disputed"
    assert after["summary"]["refunded"] == 0
    assert _cases(database, mid) == {first_case: WITHDRAWN, dispute_id: UNDER_REVIEW}
