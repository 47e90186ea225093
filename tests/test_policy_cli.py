"""`tranche policy check|publish|diff|draw` as an author uses them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import needs_graphviz
from engine.domain.errors import NotFoundError
from engine.domain.policy.loader import BUNDLED
from web.cli import main

UNSAFE = Path(__file__).parent / "policies" / "buyer-cancels-after-delivery.yaml"
FIXED_PRICE = BUNDLED / "fixed-price.yaml"


@pytest.fixture
def cli(tmp_path: Path):
    """Run `tranche` against a migrated SQLite file of this test."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, ["--database-url", url, *args])

    assert invoke("db", "upgrade").exit_code == 0
    return invoke


def _version(tmp_path: Path, version: int, *replace: tuple[str, str]) -> Path:
    text = FIXED_PRICE.read_text().replace("\nversion: 2\n", f"\nversion: {version}\n")
    for old, new in replace:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / f"fixed-price-v{version}.yaml"
    path.write_text(text)
    return path


def test_check_passes_the_bundled_policies() -> None:
    files = sorted(str(p) for p in BUNDLED.glob("*.yaml"))
    result = CliRunner().invoke(main, ["policy", "check", *files])
    assert result.exit_code == 0, result.output
    assert result.output.count(": SAFE") == len(files)


def test_check_refuses_an_unsafe_policy_with_its_counterexample() -> None:
    """The report is the output (`> report.txt` keeps it); stderr says in one line why 1."""
    result = CliRunner().invoke(main, ["policy", "check", str(FIXED_PRICE), str(UNSAFE)])
    assert result.exit_code == 1
    assert "fixed-price v2: SAFE" in result.stdout
    assert "buyer-cancels v1: UNSAFE (2 problems)" in result.stdout
    assert "FAIL no unilateral refund after funding" in result.stdout
    assert "3. buyer cancel: submitted -> refunded, escrow all -> none" in result.stdout
    assert result.stderr == "policy check failed: buyer-cancels v1 is UNSAFE\n"


def test_check_json_lists_properties_and_counterexamples() -> None:
    result = CliRunner().invoke(main, ["policy", "check", "--json", str(FIXED_PRICE), str(UNSAFE)])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    safe, unsafe = report["results"]
    assert safe["ok"] is True
    assert unsafe["ok"] is False
    assert unsafe["properties"]["no_unilateral_refund"]["ok"] is False
    (violation,) = [v for v in unsafe["violations"] if v["property"] == "no_unilateral_refund"]
    assert [(s["actor"], s["event"]) for s in violation["counterexample"]] == [
        ("buyer", "fund"),
        ("provider", "submit"),
        ("buyer", "cancel"),
    ]
    assert violation["counterexample"][-1]["movements"] == [{"kind": "refund", "amount": 10000}]


def test_check_draws_the_counterexample_on_the_diagram(tmp_path: Path) -> None:
    loop = Path(__file__).parent / "policies" / "dispute-withdraw-loop.yaml"
    out = tmp_path / "loop.dot"
    result = CliRunner().invoke(main, ["policy", "check", str(loop), "--draw", str(out)])
    assert result.exit_code == 1
    marked = {
        line.split(" [")[0].strip() for line in out.read_text().splitlines() if "#d32f2f" in line
    }
    assert marked == {
        '"proposed" -> "funded"',
        '"funded" -> "disputed"',
        '"disputed" -> "funded"',
    }
    bad = CliRunner().invoke(main, ["policy", "check", str(loop), "--draw", "x.gif"])
    assert bad.exit_code == 2


def test_check_reports_schema_errors_with_file_and_line_first(tmp_path: Path) -> None:
    bad = _version(
        tmp_path,
        1,
        ("    to: refunded\n    actors: [system]", "    to: refundd\n    actors: [system]"),
    )
    result = CliRunner().invoke(main, ["policy", "check", str(bad)])
    assert result.exit_code == 1
    line = next(
        n for n, text in enumerate(bad.read_text().splitlines(), 1) if "to: refundd" in text
    )
    assert f"{bad}:{line}: transitions[10].to: unknown state 'refundd'" in result.stdout
    assert "SAFE" not in result.output
    assert result.stderr == "policy check failed: 1 schema problem\n"

    as_json = json.loads(CliRunner().invoke(main, ["policy", "check", "--json", str(bad)]).stdout)
    assert as_json["results"] == []
    assert as_json["schema_problems"][0]["line"] == line


def test_publish_stores_a_checked_version_once(cli, tmp_path: Path) -> None:
    v3 = _version(tmp_path, 3, ("after: 14d", "after: 10d"))
    first = cli("policy", "publish", str(v3))
    assert first.exit_code == 0, first.output
    assert "published fixed-price v3" in first.output
    again = cli("policy", "publish", str(v3))
    assert again.exit_code == 0
    assert "already published with the same content" in again.output

    changed = _version(tmp_path, 3, ("after: 14d", "after: 9d"))
    refused = cli("policy", "publish", str(changed))
    assert refused.exit_code == 1
    assert "already published with different content" in str(refused.exception)


def test_publish_refuses_an_unsafe_policy(cli) -> None:
    result = cli("policy", "publish", str(UNSAFE))
    assert result.exit_code == 1
    assert "not published: buyer-cancels v1 is unsafe" in result.output
    assert isinstance(cli("policy", "draw", "buyer-cancels").exception, NotFoundError)


def test_diff_names_what_changed(cli, tmp_path: Path) -> None:
    v3 = _version(
        tmp_path,
        3,
        ("after: 14d", "after: 10d"),
        ("platform_fee_bps: 500", "platform_fee_bps: 400"),
        ("    guards: [within_revision_limit]\n", ""),
    )
    assert cli("policy", "publish", str(v3)).exit_code == 0
    result = cli("policy", "diff", "fixed-price", "2", "3")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "fixed-price: v2 -> v3",
        "  ~ platform fee: 500 bps -> 400 bps",
        "  ~ transition request_changes: submitted -> funded: guards "
        "['within_revision_limit'] -> []",
        "  ~ timer review_period_elapsed in submitted: 14d -> 10d",
    ]
    assert isinstance(cli("policy", "diff", "fixed-price", "1", "7").exception, NotFoundError)


@needs_graphviz
def test_draw_writes_dot_and_svg(cli, tmp_path: Path) -> None:
    dot = cli("policy", "draw", "fixed-price", "--format", "dot", "--state", "submitted")
    assert dot.exit_code == 0, dot.output
    assert dot.output.startswith('digraph "fixed-price v2"')
    assert '"submitted" [style="rounded,filled,bold"' in dot.output

    out = tmp_path / "fp.svg"
    svg = cli("policy", "draw", "fixed-price", "--version", "2", "-o", str(out))
    assert svg.exit_code == 0, svg.output
    assert b"<svg" in out.read_bytes()
