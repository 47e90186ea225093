"""`tranche staff create` and the dispute half of `tranche sweep`, as an operator runs them."""

import subprocess
import sys

from click.testing import CliRunner

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
