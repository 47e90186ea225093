"""Creating a contract or adding a milestone leaves the new row in the unit of work as if
loaded: later steps of the same transaction use it without a query, a milestone's first
change is checked against its version, and the contract's chain head is the database's."""

from conftest import BUYER, PROVIDER
from engine.service.contracts import add_milestone, create_contract
from engine.service.milestones import fire_event, view_milestone
from engine.service.uow import UnitOfWork
from engine.store.events import verify_chain


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


def test_a_contract_created_and_given_milestones_in_one_transaction(tranche, database, clock):
    with UnitOfWork(database, clock) as uow:
        contract = create_contract(
            uow,
            buyer_id=BUYER.id,
            provider_id=PROVIDER.id,
            currency="USD",
            agreed_amount=30_000,
            title="All at once",
        )
        for title in ("One", "Two", "Three"):
            add_milestone(uow, contract.id, title=title, amount=10_000)
        uow.commit()
    assert [m.position for m in tranche.milestones_of(contract.id)] == [1, 2, 3]
    assert [e.seq for e in tranche.events_of(contract.id)] == [1, 2, 3, 4]
    with UnitOfWork(database, clock) as uow:
        assert verify_chain(uow.session, contract.id) == []


def test_a_policy_named_with_spaces_is_stored_as_it_was_found(tranche):
    """The name is looked up trimmed, so it is stored trimmed: milestones find the policy."""
    contract = tranche.create_contract(
        buyer_id=BUYER.id,
        provider_id=PROVIDER.id,
        currency="USD",
        agreed_amount=10_000,
        title="Padded",
        policy="  fixed-price ",
    )
    assert contract.policy_name == "fixed-price"
    added = tranche.add_milestone(contract.id, title="First", amount=10_000)
    assert added.policy_name == "fixed-price"
    assert [e.policy_name for e in tranche.events_of(contract.id)] == ["fixed-price"] * 2
