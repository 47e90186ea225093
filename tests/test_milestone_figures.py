"""A milestone's money figures live on its row: every path that posts keeps them equal to postings.

Commands answer from the row without a query, so these tests follow each path that
moves a milestone's money (fund, partial release with fees, approve, refund, a
ruling's split, a direct payment beside it), check that a command still writes the
row once, and that `tranche audit verify` names a row edited behind the engine's back.
"""

import pytest
from arb_helpers import PASSWORD, arbitration_for, funded
from click.testing import CliRunner
from sqlalchemy import text

from conftest import BUYER, PROVIDER
from engine.domain.decision import EventArgs
from engine.domain.summary import Mismatch
from web.cli import main

FIGURES = ("funded", "in_escrow", "released", "refunded", "fees", "paid_to_date", "remaining")


def figures(tranche, milestone_id: str) -> dict[str, int]:
    summary = tranche.milestone(milestone_id).summary
    return {name: getattr(summary, name) for name in FIGURES}


def test_fund_release_and_approve_keep_the_row_with_the_ledger(tranche, contract, milestone):
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.fire(milestone.id, "release", BUYER, EventArgs(amount=10_000))
    assert figures(tranche, milestone.id) == {
        "funded": 25_000,
        "in_escrow": 15_000,
        "released": 10_000,
        "refunded": 0,
        "fees": 500,  # 5% of what left escrow for the provider
        "paid_to_date": 10_000,
        "remaining": 15_000,
    }
    tranche.pay_directly(contract.id, actor=BUYER, amount=2_000)  # the contract's, no milestone's
    tranche.fire(milestone.id, "submit", PROVIDER)
    tranche.fire(milestone.id, "approve", BUYER)
    view = tranche.milestone(milestone.id).summary
    assert (view.released, view.fees, view.in_escrow, view.direct_payments) == (25_000, 1_250, 0, 0)
    assert tranche.summary(contract.id).direct_payments == 2_000
    assert tranche.cached_mismatches() == []


def test_a_refund_is_counted_on_the_row(tranche, milestone):
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.fire(milestone.id, "refund", PROVIDER)
    assert figures(tranche, milestone.id) == {
        "funded": 25_000,
        "in_escrow": 0,
        "released": 0,
        "refunded": 25_000,
        "fees": 0,
        "paid_to_date": 0,
        "remaining": 25_000,
    }
    assert tranche.cached_mismatches() == []


def test_a_ruling_that_splits_counts_both_movements_in_one_update(tranche, contract, tmp_path):
    arb = arbitration_for(tranche, tmp_path)
    staff = arb.create_staff("rita@example.com", "reviewer", PASSWORD)
    mid = funded(tranche, contract, amount=10_000)
    dispute = arb.open(mid, BUYER, "Half of it is missing.")
    arb.statement(dispute.id, PROVIDER, "Six tenths are there.")
    arb.claim(dispute.id, staff, "10.0.0.1")
    before = tranche.milestone(mid).version
    arb.rule(dispute.id, staff, 6_000, 4_000, "Six tenths were delivered.", "10.0.0.1")
    after = tranche.milestone(mid)
    assert (after.state, after.version) == ("settled", before + 1)
    assert figures(tranche, mid) == {
        "funded": 10_000,
        "in_escrow": 0,
        "released": 6_000,
        "refunded": 4_000,
        "fees": 300,
        "paid_to_date": 6_000,
        "remaining": 4_000,
    }
    assert tranche.cached_mismatches() == []


@pytest.mark.parametrize(
    ("column", "figure"),
    [
        ("escrow", "in_escrow"),
        ("funded", "funded"),
        ("released", "released"),
        ("refunded", "refunded"),
        ("fees", "fees"),
    ],
)
def test_the_audit_names_a_figure_edited_on_the_row(tranche, milestone, column, figure):
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.fire(milestone.id, "release", BUYER, EventArgs(amount=10_000))
    ledger = getattr(tranche.milestone(milestone.id).summary, figure)
    with tranche.database.engine.begin() as connection:
        connection.execute(
            text(f"UPDATE milestones SET {column} = {column} + 7 WHERE id = :id"),
            {"id": milestone.id},
        )
    assert tranche.cached_mismatches() == [Mismatch(milestone.id, figure, ledger + 7, ledger)]
    audit = CliRunner().invoke(main, ["--database-url", tranche.database.url, "audit", "verify"])
    assert audit.exit_code == 1
    assert audit.output == (
        f"MISMATCH: milestone {milestone.id}: {figure} is {ledger + 7} on its row, "
        f"{ledger} by its postings\n"
    )
