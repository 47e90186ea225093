"""The README's "Writing a policy" section stays true: its example passes, its tables match."""

from __future__ import annotations

import re
from pathlib import Path

from engine.domain.policy.checker import check_policy
from engine.domain.policy.loader import load_policy_text
from web.policy_cli import policy, vocabulary_markdown

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_worked_example_is_safe() -> None:
    (example,) = re.findall(r"```yaml\n(.*?)```", README, re.S)
    result = check_policy(load_policy_text(example, "README.md"))
    assert result.violations == []


def test_registries_in_readme_match_the_engine() -> None:
    assert vocabulary_markdown() in README


def test_every_policy_command_in_readme_exists() -> None:
    used = set(re.findall(r"tranche policy (\w+)", README))
    assert used == set(policy.commands)
