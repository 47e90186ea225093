"""The bundled policies: each is proven safe, and each does what its description says."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from conftest import BUYER, PROVIDER
from engine.domain.policy.checker import check_policy
from engine.domain.policy.loader import bundled_policy_files, load_policy_file, load_policy_text
from engine.domain.policy.vocabulary import HOLD, RELEASE, Facts, Movement, apply_effects


@pytest.mark.parametrize("path", bundled_policy_files(), ids=lambda p: Path(p).stem)
def test_every_bundled_policy_passes_the_checker(path: Path) -> None:
    result = check_policy(load_policy_file(path))
    assert result.violations == []
    assert result.configurations > 10


def test_the_library_has_the_promised_policies() -> None:
    names = {load_policy_file(p).name for p in bundled_policy_files()}
    assert {"fixed-price", "express", "deposit-upfront"} <= names


def test_each_effect_sees_the_escrow_the_previous_one_left() -> None:
    """`[hold, release_share]` pays the deposit out of the money just held."""
    facts = Facts(milestone_amount=25_000, escrow=0, actor_role="buyer")
    moves, revisions = apply_effects(
        [("hold", {}), ("release_share", {"basis_points": 2000})], facts
    )
    assert moves == [Movement(HOLD, 25_000), Movement(RELEASE, 5_000)]
    assert revisions == 0


def _contract(tranche, policy: str):
    contract = tranche.create_contract(
        buyer_id=BUYER.id,
        provider_id=PROVIDER.id,
        currency="USD",
        agreed_amount=100_000,
        title="Logo",
        policy=policy,
    )
    return contract, tranche.add_milestone(contract.id, title="Sketches", amount=25_000)


def test_deposit_upfront_pays_a_fifth_on_funding_and_the_rest_on_approval(tranche) -> None:
    contract, milestone = _contract(tranche, "deposit-upfront")
    tranche.fire(milestone.id, "fund", BUYER)
    summary = tranche.summary(contract.id)
    assert (summary.funded, summary.in_escrow, summary.released) == (25_000, 20_000, 5_000)

    tranche.fire(milestone.id, "submit", PROVIDER)
    tranche.fire(milestone.id, "approve", BUYER)
    summary = tranche.summary(contract.id)
    assert (summary.in_escrow, summary.released, summary.refunded) == (0, 25_000, 0)
    assert tranche.verify() == []


def test_deposit_upfront_refund_returns_only_what_is_still_in_escrow(tranche) -> None:
    contract, milestone = _contract(tranche, "deposit-upfront")
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.fire(milestone.id, "refund", PROVIDER)
    summary = tranche.summary(contract.id)
    assert (summary.released, summary.refunded, summary.in_escrow) == (5_000, 20_000, 0)


def test_express_auto_approves_after_three_days(tranche, clock) -> None:
    contract, milestone = _contract(tranche, "express")
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.fire(milestone.id, "submit", PROVIDER)
    assert tranche.sweep(now=clock.now() + timedelta(days=2, hours=23)) == []
    fired = tranche.sweep(now=clock.now() + timedelta(days=3))
    assert [f.outcome for f in fired] == ["approved"]
    assert tranche.summary(contract.id).released == 25_000


def test_withdrawing_a_dispute_resumes_the_deadline_so_nothing_can_be_postponed() -> None:
    result = check_policy(load_policy_file(Path("policies") / "fixed-price.yaml"))
    assert result.ok
    assert result.warnings == []


def test_checker_notes_a_deadline_a_party_can_restart_alone() -> None:
    """Not unsafe (the other party can ask staff to rule), but the author should know."""
    text = (Path("policies") / "fixed-price.yaml").read_text()
    old = "    from: [disputed]\n    to: previous\n"
    assert old in text
    result = check_policy(
        load_policy_text(text.replace(old, "    from: [disputed]\n    to: submitted\n"))
    )
    assert result.ok
    notes = {
        (w.state, tuple((t.step.actor, t.step.event) for t in w.trace[-2:]))
        for w in result.warnings
    }
    assert notes == {("submitted", (("buyer", "dispute"), ("buyer", "withdraw")))}
    assert result.as_dict()["warnings"][0]["property"] == "postponement"
