"""A database that is down, or drops a connection: 503 with Retry-After, never a 500.

The app starts without its database (a gunicorn worker that fails to boot makes
its master shut down for good), answers 503 problem+json while it cannot reach
it, and recovers by itself: a pooled connection the server ended, or one that rested
long, is pinged and replaced at checkout (engine.store.db._ping_when_in_doubt).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import event
from test_console import token

import engine.store.db
import web.app
from api.helpers import BUYER, Client
from conftest import PG_URL
from web.api.auth import create_key
from web.app import BACKOFF, create_app

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def unreachable() -> str:
    return f"postgresql://postgres@127.0.0.1:{closed_port()}/tranche"


def unavailable(response) -> dict:
    assert response.status_code == 503, response.data[:300]
    assert response.headers["Retry-After"] == "5"
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json["code"] == "database_unavailable"
    return response.json


def test_the_app_starts_without_its_database_and_answers_503():
    app = create_app({"DATABASE_URL": unreachable()})
    client = Client(app, "tr_any_key")
    unavailable(client.get("/v1/contracts"))
    unavailable(client.post("/v1/contracts", {"title": "x"}))
    health = app.test_client().get("/health")
    assert (health.status_code, health.headers["Retry-After"]) == (503, "5")
    console = app.test_client()
    form = {"email": "rita@example.com", "password": "x" * 12, "csrf_token": token(console)}
    login = console.post("/console/login", data=form)  # the staff lookup needs the database
    assert (login.status_code, login.headers["Retry-After"]) == (503, "5")


def test_an_opted_in_upgrade_retries_with_backoff_then_serves(monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(web.app, "_sleep", waits.append)
    app = create_app({"DATABASE_URL": unreachable(), "AUTO_UPGRADE": True})
    assert waits == list(BACKOFF)
    unavailable(Client(app, "tr_any_key").get("/v1/contracts"))


@pytest.fixture
def admin(postgres_database):
    with psycopg.connect(PG_URL, autocommit=True) as connection:
        yield connection


def kill_own_backend_on(app, admin, table: str) -> list[str]:
    """Terminate the connection the moment it sends a statement on `table` (once each time
    the returned list holds a mark)."""
    armed: list[str] = []

    @event.listens_for(app.extensions["tranche"].database.engine, "before_cursor_execute")
    def _kill(conn, cursor, statement, parameters, context, executemany):
        if armed and f"FROM {table}" in statement:
            armed.pop()
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    return armed


@pytest.mark.postgres
def test_a_connection_killed_during_the_key_lookup_is_503_then_recovers(postgres_database, admin):
    app = create_app({"DATABASE_URL": postgres_database.url}, None)
    client = Client(app, create_key(postgres_database, "acme")[1])
    armed = kill_own_backend_on(app, admin, "api_keys")
    armed.append("once")
    unavailable(client.get("/v1/contracts"))
    assert client.get("/v1/contracts").status_code == 200


@pytest.mark.postgres
def test_a_connection_killed_during_a_command_is_503_and_a_retry_acts_once(
    postgres_database, admin
):
    app = create_app({"DATABASE_URL": postgres_database.url}, None)
    client = Client(app, create_key(postgres_database, "acme")[1])
    client.get("/v1/contracts")  # the key is cached; the kill hits the command itself
    milestone = client.milestone(client.contract()["id"])
    armed = kill_own_backend_on(app, admin, "milestones")
    armed.append("once")
    key = {"Idempotency-Key": "fund-1"}
    unavailable(client.fire(milestone["id"], "fund", BUYER, headers=key))
    assert client.get(f"/v1/milestones/{milestone['id']}").json["state"] == "proposed"
    funded = client.fire(milestone["id"], "fund", BUYER, headers=key)
    assert (funded.status_code, funded.json["state"]) == (200, "funded")


@pytest.mark.postgres
def test_connections_terminated_between_requests_are_replaced(postgres_database, admin):
    app = create_app({"DATABASE_URL": postgres_database.url}, None)
    client = Client(app, create_key(postgres_database, "acme")[1])
    contract = client.contract()
    name = postgres_database.engine.url.database
    # With a timeout, pg_terminate_backend returns once the backend is gone: the
    # connections were ended before the next request, not while it runs.
    admin.execute(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        (name,),
    )
    assert client.get(f"/v1/contracts/{contract['id']}").status_code == 200


@pytest.mark.postgres
def test_a_busy_healthy_connection_is_not_pinged_and_a_rested_one_is(
    postgres_database, monkeypatch
):
    """The ping is a round trip: a request pays it only when the connection is in doubt."""
    app = create_app({"DATABASE_URL": postgres_database.url}, None)
    client = Client(app, create_key(postgres_database, "acme")[1])
    dialect = app.extensions["tranche"].database.engine.dialect
    pings: list[object] = []
    real_ping = dialect.do_ping
    monkeypatch.setattr(dialect, "do_ping", lambda c: pings.append(c) or real_ping(c))
    contract = client.contract()
    assert client.get(f"/v1/contracts/{contract['id']}").status_code == 200
    assert pings == []
    monkeypatch.setattr(engine.store.db, "PING_IDLE", 0.0)
    assert client.get(f"/v1/contracts/{contract['id']}").status_code == 200
    assert pings


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Retry-After", "")


def test_gunicorn_serves_503_while_the_database_is_down():
    """Before, a failed upgrade in a worker's boot made gunicorn's master exit for good."""
    port = closed_port()
    env = os.environ | {"TRANCHE_DATABASE_URL": unreachable(), "TRANCHE_SECRET_KEY": "test-only"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}"]
        + ["web.app:create_app()"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        answer = None
        for _ in range(300):  # wait for the worker to boot (not a timing assertion)
            try:
                answer = _get(f"http://127.0.0.1:{port}/health")
                break
            except OSError:
                time.sleep(0.1)
        assert answer == (503, "5")
        assert server.poll() is None  # the master is still up
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
