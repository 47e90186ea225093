"""The `tranche` command as a user runs it: clear messages and exit codes, no tracebacks."""

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from web.cli import main

ROOT = Path(__file__).resolve().parent.parent
TRANCHE = [sys.executable, "-c", "from web.cli import run; run()"]


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'cli.db'}"


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_policy_check_passes_the_bundled_policy():
    result = invoke("policy", "check", str(ROOT / "policies" / "fixed-price.yaml"))
    assert result.exit_code == 0
    assert "fixed-price.yaml: fixed-price v2: SAFE" in result.output
    assert "note" not in result.output


def test_policy_check_names_file_line_and_place(tmp_path):
    bad = tmp_path / "bad.yaml"
    good = (ROOT / "policies" / "fixed-price.yaml").read_text()
    bad.write_text(good.replace("effects: [hold]", "effects: [hold_forever]"))
    result = invoke("policy", "check", str(bad))
    line = next(i for i, t in enumerate(bad.read_text().splitlines(), 1) if "hold_forever" in t)
    assert result.exit_code == 1
    assert f"{bad}:{line}: transitions[0].effects[0]: unknown effect 'hold_forever'" in (
        result.output
    )


def test_db_upgrade_says_created_then_up_to_date(url):
    created = invoke("--database-url", url, "db", "upgrade")
    assert created.exit_code == 0
    assert created.output == f"created the database at {url}\n"
    again = invoke("--database-url", url, "db", "upgrade")
    assert again.output == f"database at {url} is up to date\n"


def test_db_upgrade_names_the_migrations_it_ran(url):
    from alembic import command

    from engine.store.db import Database

    command.upgrade(Database(url).migrations(), "0001_core")
    migrated = invoke("--database-url", url, "db", "upgrade")
    assert migrated.output.startswith(f"migrated the database at {url} from 0001_core to ")


def test_audit_of_an_unknown_contract_says_so(url):
    invoke("--database-url", url, "db", "upgrade")
    result = CliRunner().invoke(
        main, ["--database-url", url, "audit", "verify", "--contract", "ct_nope"]
    )
    assert result.exit_code == 1
    assert "no such contract: ct_nope" in result.output
    assert "audit ok" not in result.output


def test_sweep_now_refuses_a_bad_moment(url):
    invoke("--database-url", url, "db", "upgrade")
    result = CliRunner().invoke(main, ["--database-url", url, "sweep", "--now", "next tuesday"])
    assert result.exit_code == 2
    assert "'next tuesday' is not an ISO-8601 moment" in result.output


def test_sweep_now_fires_what_is_due_then(url, tmp_path):
    from engine.domain.actors import Actor
    from engine.service.tranche import Tranche
    from engine.store.db import Database

    invoke("--database-url", url, "db", "upgrade")
    tranche = Tranche(Database(url))
    contract = tranche.create_contract(
        buyer_id="b", provider_id="p", currency="EUR", agreed_amount=1000, title="t"
    )
    milestone = tranche.add_milestone(contract.id, title="m", amount=1000)
    tranche.fire(milestone.id, "fund", Actor("b"))
    tranche.fire(milestone.id, "submit", Actor("p"))
    result = invoke("--database-url", url, "sweep", "--now", "2999-01-01T00:00:00Z")
    assert "review_period_elapsed" in result.output
    assert "-> approved" in result.output
    assert "1 timer(s) fired\n" in result.output


def test_a_bad_database_url_is_a_message_not_a_traceback():
    result = subprocess.run(
        [*TRANCHE, "--database-url", "nosuchdb://x", "db", "upgrade"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot use the database:")
    assert "Traceback" not in result.stderr
