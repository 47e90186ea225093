"""Deliberately unsafe policies: the checker refuses each with its shortest counterexample.

Each case is the default policy plus one bad rule, so the only thing wrong is the
thing under test, and the expected counterexample is the shortest story that shows it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from engine.domain.errors import PolicyError
from engine.domain.policy.checker import CheckResult, Violation, check_policy
from engine.domain.policy.loader import BUNDLED, load_policy_text
from engine.domain.policy.vocabulary import EFFECTS, RELEASE, Effect, Movement

FIXED_PRICE = (BUNDLED / "fixed-price.yaml").read_text()
FUND = ("buyer", "fund")
SUBMIT = ("provider", "submit")


def variant(*extra: str, states: str = "", replace: tuple[str, str] | None = None) -> str:
    """The default policy with extra transitions (and states), or one text replaced."""
    text = FIXED_PRICE.replace("name: fixed-price", "name: unsafe")
    if replace is not None:
        assert replace[0] in text
        text = text.replace(*replace)
    if states:
        text = text.replace("\ntimers:", f"{states}\ntimers:")
    return text + "".join(extra)


def only(result: CheckResult, prop: str) -> Violation:
    """The policy fails exactly one property, once: return that violation."""
    assert not result.ok
    assert {v.property for v in result.violations} == {prop}, result.violations
    assert len(result.violations) == 1, result.violations
    return result.violations[0]


def steps(violation: Violation) -> list[tuple[str, str]]:
    return [(line.step.actor, line.step.event) for line in violation.trace]


def test_buyer_only_refund_from_submitted_is_refused() -> None:
    policy = load_policy_text(
        variant(
            """
  - event: cancel_work
    from: [submitted]
    to: refunded
    actors: [buyer]
    effects: [refund_rest]
"""
        )
    )
    violation = only(check_policy(policy), "no_unilateral_refund")
    assert steps(violation) == [FUND, SUBMIT, ("buyer", "cancel_work")]
    assert violation.trace[-1].movements == (("refund", 10_000),)
    assert violation.state == "submitted"


def test_refund_deadline_the_provider_was_not_told_about_is_refused() -> None:
    silent = (
        "    notify: [provider]\n    description: the provider is notified",
        "    description: x",
    )
    policy = load_policy_text(variant(replace=silent))
    violation = only(check_policy(policy), "no_unilateral_refund")
    assert steps(violation) == [
        FUND,
        ("buyer", "request_refund"),
        ("system", "refund_deadline_passed"),
    ]


def test_refund_deadline_the_provider_cannot_object_to_is_refused() -> None:
    """Notified is not enough: the provider must be able to leave without refunding."""
    text = variant(replace=("    from: [funded, refund_requested]\n", "    from: [funded]\n"))
    text = text.replace("from: [funded, submitted, refund_requested]", "from: [funded, submitted]")
    result = check_policy(load_policy_text(text))
    (violation,) = result.of("no_unilateral_refund")
    assert steps(violation)[-1] == ("system", "refund_deadline_passed")
    # The same hole, seen by the game: a deadline that pays the buyer is no way out.
    (stranded,) = result.of("no_stranded_money")
    assert stranded.strategy[-1] == "system refund_deadline_passed fires and pays the buyer"
    assert {v.property for v in result.violations} == {"no_unilateral_refund", "no_stranded_money"}


def test_state_holding_escrow_with_no_exit_for_the_provider_is_refused() -> None:
    policy = load_policy_text(
        variant(
            """
  - event: pause
    from: [funded]
    to: on_hold
    actors: [buyer]
  - event: resume
    from: [on_hold]
    to: funded
    actors: [buyer]
""",
            states="  - name: on_hold\n    description: the buyer froze the work\n",
        )
    )
    violation = only(check_policy(policy), "no_stranded_money")
    assert violation.state == "on_hold"
    assert "the provider has no way to a final state or a staff ruling" in violation.message
    assert violation.strategy == (
        "the buyer waits in 'on_hold'",
        "nothing ever moves the milestone out of 'on_hold'",
    )
    assert steps(violation) == [FUND, ("buyer", "pause")]


def test_effect_that_pays_out_more_than_the_escrow_creates_money(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A broken effect (registered only here) pays a 10% bonus nobody put into escrow."""
    monkeypatch.setitem(
        EFFECTS,
        "pay_bonus",
        Effect(
            "escrow plus a tenth of the milestone to the provider (broken on purpose)",
            lambda f, p: [Movement(RELEASE, f.escrow + f.milestone_amount // 10)],
        ),
    )
    policy = load_policy_text(
        variant(
            """
  - event: approve_with_bonus
    from: [submitted]
    to: approved
    actors: [buyer]
    effects: [pay_bonus]
"""
        )
    )
    violation = only(check_policy(policy), "conservation")
    assert "creates 1000 from nothing" in violation.message
    assert steps(violation) == [FUND, SUBMIT, ("buyer", "approve_with_bonus")]


def test_holding_twice_charges_the_buyer_more_than_the_milestone() -> None:
    """With the vetted vocabulary, 'creating' escrow means taking the buyer's money twice."""
    policy = load_policy_text(
        variant(
            """
  - event: top_up
    from: [funded]
    to: same
    actors: [buyer]
    effects: [hold]
"""
        )
    )
    violation = only(check_policy(policy), "conservation")
    assert "more than the milestone amount" in violation.message
    assert steps(violation) == [FUND, ("buyer", "top_up")]


def test_final_state_left_holding_escrow_is_refused() -> None:
    policy = load_policy_text(
        variant(
            """
  - event: close
    from: [submitted]
    to: approved
    actors: [buyer]
"""
        )
    )
    violation = only(check_policy(policy), "conservation")
    assert "final state 'approved' would hold 10000 in escrow" in violation.message
    assert steps(violation) == [FUND, SUBMIT, ("buyer", "close")]


def test_unreachable_state_is_refused() -> None:
    policy = load_policy_text(
        variant(
            """
  - event: archive
    from: [archived]
    to: cancelled
    actors: [staff]
""",
            states="  - name: archived\n",
        )
    )
    violation = only(check_policy(policy), "structure")
    assert violation.message == "state 'archived' is never reached from 'proposed'"
    assert violation.trace == ()


def test_nondeterministic_event_is_refused() -> None:
    policy = load_policy_text(
        variant(
            """
  - event: approve
    from: [submitted]
    to: settled
    actors: [buyer]
    effects: [release_rest]
"""
        )
    )
    violation = only(check_policy(policy), "structure")
    assert "2 transitions are enabled" in violation.message
    assert steps(violation) == [FUND, SUBMIT, ("buyer", "approve")]


def test_timer_into_an_undefined_state_is_refused_by_schema_and_checker() -> None:
    typo = (
        "event: refund_deadline_passed\n    from: [refund_requested]\n    to: refunded",
        "event: refund_deadline_passed\n    from: [refund_requested]\n    to: refundd",
    )
    with pytest.raises(PolicyError) as caught:
        load_policy_text(variant(replace=typo), "typo.yaml")
    (problem,) = caught.value.problems
    assert (problem.place, problem.message) == ("transitions[10].to", "unknown state 'refundd'")
    assert str(problem).startswith("typo.yaml:")

    # A policy built in code skips the schema: the checker still finds it, with the story.
    good = load_policy_text(variant())
    bad = dataclasses.replace(
        good,
        transitions=tuple(
            dataclasses.replace(t, target="refundd") if t.event == "refund_deadline_passed" else t
            for t in good.transitions
        ),
    )
    result = check_policy(bad)
    undefined = [v for v in result.violations if "undefined state 'refundd'" in v.message]
    assert len(undefined) == 1
    assert steps(undefined[0]) == [
        FUND,
        ("buyer", "request_refund"),
        ("system", "refund_deadline_passed"),
    ]


def test_timer_that_cannot_fire_leaves_its_state_without_exit() -> None:
    never = (
        "    actors: [system]\n    effects: [release_rest]\n",
        "    actors: [system]\n    guards: [split_shared]\n    effects: [release_rest]\n",
    )
    result = check_policy(load_policy_text(variant(replace=never)))
    timer = [v for v in result.violations if "does not leave it" in v.message]
    assert timer
    assert steps(timer[0]) == [FUND, SUBMIT]


def test_bundled_example_of_an_unsafe_file() -> None:
    path = Path(__file__).parent / "policies" / "buyer-cancels-after-delivery.yaml"
    result = check_policy(load_policy_text(path.read_text(), str(path)))
    (violation,) = result.of("no_unilateral_refund")
    assert steps(violation) == [FUND, SUBMIT, ("buyer", "cancel")]
    # And a provider who never delivers keeps the buyer's money: paying is no way out.
    (stranded,) = result.of("no_stranded_money")
    assert stranded.state == "funded"
    assert "the buyer has no way to a final state or a staff ruling" in stranded.message


def test_fee_larger_than_the_payment_is_refused() -> None:
    """The schema caps the fee at 100%; a policy built in code is still checked."""
    policy = dataclasses.replace(load_policy_text(variant()), platform_fee_bps=12_000)
    result = check_policy(policy)
    first = result.of("conservation")[0]
    assert "exceeds it" in first.message
    assert steps(first)[-1][1] in ("release", "approve")


def test_dispute_only_a_settlement_can_end_strands_the_money() -> None:
    """Accepting an offer needs the other party's offer: it is no way out for one party alone."""
    text = variant()
    for target in ("approved", "refunded", "settled"):
        rule = (
            f"  - event: rule\n    from: [disputed, escalated]\n    to: {target}\n"
            "    actors: [staff]\n"
        )
        start = text.index(rule)
        text = text[:start] + text[text.index("    effects: [split]\n", start) + 21 :]
    assert "event: rule" not in text
    result = check_policy(load_policy_text(text))
    stranded = result.of("no_stranded_money")
    # Either party may simply wait once funded: a dispute, escalated or not, ends only by
    # an offer the waiting party never makes.
    assert [(v.state, steps(v)) for v in stranded] == [("funded", [FUND]), ("funded", [FUND])]
    assert "buyer dispute (answer: the provider waits in 'disputed'" in stranded[0].message
    assert "the buyer has no way to a final state or a staff ruling" in stranded[0].message
    assert "the provider has no way to a final state or a staff ruling" in stranded[1].message


def test_system_transition_without_a_timer_is_a_dead_rule() -> None:
    policy = load_policy_text(
        variant(
            """
  - event: auto_close
    from: [funded]
    to: approved
    actors: [system]
    effects: [release_rest]
"""
        )
    )
    violation = only(check_policy(policy), "structure")
    assert "no timer of 'funded' fires it" in violation.message
