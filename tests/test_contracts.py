"""Adding a milestone leaves it in the unit of work as if loaded: later steps of the same
transaction use it without a query, and its first change is checked against its version."""

from conftest import BUYER
from engine.contracts import add_milestone
from engine.events import verify_chain
from engine.milestones import fire_event, view_milestone
from engine.uow import UnitOfWork


def test_a_milestone_added_and_funded_in_one_transaction(tranche, database, clock, contract):
    with UnitOfWork(database, clock) as uow:
        added = add_milestone(uow, contract.id, title="Rush job", amount=10_000)
        assert view_milestone(uow, added.id).version == 1
        fire_event(uow, added.id, "fund", BUYER)
        uow.commit()
    view = tranche.milestone(added.id)
    assert (view.state, view.version, view.position) == ("funded", 2, 1)
    assert (view.summary.funded, view.summary.in_escrow) == (10_000, 10_000)
    with UnitOfWork(database, clock) as uow:
        assert verify_chain(uow.session, contract.id) == []
