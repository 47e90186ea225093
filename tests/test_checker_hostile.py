"""The checker protects both parties, against a counterparty that acts to hurt them.

Each file of tests/policies/ breaks one promise of DESIGN.md that the checker once
let through: a provider paying itself, a deadline nobody was told of, staff moving
money with no dispute, and a counterparty who withdraws and reopens disputes (or
withdraws the other's) to hold the money forever. The bundled policies pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.domain.policy.checker import CheckResult, Violation, check_policy
from engine.domain.policy.loader import (
    BUNDLED,
    bundled_policy_files,
    load_policy_file,
    load_policy_text,
)

LIBRARY = Path(__file__).parent / "policies"
FUND = ("buyer", "fund")
SUBMIT = ("provider", "submit")


def check(name: str) -> CheckResult:
    return check_policy(load_policy_file(LIBRARY / f"{name}.yaml"))


def steps(lines) -> list[tuple[str, str]]:
    return [(line.step.actor, line.step.event) for line in lines]


def first(result: CheckResult, prop: str) -> Violation:
    found = result.of(prop)
    assert found, result.violations
    return found[0]


@pytest.mark.parametrize("event", ["approve", "release"])
def test_the_provider_paying_itself_is_refused(event: str) -> None:
    result = check(f"provider-{event}s")
    assert {v.property for v in result.violations} == {"no_unilateral_release"}
    violation = first(result, "no_unilateral_release")
    assert steps(violation.trace) == [FUND, ("provider", event)]
    assert violation.trace[-1].movements[0][0] == "release"
    assert "without the buyer's consent" in violation.message


def test_an_auto_release_the_buyer_was_never_told_of_is_refused() -> None:
    """The seed's nightmare mirrored: delivery notifies nobody, 14 days later the money goes."""
    result = check("silent-delivery")
    assert {v.property for v in result.violations} == {"no_unilateral_release"}
    (violation,) = result.violations
    assert steps(violation.trace) == [FUND, SUBMIT, ("system", "review_period_elapsed")]


def test_reopening_a_withdrawn_dispute_forever_holds_the_money_hostage() -> None:
    result = check("dispute-withdraw-loop")
    assert {v.property for v in result.violations} == {"no_stranded_money"}
    by_foe = {v.trace[-1].step.actor: v for v in result.violations}
    for foe, victim in (("buyer", "provider"), ("provider", "buyer")):
        violation = by_foe[foe]
        assert violation.state == "disputed"
        assert steps(violation.trace) == [FUND, (foe, "dispute")]
        assert steps(violation.loop) == [(foe, "withdraw"), (foe, "dispute")]
        assert violation.strategy == (
            f"the {foe} waits in 'disputed'",
            f"{foe} withdraw before its deadlines run out",
            f"{foe} dispute",
            "and so on",
        )
        assert f"the {victim} can do nothing there" in violation.message


def test_withdrawing_the_other_partys_dispute_is_refused() -> None:
    result = check("either-party-withdraws")
    assert {v.property for v in result.violations} == {"no_stranded_money"}
    buyer_loses = next(v for v in result.violations if "the buyer has no way" in v.message)
    assert "buyer dispute (answer: the provider waits in 'disputed'; provider withdraw" in (
        buyer_loses.message
    )


def test_staff_moving_money_without_a_dispute_is_refused() -> None:
    result = check("staff-without-dispute")
    assert {v.property for v in result.violations} == {"due_process"}
    (violation,) = result.violations
    assert steps(violation.trace) == [FUND, ("staff", "rule")]
    assert violation.state == "funded"


def test_a_dispute_nobody_was_told_of_is_no_due_process() -> None:
    violation = first(check("unannounced-dispute"), "due_process")
    assert "did not notify the buyer and provider" in violation.message
    assert steps(violation.trace)[-1] == ("staff", "rule")


def test_a_dispute_the_respondent_cannot_act_in_is_no_due_process() -> None:
    violation = first(check("mute-respondent"), "due_process")
    assert "the provider (the respondent) can do nothing in 'disputed'" in violation.message


def test_a_self_transition_does_not_postpone_a_deadline() -> None:
    """Partial releases stay in `submitted`: its review period keeps running (engine/timers)."""
    result = check_policy(
        load_policy_text(
            (LIBRARY / "provider-releases.yaml")
            .read_text()
            .replace(
                "actors: [buyer, provider], effects: [release_amount]",
                "actors: [buyer], effects: [release_amount]",
            )
        )
    )
    assert result.ok, result.violations


@pytest.mark.parametrize("path", bundled_policy_files(), ids=lambda p: p.stem)
def test_every_bundled_policy_survives_a_hostile_counterparty(path: Path) -> None:
    result = check_policy(load_policy_file(path))
    assert result.violations == []
    assert result.policy in ("fixed-price", "express", "deposit-upfront")
    assert result.version == 2


def test_version_1_of_the_bundled_policy_is_refused_for_the_dispute_loop() -> None:
    """Version 2 differs only by `escalate`: without it, the loop is back."""
    text = (BUNDLED / "fixed-price.yaml").read_text()
    text = text[: text.index("  - event: escalate")]
    text = text.replace("  - name: escalated\n", "").replace("[disputed, escalated]", "[disputed]")
    text = text.replace(
        "    description: the party answering a dispute sent it to staff; "
        "it can no longer be withdrawn\n",
        "",
    )
    result = check_policy(load_policy_text(text))
    assert {v.property for v in result.violations} == {"no_stranded_money"}
    assert {v.state for v in result.violations} == {"disputed"}


def _only_the_buyer_disputes_a_delivery(withdraw_to: str) -> CheckResult:
    text = (BUNDLED / "fixed-price.yaml").read_text()
    text = text.replace(
        "  - event: dispute\n    from: [funded, submitted, refund_requested]\n",
        "  - event: dispute\n    from: [submitted]\n    to: disputed\n    actors: [buyer]\n"
        "    notify: [buyer, provider]\n"
        "  - event: dispute\n    from: [funded, refund_requested]\n",
    )
    text = text.replace(
        "    from: [disputed]\n    to: previous\n", f"    from: [disputed]\n    to: {withdraw_to}\n"
    )
    return check_policy(load_policy_text(text))


def test_a_withdrawal_that_resumes_the_review_period_postpones_nothing() -> None:
    """The provider cannot dispute a delivery here: it relies on the review period, which a
    dispute pauses and its withdrawal resumes (engine/timers.py), so waiting wins."""
    result = _only_the_buyer_disputes_a_delivery("previous")
    assert result.violations == []


def test_a_withdrawal_that_restarts_the_review_period_postpones_it_forever() -> None:
    """Once a note (`postponement`), now a violation: the buyer restarts the 14 days at will."""
    result = _only_the_buyer_disputes_a_delivery("submitted")
    assert {v.property for v in result.violations} == {"no_stranded_money"}
    (violation,) = result.violations
    assert violation.state == "submitted"
    assert violation.strategy == (
        "the buyer waits in 'submitted'",
        "buyer dispute before its deadlines run out",
        "buyer withdraw",
        "and so on",
    )
    assert steps(violation.loop) == [("buyer", "dispute"), ("buyer", "withdraw")]


def test_the_library_policy_that_restarts_the_review_period_is_refused() -> None:
    result = check("review-restarted")
    (violation,) = result.violations
    assert violation.property == "no_stranded_money"
    assert steps(violation.loop) == [("buyer", "dispute"), ("buyer", "withdraw")]
    assert "the provider can do nothing there but give the escrow away" in violation.message
