"""Signed webhook deliveries from the outbox (`tranche deliver`).

Each poll first numbers the feed (web.api.feed), which writes the deliveries of
the events committed since: webhooks go out though nobody reads the feed. Each
delivery is leased in a short transaction (its next attempt moved past the
lease), sent with no database transaction open, and its outcome recorded in a
second short transaction: a slow receiver never holds a lock that API writers
wait on (on SQLite, any open write transaction blocks every writer). Several
workers may run at once: a leased delivery is not due for the others.

One slow receiver must not hold up anyone else's: the `Dispatcher` sends on a
bounded pool of threads, one subscription per thread at a time. A subscription's
due deliveries go one after another in feed order (a retry in backoff does not
hold back later ones: receivers order by `cursor`); different subscriptions go
in parallel, and a subscription hands its thread back after `BATCH` deliveries
so that a long backlog takes turns with the others.

Signature: `Tranche-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "t.body")>`,
so a receiver can check the body is ours and refuse replays of old timestamps.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from engine.service.tranche import Tranche
from engine.service.uow import UnitOfWork
from engine.store.keyring import Keyring, KeyringError
from engine.store.models import Event
from web.api import present
from web.api.egress import EgressPolicy
from web.api.feed import catch_up
from web.api.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from web.api.webhook_post import DeliveryFailed, Poster, classify_status

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)
BASE_DELAY = timedelta(seconds=10)
MAX_DELAY = timedelta(hours=6)
MAX_ATTEMPTS = 12
WORKERS = 8
"""Threads sending at once, each for one subscription."""
BATCH = 20
"""Deliveries a subscription sends before its thread takes the next subscription's turn."""


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
class WebhookSettings:
    """What the API and the worker need from the operator: where webhooks may go
    (`TRANCHE_WEBHOOK_ALLOW_HOSTS`) and the keys of the secrets (`TRANCHE_ENCRYPTION_KEYS`)."""

    keyring: Keyring | None = None
    egress: EgressPolicy = field(default_factory=EgressPolicy)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> WebhookSettings:
        """From a Flask config (the settings without their TRANCHE_ prefix)."""
        return cls(
            Keyring.from_setting(config.get("ENCRYPTION_KEYS")),
            EgressPolicy.from_setting(config.get("WEBHOOK_ALLOW_HOSTS")),
        )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> WebhookSettings:
        prefix = "TRANCHE_"
        return cls.from_config(
            {k.removeprefix(prefix): v for k, v in environ.items() if k.startswith(prefix)}
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    delivery_id: str
    subscription_id: str
    status: str
    status_code: int | None
    error: str | None


Sender = Callable[[str, bytes, dict[str, str]], int]
"""Posts (url, body, headers) and returns the status, or raises DeliveryFailed."""


@dataclass(frozen=True, slots=True)
class _Leased:
    delivery_id: str
    url: str
    secret_token: str
    body: bytes


def _lease(tranche: Tranche, subscription_id: str, now: datetime) -> _Leased | None:
    """The subscription's oldest due delivery, leased; None when it has none due (and
    its pending deliveries cancelled, in one statement, if it was deleted)."""
    with tranche.unit_of_work() as uow:
        subscription = uow.session.get(WebhookSubscription, subscription_id)
        if subscription is None or subscription.deleted_at is not None:
            uow.session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.subscription_id == subscription_id,
                    WebhookDelivery.status == "pending",
                )
                .values(status="cancelled")
            )
            uow.commit()
            return None
        query = (
            select(WebhookDelivery)
            .where(
                WebhookDelivery.subscription_id == subscription_id,
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
            )
            .order_by(WebhookDelivery.position)
            .limit(1)
        )
        if uow.database.is_postgres:
            query = query.with_for_update(skip_locked=True)
        while (delivery := uow.session.scalars(query).first()) is not None:
            event = uow.session.get(Event, delivery.event_id)
            if event is not None:
                break
            delivery.status = "cancelled"  # removed behind the engine's back: nothing to send
            uow.session.flush()
        if delivery is None:  # else the loop stopped at a delivery whose event exists
            uow.commit()
            return None
        delivery.next_attempt_at = now + LEASE
        payload = {
            "id": delivery.id,
            "cursor": str(delivery.position),
            "event": present.event(event),
        }
        body = json.dumps(payload, sort_keys=True).encode()
        leased = _Leased(delivery.id, subscription.url, subscription.secret_token, body)
        uow.commit()
        return leased


def _record(
    tranche: Tranche, delivery_id: str, code: int | None, error: str | None, ms: int
) -> Outcome:
    with tranche.unit_of_work() as uow:
        now = uow.clock.now()
        delivery = uow.session.get(WebhookDelivery, delivery_id)
        assert delivery is not None
        delivery.attempts += 1
        delivery.last_status_code, delivery.last_error = code, error
        if error is None:
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
        outcome = Outcome(delivery_id, delivery.subscription_id, delivery.status, code, error)
        uow.commit()
    return outcome


def _attempt(tranche: Tranche, settings: WebhookSettings, send: Sender, leased: _Leased) -> Outcome:
    """Sign and send one leased delivery; record what came of it as a code, never as text."""
    started = time.monotonic()
    code, error = None, None
    try:
        if settings.keyring is None:
            raise KeyringError("no encryption keys configured")
        secret = settings.keyring.decrypt(leased.secret_token)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "tranche-webhooks/1",
            "Tranche-Delivery": leased.delivery_id,
            "Tranche-Signature": sign(secret, int(time.time()), leased.body),
        }
        code = send(leased.url, leased.body, headers)
        error = classify_status(code)
    except KeyringError:
        error = "secret_unreadable"
    except DeliveryFailed as exc:
        error = exc.code
    elapsed = int((time.monotonic() - started) * 1000)
    return _record(tranche, leased.delivery_id, code, error, elapsed)


def _due_subscriptions(uow: UnitOfWork, now: datetime) -> list[str]:
    """Subscriptions with a delivery due, the longest waiting first."""
    waiting = func.min(WebhookDelivery.next_attempt_at)
    return list(
        uow.session.scalars(
            select(WebhookDelivery.subscription_id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
            .group_by(WebhookDelivery.subscription_id)
            .order_by(waiting)
        )
    )


class Dispatcher:
    """Sends due deliveries on a bounded pool of threads, one subscription per thread.

    `poll()` starts a turn for every subscription with a delivery due that has no turn
    running; it never waits for one. Outcomes are queued in `outcomes` as they happen.
    """

    def __init__(
        self,
        tranche: Tranche,
        settings: WebhookSettings,
        send: Sender | None = None,
        workers: int = WORKERS,
    ) -> None:
        self.tranche, self.settings = tranche, settings
        self.send = send or Poster(settings.egress)
        self.outcomes: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhooks")
        self._turns: dict[str, Future[None]] = {}
        self._lock = threading.Lock()

    def poll(self) -> int:
        """Number the feed, then start the turns of subscriptions with work due; how many."""
        with self.tranche.unit_of_work() as uow:
            catch_up(uow)
            due = _due_subscriptions(uow, uow.clock.now())
        started = 0
        with self._lock:
            for subscription_id in due:
                if subscription_id not in self._turns:
                    turn = self._pool.submit(self._turn, subscription_id)
                    self._turns[subscription_id] = turn
                    started += 1
        return started

    def _turn(self, subscription_id: str) -> None:
        try:
            for _ in range(BATCH):
                leased = _lease(self.tranche, subscription_id, self.tranche.clock.now())
                if leased is None:
                    return
                self.outcomes.put(_attempt(self.tranche, self.settings, self.send, leased))
        except Exception:  # kept by the future for wait(); logged for the --loop worker
            log.exception("webhook deliveries of %s stopped", subscription_id)
            raise
        finally:
            with self._lock:
                del self._turns[subscription_id]

    def wait(self) -> None:
        """Until every turn started so far has ended (raising what one raised)."""
        with self._lock:
            turns = list(self._turns.values())
        for turn in turns:
            turn.result()

    def take_outcomes(self) -> list[Outcome]:
        taken: list[Outcome] = []
        while not self.outcomes.empty():
            taken.append(self.outcomes.get())
        return taken

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def deliver_due(
    tranche: Tranche,
    settings: WebhookSettings,
    send: Sender | None = None,
    workers: int = WORKERS,
) -> list[Outcome]:
    """Send everything due now, one attempt each, and return the outcomes (`--once`)."""
    with Dispatcher(tranche, settings, send, workers) as dispatcher:
        while dispatcher.poll():
            dispatcher.wait()
        return dispatcher.take_outcomes()


def redeliver(
    uow: UnitOfWork, tenant: str, subscription_id: str, delivery_id: str
) -> WebhookDelivery | None:
    """Queue a delivery again now (whatever its status); None if it is not the tenant's."""
    delivery = uow.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.tenant != tenant or delivery.subscription_id != subscription_id:
        return None
    delivery.status, delivery.next_attempt_at = "pending", uow.clock.now()
    return delivery
