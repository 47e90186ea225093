"""`tranche staff ...` and the dispute half of `tranche sweep`, as an operator runs them."""

import json
import subprocess
import sys
from datetime import timedelta

import pytest
from click.testing import CliRunner

from arbitration import audit
from arbitration.errors import LoginRefusedError, LoginThrottledError
from arbitration.service import Arbitration
from arbitration.settings import Settings
from arbitration.staff import all_staff
from engine.domain.errors import NotFoundError, ValidationError
from engine.store.db import Database
from web.cli import main

TRANCHE = [sys.executable, "-c", "from web.cli import run; run()"]


def test_staff_create_reads_the_password_from_stdin_and_refuses_a_short_one(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    Database(url).upgrade()
    runner = CliRunner()
    created = runner.invoke(
        main,
        [
            "--database-url",
            url,
            "staff",
            "create",
            "Rita@Example.com",
            "--role",
            "reviewer",
            "--password-stdin",
        ],
        input="a long enough password\n",
        catch_exceptions=False,
    )
    assert created.exit_code == 0
    assert "created reviewer rita@example.com" in created.output
    listed = runner.invoke(main, ["--database-url", url, "staff", "list"])
    assert "reviewer  rita@example.com" in listed.output
    for email, password, message in [
        ("b@example.com", "short", "at least 12 characters"),
        ("rita@example.com", "a long enough password", "already exists"),
        ("not-an-email", "a long enough password", "is not an email address"),
    ]:
        refused = subprocess.run(
            [
                *TRANCHE,
                "--database-url",
                url,
                "staff",
                "create",
                email,
                "--role",
                "senior",
                "--password-stdin",
            ],
            input=password + "\n",
            capture_output=True,
            text=True,
            check=False,
        )
        assert refused.returncode == 1
        assert message in refused.stderr
        assert "Traceback" not in refused.stderr


def test_staff_create_refuses_an_unknown_role(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = CliRunner().invoke(
        main, ["--database-url", url, "staff", "create", "a@example.com", "--role", "boss"]
    )
    assert result.exit_code == 2
    assert "'boss' is not one of 'reviewer', 'senior'" in result.output


def test_disputes_sweep_reports_what_it_did(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    Database(url).upgrade()
    result = CliRunner().invoke(
        main, ["--database-url", url, "sweep", "--now", "2030-01-01T00:00:00Z"]
    )
    assert result.exit_code == 0
    assert "0 dispute(s) past their response deadline" in result.output


# upkeep: reset-password, unlock, deactivate, role; each audited --------------------------
ADDRESS = "10.0.0.9"
RITA = "rita@example.com"
OLD, NEW = "the first long password", "the second long password"


def _cli(url: str, *args: str, stdin: str | None = None):
    return CliRunner().invoke(main, ["--database-url", url, "staff", *args], input=stdin)


@pytest.fixture
def rita(tmp_path):
    """A database with the reviewer rita, and an Arbitration on it."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    Database(url).upgrade()
    assert _cli(url, "create", RITA, "--role", "reviewer", "--password-stdin", stdin=OLD + "\n")
    arb = Arbitration(Database(url), settings=Settings(evidence_dir=tmp_path / "evidence"))
    return url, arb


def _audit(arb: Arbitration) -> list[tuple[str, dict]]:
    rows = arb.read(lambda u: audit.trail(u.session))
    return [(row.action, json.loads(row.detail)) for row in reversed(rows) if row.address == "cli"]


def _signs_in(arb: Arbitration, password: str, address: str = ADDRESS) -> bool:
    try:
        arb.login(RITA, password, address)
    except LoginRefusedError:
        return False
    return True


def test_reset_password_ends_every_session_and_is_audited(rita):
    url, arb = rita
    member = arb.login(RITA, OLD, ADDRESS)
    token = arb.start_session(member, ADDRESS, timedelta(hours=10))
    assert arb.session_staff(token).id == member.id
    result = _cli(url, "reset-password", RITA, "--password-stdin", stdin=NEW + "\n")
    assert result.exit_code == 0, result.output
    assert "every console session of it has ended" in result.output
    assert arb.session_staff(token) is None
    assert not _signs_in(arb, OLD)
    assert _signs_in(arb, NEW)
    assert _audit(arb)[-1] == ("password_reset", {"sessions_ended": 1, "staff": member.id})
    short = _cli(url, "reset-password", RITA, "--password-stdin", stdin="short\n")
    assert isinstance(short.exception, ValidationError)


def test_unlock_lifts_the_accounts_block(rita):
    url, arb = rita
    for i in range(Settings().account_free_failures):
        assert not _signs_in(arb, "wrong password", f"10.0.1.{i}")
    with pytest.raises(LoginThrottledError):
        arb.login(RITA, OLD, "10.0.2.1")
    result = _cli(url, "unlock", RITA)
    assert result.exit_code == 0, result.output
    assert _signs_in(arb, OLD, "10.0.2.1")
    member = arb.read(all_staff)[0]
    assert _audit(arb)[-1] == ("unlock", {"staff": member.id, "was_counted": True})


def test_deactivate_ends_sign_ins_and_sessions_once(rita):
    url, arb = rita
    member = arb.login(RITA, OLD, ADDRESS)
    token = arb.start_session(member, ADDRESS, timedelta(hours=10))
    result = _cli(url, "deactivate", "Rita@Example.com")
    assert result.exit_code == 0, result.output
    assert arb.session_staff(token) is None
    assert not _signs_in(arb, OLD)
    assert "rita" not in _cli(url, "list").output
    assert _audit(arb)[-1] == ("deactivate", {"sessions_ended": 1, "staff": member.id})
    again = subprocess.run(
        [*TRANCHE, "--database-url", url, "staff", "deactivate", RITA],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 1
    assert "already deactivated" in again.stderr
    assert "Traceback" not in again.stderr


def test_role_changes_and_unknown_accounts_are_named(rita):
    url, arb = rita
    result = _cli(url, "role", RITA, "senior")
    assert result.exit_code == 0, result.output
    assert "rita@example.com is now a senior" in result.output
    member = arb.read(all_staff)[0]
    assert member.role == "senior"
    assert _audit(arb)[-1] == (
        "role_changed",
        {"after": "senior", "before": "reviewer", "staff": member.id},
    )
    assert _cli(url, "role", RITA, "boss").exit_code == 2
    missing = _cli(url, "unlock", "nobody@example.com")
    assert isinstance(missing.exception, NotFoundError)
    assert "no staff account for nobody@example.com" in str(missing.exception)
