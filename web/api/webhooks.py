"""Signed webhook deliveries from the outbox (`tranche deliver`).

Each round first numbers the feed (web.api.feed), which writes the deliveries
of the events committed since: webhooks go out though nobody reads the feed.
Each delivery is leased in a short transaction (its next attempt moved past the
lease), sent with no database transaction open, and its outcome recorded in a
second short transaction: a slow receiver never holds a lock that API writers
wait on (on SQLite, any open write transaction blocks every writer). Several
workers may run at once: a leased delivery is not due for the others.

Signature: `Tranche-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "t.body")>`,
so a receiver can check the body is ours and refuse replays of old timestamps.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from engine.service.tranche import Tranche
from engine.service.uow import UnitOfWork
from engine.store.models import Event
from web.api import present
from web.api.feed import catch_up
from web.api.models import WebhookAttempt, WebhookDelivery, WebhookSubscription

LEASE = timedelta(seconds=60)
BASE_DELAY = timedelta(seconds=10)
MAX_DELAY = timedelta(hours=6)
MAX_ATTEMPTS = 12
TIMEOUT_SECONDS = 10.0


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str, header: str, body: bytes, tolerance: int = 300, now: float | None = None
) -> bool:
    """What a receiver does: recompute the MAC and refuse stale timestamps."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if not parts.get("t", "").isdigit() or "v1" not in parts:
        return False
    timestamp = int(parts["t"])
    if abs((now or time.time()) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts["v1"])


def backoff(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s ... capped at 6 hours."""
    return min(BASE_DELAY * (2 ** max(attempts - 1, 0)), MAX_DELAY)


@dataclass(frozen=True, slots=True)
class Outcome:
    delivery_id: str
    status: str
    status_code: int | None
    error: str | None


Sender = Callable[[str, bytes, dict[str, str]], int]


def http_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _lease(tranche: Tranche, now: datetime) -> tuple[WebhookDelivery, str, str, bytes] | None:
    with tranche.unit_of_work() as uow:
        query = (
            select(WebhookDelivery)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.position)
            .limit(1)
        )
        if uow.database.is_postgres:
            query = query.with_for_update(skip_locked=True)
        delivery = uow.session.scalars(query).first()
        if delivery is None:
            return None
        subscription = uow.session.get(WebhookSubscription, delivery.subscription_id)
        event = uow.session.get(Event, delivery.event_id)
        delivery.next_attempt_at = now + LEASE
        if subscription is None or subscription.deleted_at is not None or event is None:
            delivery.status = "cancelled"
            uow.commit()
            return _lease(tranche, now)
        payload = {
            "id": delivery.id,
            "cursor": str(delivery.position),
            "event": present.event(event),
        }
        body = json.dumps(payload, sort_keys=True).encode()
        url, secret = subscription.url, subscription.secret
        uow.commit()
        return delivery, url, secret, body


def _record(
    tranche: Tranche, delivery_id: str, code: int | None, error: str | None, ms: int
) -> Outcome:
    with tranche.unit_of_work() as uow:
        now = uow.clock.now()
        delivery = uow.session.get(WebhookDelivery, delivery_id)
        assert delivery is not None
        delivery.attempts += 1
        delivery.last_status_code, delivery.last_error = code, error
        if code is not None and 200 <= code < 300:
            delivery.status, delivery.delivered_at = "delivered", now
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = "failed"
        else:
            delivery.next_attempt_at = now + backoff(delivery.attempts)
        uow.session.add(
            WebhookAttempt(
                delivery_id=delivery_id,
                attempted_at=now,
                status_code=code,
                error=error,
                duration_ms=ms,
            )
        )
        status = delivery.status
        uow.commit()
    return Outcome(delivery_id, status, code, error)


def deliver_due(tranche: Tranche, limit: int = 100, send: Sender = http_post) -> list[Outcome]:
    """Number the feed (writing its deliveries), then send every delivery that is due
    (at most `limit`), one attempt each."""
    with tranche.unit_of_work() as uow:
        catch_up(uow)
    outcomes: list[Outcome] = []
    while len(outcomes) < limit:
        leased = _lease(tranche, tranche.clock.now())
        if leased is None:
            break
        delivery, url, secret, body = leased
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "tranche-webhooks/1",
            "Tranche-Delivery": delivery.id,
            "Tranche-Signature": sign(secret, int(time.time()), body),
        }
        started = time.monotonic()
        code, error = None, None
        try:
            code = send(url, body, headers)
        except (OSError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        elapsed = int((time.monotonic() - started) * 1000)
        outcomes.append(_record(tranche, delivery.id, code, error, elapsed))
    return outcomes


def redeliver(
    uow: UnitOfWork, tenant: str, subscription_id: str, delivery_id: str
) -> WebhookDelivery | None:
    """Queue a delivery again now (whatever its status); None if it is not the tenant's."""
    delivery = uow.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.tenant != tenant or delivery.subscription_id != subscription_id:
        return None
    delivery.status, delivery.next_attempt_at = "pending", uow.clock.now()
    return delivery
