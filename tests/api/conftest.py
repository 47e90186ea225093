"""An app per test on the parametrised database, and two tenants' clients."""

from __future__ import annotations

import pytest
from flask import Flask

from api.helpers import Client
from engine.clock import FixedClock
from engine.db import Database
from web.api.auth import create_key
from web.app import create_app


@pytest.fixture
def app(database: Database, clock: FixedClock) -> Flask:
    return create_app({"DATABASE_URL": database.url, "AUTO_UPGRADE": False}, clock)


@pytest.fixture
def client(app: Flask) -> Client:
    _, key = create_key(app.extensions["tranche"].database, "acme")
    return Client(app, key)


@pytest.fixture
def other(app: Flask) -> Client:
    """A second tenant."""
    _, key = create_key(app.extensions["tranche"].database, "globex")
    return Client(app, key)
