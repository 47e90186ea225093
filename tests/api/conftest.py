"""An app per test on the parametrised database, and two tenants' clients."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.serving import make_server

from api.helpers import ENCRYPTION_KEYS, Client, LiveServer
from engine.domain.clock import FixedClock
from engine.store.db import Database
from web.api.auth import create_key
from web.app import create_app


@pytest.fixture
def app(request: pytest.FixtureRequest, database: Database, clock: FixedClock) -> Flask:
    """Webhooks may reach only public addresses, unless the test module names hosts the
    operator allows in WEBHOOK_ALLOW_HOSTS (its receivers listen on 127.0.0.1)."""
    config = {"DATABASE_URL": database.url, "AUTO_UPGRADE": False}
    config |= {
        "ENCRYPTION_KEYS": ENCRYPTION_KEYS,
        "WEBHOOK_ALLOW_HOSTS": getattr(request.module, "WEBHOOK_ALLOW_HOSTS", ""),
    }
    return create_app(config, clock)


@pytest.fixture
def client(app: Flask) -> Client:
    _, key = create_key(app.extensions["tranche"].database, "acme")
    return Client(app, key)


@pytest.fixture
def other(app: Flask) -> Client:
    """A second tenant."""
    _, key = create_key(app.extensions["tranche"].database, "globex")
    return Client(app, key)


@pytest.fixture
def live(app: Flask) -> Iterator[LiveServer]:
    """The app on a real threaded server at 127.0.0.1 (random port), for concurrent clients."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _, key = create_key(app.extensions["tranche"].database, "live")
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", key)
    finally:
        server.shutdown()
        thread.join(timeout=5)
