"""The happy path on both backends: fund, submit, approve; the ledger pays the provider."""

from conftest import BUYER, PROVIDER


def test_fund_submit_approve_pays_the_provider_net_of_fee(tranche, contract, milestone):
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.fire(milestone.id, "submit", PROVIDER)
    tranche.fire(milestone.id, "approve", BUYER)

    view = tranche.milestone(milestone.id, BUYER)
    summary = tranche.summary(contract.id)
    assert view.state == "approved"
    assert view.allowed_events == []
    assert (summary.funded, summary.in_escrow, summary.paid_to_date) == (25_000, 0, 25_000)
    assert summary.fees == 1_250  # 5% of 250.00
    assert summary.remaining == 75_000
    assert tranche.verify() == []


def test_each_command_moves_the_version_by_one(tranche, milestone):
    versions = [tranche.milestone(milestone.id).version]
    for event, actor in (("fund", BUYER), ("submit", PROVIDER), ("approve", BUYER)):
        tranche.fire(milestone.id, event, actor)
        versions.append(tranche.milestone(milestone.id).version)
    assert versions == [1, 2, 3, 4]
