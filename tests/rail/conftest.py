"""A milestone taken through the rail to a release, and a policy with a security hold."""

from pathlib import Path

import pytest

from conftest import BUYER, PROVIDER
from engine.domain.policy.checker import check_policy
from engine.domain.policy.loader import load_policy_text
from engine.service.fundings import Charge
from engine.store.policy_store import publish

FIXED_PRICE = (Path(__file__).parents[2] / "policies" / "fixed-price.yaml").read_text()


def publish_variant(database, name: str, parameters: str) -> str:
    """Publish fixed-price under `name` with extra `parameters` lines (YAML, indented)."""
    text = FIXED_PRICE.replace("name: fixed-price", f"name: {name}").replace(
        "parameters:\n", f"parameters:\n{parameters}"
    )
    policy = load_policy_text(text, f"{name}.yaml")
    assert check_policy(policy).ok
    with database.session() as session, session.begin():
        publish(session, policy)
    return name


def released(tranche, milestone_id: str, reference: str) -> None:
    """Fund (confirm first, `reference`), submit and approve: the provider is paid."""
    amount = tranche.milestone(milestone_id).amount
    tranche.fund_confirmed(milestone_id, "fund", BUYER, Charge(reference, amount, "USD"))
    tranche.fire(milestone_id, "submit", PROVIDER)
    tranche.fire(milestone_id, "approve", BUYER)


def assert_books_match(tranche) -> None:
    """Every entry balances, every cached figure and balance equals the ledger."""
    assert tranche.unbalanced_entries() == []
    assert tranche.cached_mismatches() == []
    assert tranche.rail_findings() == []


def balance(tranche, party_id: str, tenant: str = "default") -> dict:
    found = tranche.balances(tenant, party_id)
    return found[0].as_dict() if found else {}


@pytest.fixture
def held_contract(tranche, database):
    """A contract whose policy holds each payment to the provider for 5 days."""
    name = publish_variant(database, "held-five-days", "  payout_hold: 5d\n")
    return tranche.create_contract(
        buyer_id=BUYER.id,
        provider_id=PROVIDER.id,
        currency="USD",
        agreed_amount=100_000,
        title="Held work",
        policy=name,
    )
