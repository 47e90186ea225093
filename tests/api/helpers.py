"""A JSON client for the API tests: a key, an actor, and shortcuts for the common steps."""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request
from typing import Any

from flask import Flask

from engine.service.tranche import Tranche
from engine.service.uow import UnitOfWork
from engine.store.db import Database
from engine.store.keyring import new_key
from engine.store.models import Contract
from web.api.feed import catch_up

BUYER, PROVIDER, STRANGER = "buyer-1", "provider-1", "stranger-1"
ENCRYPTION_KEYS = new_key()
"""The test apps' TRANCHE_ENCRYPTION_KEYS (webhook secrets are stored encrypted)."""


def tenant_contract(tranche: Tranche) -> Contract:
    """A contract of tenant "t1" made through the engine: one event, no HTTP."""
    return tranche.create_contract(
        buyer_id="b", provider_id="p", currency="USD", agreed_amount=100, title="t", tenant="t1"
    )


def number_feed(database: Database) -> int:
    """Number the feed rows committed so far and write their deliveries, as a feed read or
    a `tranche deliver` round does first; tests that read api_feed or the outbox directly
    call this after the commands."""
    with UnitOfWork(database) as uow:
        return catch_up(uow)


class Client:
    """Flask's test client with a key, an actor and JSON in and out."""

    counter = itertools.count()

    def __init__(self, app: Flask, key: str) -> None:
        self.http, self.key = app.test_client(), key

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        actor: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        sent = {"Authorization": f"Bearer {self.key}"}
        if actor:
            sent["Tranche-Actor"] = actor
        sent |= headers or {}
        kwargs: dict[str, Any] = {"headers": sent}
        if body is not None:
            kwargs["json"] = body
        return self.http.open(path, method=method, **kwargs)

    def get(self, path: str, **kw: Any) -> Any:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call("POST", path, body, **kw)

    def contract(self, amount: int = 100_000) -> dict[str, Any]:
        response = self.post(
            "/v1/contracts",
            {
                "buyer_id": BUYER,
                "provider_id": PROVIDER,
                "currency": "USD",
                "agreed_amount": amount,
                "title": "Site redesign",
            },
        )
        assert response.status_code == 201, response.json
        return response.json

    def milestone(self, contract_id: str, amount: int = 25_000) -> dict[str, Any]:
        response = self.post(
            f"/v1/contracts/{contract_id}/milestones", {"title": "Part", "amount": amount}
        )
        assert response.status_code == 201, response.json
        return response.json

    def fire(self, milestone_id: str, event: str, actor: str, **kw: Any) -> Any:
        return self.post(f"/v1/milestones/{milestone_id}/events/{event}", actor=actor, **kw)


class LiveServer:
    """Plain HTTP to a running server: one call per connection, safe from many threads."""

    def __init__(self, base: str, key: str) -> None:
        self.base, self.key = base, key

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        actor: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        sent = {"Authorization": f"Bearer {self.key}"} | (headers or {})
        if actor:
            sent["Tranche-Actor"] = actor
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data=data, headers=sent, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return (
                    response.status,
                    json.loads(response.read() or b"null"),
                    dict(response.headers),
                )
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null"), dict(exc.headers)
