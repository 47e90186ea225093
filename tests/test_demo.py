"""`tranche demo` (what `make run` plays first) leaves data a newcomer can see and touch.

On a new SQLite file: a tenant with a printed API key that lists the story's
contract, a dispute waiting in the staff queue, staff accounts whose printed
passwords sign in, and a milestone under review whose timer a rehearsed sweep
fires. Never any key or account on PostgreSQL or on a database that exists.
"""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from arbitration.models import Staff
from arbitration.service import Arbitration
from arbitration.views import QueueFilter, queue
from engine.store.db import Database
from web.api.models import ApiKey
from web.app import create_app
from web.cli import main


def invoke(url: str, *args: str):
    result = CliRunner().invoke(main, ["--database-url", url, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_new_local_demo_database_can_be_seen_and_entered(tmp_path):
    url = f"sqlite:///{tmp_path / 'tranche.db'}"
    told = invoke(url, "demo")
    key = re.search(r"API, as tenant (key_\w+):  export KEY=(tr_\S+)", told)
    accounts = re.findall(r"(reviewer|senior)\s+(\S+@\S+)\s+password: (\S+)", told)
    assert key is not None
    assert [role for role, _, _ in accounts] == ["reviewer", "senior"]

    app = create_app({"DATABASE_URL": url, "AUTO_UPGRADE": False})
    listed = app.test_client().get(
        "/v1/contracts", headers={"Authorization": f"Bearer {key.group(2)}"}
    )
    assert listed.status_code == 200
    (contract,) = listed.json["data"]
    assert contract["title"] == "Shop redesign, four milestones"
    assert f"contract {contract['id']} is in" in told

    arbitration = Arbitration(Database(url))
    for _, email, password in accounts:
        assert arbitration.login(email, password, "127.0.0.1").email == email
    (waiting,) = arbitration.read(lambda uow: queue(uow, QueueFilter())).rows
    assert (waiting.status, waiting.contract_id) == ("under_review", contract["id"])
    assert f"dispute {waiting.id}: the buyer claims the whole escrow back" in told

    assert invoke(url, "sweep").startswith("0 timer(s) fired\n")
    rehearsed = invoke(url, "sweep", "--now", "2030-01-01T00:00:00Z")
    assert "review_period_elapsed" in rehearsed
    assert "-> approved\n1 timer(s) fired\n0 dispute(s) past" in rehearsed
    assert invoke(url, "audit", "verify").startswith("audit ok")


def test_no_key_or_account_on_a_database_that_exists(tmp_path):
    url = f"sqlite:///{tmp_path / 'tranche.db'}"
    invoke(url, "db", "upgrade")
    told = invoke(url, "demo")
    assert "the case waits for staff to rule" in told
    assert "way in" not in told
    assert "password" not in told
    assert _keys_and_staff(Database(url)) == (0, 0)


@pytest.mark.postgres
def test_no_key_or_account_on_postgresql(postgres_database):
    told = invoke(postgres_database.url, "demo")
    assert "the case waits for staff to rule" in told
    assert "way in" not in told
    assert _keys_and_staff(postgres_database) == (0, 0)


def _keys_and_staff(database: Database) -> tuple[int, int]:
    with database.session(read_only=True) as session:
        count = lambda table: session.scalar(select(func.count()).select_from(table))  # noqa: E731
        return count(ApiKey), count(Staff)
