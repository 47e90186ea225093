"""On SQLite, GET requests (and the API key lookup) read without waiting for a writer."""

from __future__ import annotations

import pytest
from sqlalchemy import update

import engine.store.db
from api.helpers import BUYER
from engine.store.db import Database
from engine.store.models import Contract, Milestone


@pytest.fixture
def database(sqlite_database: Database) -> Database:
    return sqlite_database


def test_gets_answer_while_a_write_transaction_is_open(app, client, other, monkeypatch):
    contract = client.contract()
    milestone = client.milestone(contract["id"])
    monkeypatch.setattr(engine.store.db, "SQLITE_WAIT", 0)  # a queued read would fail at once
    database = app.extensions["tranche"].database
    with database.session() as writer, writer.begin():
        writer.execute(update(Contract).values(title="not committed yet"))
        writer.execute(update(Milestone).values(title="not committed yet"))
        got = client.get(f"/v1/contracts/{contract['id']}")
        assert got.status_code == 200, got.json
        assert got.json["title"] == contract["title"]
        got = client.get(f"/v1/milestones/{milestone['id']}", actor=BUYER)
        assert got.status_code == 200, got.json
        assert got.json["title"] == milestone["title"]
        assert other.get("/v1/policies").status_code == 200  # its key is looked up now
    assert client.get(f"/v1/contracts/{contract['id']}").json["title"] == "not committed yet"
