"""Policy drawings (DOT, SVG, PNG) with a milestone's current state marked, and policy diffs."""

from __future__ import annotations

import pytest

from conftest import BUYER, needs_graphviz
from engine.domain.errors import NotFoundError, ValidationError
from engine.domain.policy import diagram
from engine.domain.policy.diagram import DiagramError, render, to_dot
from engine.domain.policy.diff import diff_policies
from engine.domain.policy.loader import BUNDLED, load_policy_file, load_policy_text
from engine.service.drawings import milestone_diagram, policy_diagram

FIXED_PRICE = load_policy_file(BUNDLED / "fixed-price.yaml")


def test_dot_has_every_state_and_transition() -> None:
    dot = to_dot(FIXED_PRICE)
    for state in FIXED_PRICE.states:
        assert f'"{state.name}"' in dot
    assert '"proposed" -> "funded" [label="fund\\nby buyer\\nhold"];' in dot
    assert '"refund_requested" -> "refunded" [label="refund_deadline_passed' in dot
    # `previous` is drawn back to each state a dispute can be opened from.
    for back in ("funded", "submitted", "refund_requested"):
        assert f'"disputed" -> "{back}" [label="withdraw\\nby opener"];' in dot
    # A timer's deadline is written on the transition it fires (drawn dashed).
    assert (
        '"submitted" -> "approved" [label="review_period_elapsed\\nby system\\n'
        'release_rest\\nafter 14d", style=dashed];'
    ) in dot
    assert "fillcolor" not in dot


def test_current_state_is_marked_and_only_that_one() -> None:
    dot = to_dot(FIXED_PRICE, current_state="submitted")
    assert dot.count("fillcolor") == 1
    assert '"submitted" [style="rounded,filled,bold", fillcolor="#ffd54f"' in dot


def test_unknown_state_or_format_is_a_precise_error() -> None:
    with pytest.raises(ValidationError) as caught:
        render(FIXED_PRICE, current_state="nowhere", format="dot")
    assert caught.value.fields["field"] == "current_state"
    with pytest.raises(ValidationError) as caught:
        render(FIXED_PRICE, format="gif")
    assert caught.value.fields["field"] == "format"


@needs_graphviz
def test_svg_and_png_come_from_graphviz() -> None:
    svg = render(FIXED_PRICE, current_state="funded", format="svg")
    assert b"<svg" in svg
    assert b"funded" in svg
    assert render(FIXED_PRICE, format="png").startswith(b"\x89PNG\r\n\x1a\n")


def test_missing_graphviz_is_a_diagram_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diagram.shutil, "which", lambda name: None)
    with pytest.raises(DiagramError) as caught:
        render(FIXED_PRICE, format="svg")
    assert caught.value.code == "diagram_unavailable"
    assert render(FIXED_PRICE, format="dot").startswith(b"digraph")


def test_diff_of_identical_versions_is_empty() -> None:
    assert diff_policies(FIXED_PRICE, FIXED_PRICE) == []


def test_diff_shows_added_and_removed_states_transitions_and_timers() -> None:
    text = FIXED_PRICE.text.replace("\nversion: 2\n", "\nversion: 3\n")
    text = text.replace("revision_limit: 3", "revision_limit: 2")
    text = text.replace(
        "  - state: refund_requested\n    after: 7d\n",
        "  - state: refund_requested\n    after: 5d\n",
    )
    cancel = "  - event: cancel\n    from: [proposed]\n    to: cancelled\n"
    text = text.replace(
        f"{cancel}    actors: [buyer, provider]\n", f"{cancel}    actors: [buyer]\n"
    )
    new = load_policy_text(text)
    assert diff_policies(FIXED_PRICE, new) == [
        "  ~ revision limit: 3 -> 2",
        "  ~ transition cancel: proposed -> cancelled: actors ['buyer', 'provider'] -> ['buyer']",
        "  ~ timer refund_deadline_passed in refund_requested: 7d -> 5d",
    ]
    assert diff_policies(new, FIXED_PRICE)[0] == "  ~ revision limit: 2 -> 3"

    smaller = load_policy_file(BUNDLED / "express.yaml")
    lines = diff_policies(FIXED_PRICE, smaller)
    assert "  ~ timer review_period_elapsed in submitted: 14d -> 3d" in lines

    removed = load_policy_text(
        FIXED_PRICE.text.replace(
            "  - event: cancel\n    from: [proposed]\n    to: cancelled\n"
            "    actors: [buyer, provider]\n",
            "",
        ).replace(
            "  - name: cancelled\n    final: true\n    description: withdrawn before funding\n", ""
        )
    )
    assert diff_policies(FIXED_PRICE, removed) == [
        "  - state cancelled (final)",
        "  - transition cancel: proposed -> cancelled (by buyer, provider)",
    ]


@needs_graphviz
def test_milestone_diagram_marks_its_current_state(tranche, milestone) -> None:
    tranche.fire(milestone.id, "fund", BUYER)
    with tranche.unit_of_work() as uow:
        dot = milestone_diagram(uow, milestone.id, format="dot").decode()
        assert dot.count("fillcolor") == 1
        assert '"funded" [style="rounded,filled,bold"' in dot
        with pytest.raises(NotFoundError):
            milestone_diagram(uow, milestone.id, format="dot", tenant="someone-else")
        assert policy_diagram(uow.session, "fixed-price", 2, "dot").startswith(b"digraph")
        assert b"<svg" in policy_diagram(uow.session, "express")
        with pytest.raises(NotFoundError):
            policy_diagram(uow.session, "fixed-price", 9, "dot")
