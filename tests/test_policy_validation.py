"""Policy documents: every kind of bad document is refused with its file, line and place."""

from pathlib import Path

import pytest

from engine.domain.errors import PolicyError
from engine.domain.policy.loader import bundled_policy_files, load_policy_file, load_policy_text

FIXED = Path(__file__).resolve().parent.parent / "policies" / "fixed-price.yaml"
GOOD = FIXED.read_text()


def problems_of(text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "bad.yaml")
    return [str(p) for p in caught.value.problems]


def edit(old: str, new: str, count: int = 1) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, count)


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    lines = text.splitlines()
    hits = [i + 1 for i, line in enumerate(lines) if needle in line]
    return hits[occurrence - 1]


def test_every_bundled_policy_loads():
    names = {load_policy_file(path).name for path in bundled_policy_files()}
    assert "fixed-price" in names


def test_the_default_policy_expresses_the_design_table():
    policy = load_policy_file(FIXED)
    assert policy.key == ("fixed-price", 2)
    assert {s.name for s in policy.states} == {
        "proposed",
        "funded",
        "submitted",
        "refund_requested",
        "disputed",
        "escalated",
        "approved",
        "refunded",
        "settled",
        "cancelled",
    }
    assert {(t.state, t.after.days, t.event) for t in policy.timers} == {
        ("submitted", 14, "review_period_elapsed"),
        ("refund_requested", 7, "refund_deadline_passed"),
    }
    assert (policy.revision_limit, policy.platform_fee_bps) == (3, 500)


def test_unknown_target_state_names_place_and_line():
    text = edit(
        "    to: funded\n    actors: [buyer]\n    effects: [hold]",
        "    to: fundd\n    actors: [buyer]\n    effects: [hold]",
    )
    assert problems_of(text) == [
        f"bad.yaml:{line_of(text, 'to: fundd')}: transitions[0].to: unknown state 'fundd'"
    ]


def test_yaml_syntax_error_names_the_line():
    text = GOOD.replace("  - name: funded\n", "  - name: funded\n   bad: [\n", 1)
    (problem,) = problems_of(text)
    assert problem.startswith("bad.yaml:")
    assert "(syntax)" in problem


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "    effects: [hold]",
            "    effects: [hold_everything]",
            "transitions[0].effects[0]: unknown effect 'hold_everything'",
        ),
        (
            "    guards: [within_revision_limit]",
            "    guards: [buyer_is_nice]",
            "transitions[5].guards[0]: unknown guard 'buyer_is_nice'",
        ),
        (
            "    actors: [buyer]\n    effects: [hold]",
            "    actors: [landlord]\n    effects: [hold]",
            "transitions[0].actors[0]: Must be one of",
        ),
        (
            "    from: [proposed]\n    to: funded",
            "    from: [propsed]\n    to: funded",
            "transitions[0].from[0]: unknown state 'propsed'",
        ),
        (
            "  - state: submitted\n    after: 14d",
            "  - state: submited\n    after: 14d",
            "timers[0].state: unknown state 'submited'",
        ),
        (
            "    after: 14d",
            "    after: two weeks",
            "timers[0].after: a duration is a whole number and a unit",
        ),
        (
            "    after: 14d",
            "    after: 99999999999999999999d",
            "timers[0].after: 99999999999999999999d is longer than any clock can count",
        ),
        (
            "    event: review_period_elapsed\n    description: auto-approve",
            "    event: review_period_ended\n    description: auto-approve",
            "timers[0].event: no transition handles event 'review_period_ended'",
        ),
        ("  revision_limit: 3", "  revision_limit: three", "parameters.revision_limit: Not a"),
        (
            "  platform_fee_bps: 500",
            "  platform_fee_bps: 12000",
            "parameters.platform_fee_bps: Must be greater than or equal to 0 and less than",
        ),
        ("version: 2", "version: 2.5", "version: Not a valid integer"),
        (
            "  - name: cancelled\n",
            "  - name: funded\n",
            "states[9].name: state 'funded' is defined twice",
        ),
        (
            "  - name: proposed\n    initial: true",
            "  - name: proposed\n    initial: false",
            "states: exactly one state must be initial, found 0",
        ),
        ("  - name: cancelled\n", "  - name: same\n", "states[9].name: 'same' is a reserved word"),
        (
            "  - event: cancel\n",
            "  - event: send\n",
            "transitions[1].event: 'send' is a state name",
        ),
        (
            "  - event: cancel\n    from: [proposed]",
            "  - event: cancel\n    from: [approved]",
            "transitions[1].from[0]: 'approved' is final: nothing leaves it",
        ),
        (
            "    effects: [release_amount]",
            "    effects: [{release_share: {percent: 20}}]",
            "transitions[3].effects[0]: unknown parameter 'percent'",
        ),
        (
            "    notify: [buyer]\n    description: delivering",
            "    notify: [everyone]\n    description: delivering",
            "transitions[2].notify[0]: Must be one of",
        ),
        (
            "    actors: [system]\n    effects: [release_rest]",
            "    actors: [buyer]\n    effects: [release_rest]",
            "timers[0].event: no transition lets the system fire 'review_period_elapsed'",
        ),
    ],
)
def test_each_kind_of_bad_document_is_refused_precisely(old, new, expected):
    text = edit(old, new)
    found = problems_of(text)
    assert any(expected in problem for problem in found), found
    assert all(problem.startswith("bad.yaml:") for problem in found)


def test_missing_required_keys_and_unknown_keys():
    text = GOOD.replace("name: fixed-price\n", "nmae: fixed-price\n", 1)
    found = problems_of(text)
    assert any("name: Missing data for required field." in p for p in found), found
    assert any("nmae: Unknown field." in p for p in found), found


def test_a_key_given_twice_is_refused():
    text = GOOD.replace("version: 2\n", "version: 2\nversion: 3\n", 1)
    found = problems_of(text)
    assert f"bad.yaml:{line_of(text, 'version: 3')}: version: key given twice" in found


def test_a_document_that_is_not_a_mapping_is_refused():
    assert problems_of("- just\n- a list\n") == [
        "bad.yaml:1: (document): a policy is a mapping of keys to values"
    ]


def test_an_unreadable_file_is_refused_with_its_name(tmp_path):
    with pytest.raises(PolicyError, match="missing.yaml: cannot read"):
        load_policy_file(tmp_path / "missing.yaml")
