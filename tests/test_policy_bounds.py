"""Hostile policy files: refused quickly with file:line, never a hang or a traceback.

A YAML alias bomb (each level names the one before ten times) expands
exponentially when walked; a document nested 20,000 deep overflows a recursive
composer; a 5,000-digit number or an impossible date fails inside PyYAML's
constructors. The loader refuses each before it costs more than a read.
"""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from test_policy_validation import GOOD

from engine.domain.errors import PolicyError
from engine.domain.policy.loader import MAX_BYTES, MAX_DEPTH, load_policy_file, load_policy_text
from web.cli import main

BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
)
"""Nine levels of ten: 10^9 leaves once expanded; one line each."""


def refused(text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "bad.yaml")
    return [str(p) for p in caught.value.problems]


def test_an_alias_bomb_is_refused_at_its_first_anchor():
    assert refused(BOMB) == ["bad.yaml:1: (yaml): anchors and aliases (&a, *a) are not allowed"]


def test_an_alias_inside_a_real_policy_is_refused_with_its_line():
    text = GOOD.replace("name: fixed-price", "name: &n fixed-price\nalias: *n", 1)
    line = text.splitlines().index("name: &n fixed-price") + 1
    assert refused(text) == [
        f"bad.yaml:{line}: (yaml): anchors and aliases (&n, *n) are not allowed"
    ]


@pytest.mark.parametrize("opening", ["[", "- "])
def test_deep_nesting_is_refused_with_its_line(opening):
    text = "name: x\nstates:\n  " + opening * 20_000 + "x"
    (problem,) = refused(text)
    assert problem.startswith("bad.yaml:3: ")
    assert f"nested deeper than {MAX_DEPTH} levels" in problem


@pytest.mark.parametrize(
    ("value", "message"),
    [("9" * 5_000, "Exceeds the limit"), ("2026-13-45", "month must be in 1..12")],
)
def test_a_value_yaml_cannot_build_names_its_line(value, message):
    text = re.sub(r"^version: \d+$", f"version: {value}", GOOD, count=1, flags=re.M)
    (problem,) = refused(text)
    assert problem.startswith(f"bad.yaml:{text.splitlines().index(f'version: {value}') + 1}: ")
    assert message in problem


def test_a_document_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text(GOOD + "#" * MAX_BYTES)
    with pytest.raises(PolicyError, match=f"at most {MAX_BYTES} bytes"):
        load_policy_file(path)
    assert refused(GOOD + "#" * MAX_BYTES) == [
        f"bad.yaml: (file): the document is {len(GOOD) + MAX_BYTES} bytes; "
        f"a policy is at most {MAX_BYTES} bytes"
    ]


@pytest.mark.parametrize("command", ["check", "publish"])
def test_the_cli_names_the_file_and_line_and_exits_1(tmp_path, command):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    url = f"sqlite:///{tmp_path / 't.db'}"
    result = CliRunner().invoke(main, ["--database-url", url, "policy", command, str(path)])
    assert result.exit_code == 1
    assert f"{path}:1: (yaml): anchors and aliases" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
