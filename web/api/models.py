"""Tables of the integrator API: keys, idempotency records, the event feed, webhooks.

They live on `engine.store.models.Base` so one Alembic history (revision 0002_api) and
the test fixtures see them; the engine itself never reads them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.models import Base, UTCDateTime


class ApiKey(Base):
    """An integrator's key. Only the SHA-256 of the secret is stored; the key is its tenant."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    tenant: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IdempotencyRecord(Base):
    """The first response to a POST with an Idempotency-Key, stored with the command's rows."""

    __tablename__ = "api_idempotency"
    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    headers: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class FeedEntry(Base):
    """An event's place in the feed: written with the event, `position` NULL until a
    reader or the webhook worker numbers it, in commit order (see web.api.feed).

    `event_id` has no foreign key on purpose: the audit must still be able to find
    (and name) an event deleted behind the engine's back.
    """

    __tablename__ = "api_feed"
    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    position: Mapped[int | None] = mapped_column(BigInteger)
    tenant: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_api_feed_position", "position", unique=True),
        Index("ix_api_feed_tenant_position", "tenant", "position"),
        # Only the rows still to number: the numbering query's one way in, whatever the
        # statistics say (scanning the primary key for NULLs walked every numbered row).
        Index(
            "ix_api_feed_pending",
            "event_id",
            postgresql_where=text("position IS NULL"),
            sqlite_where=text("position IS NULL"),
        ),
    )


class WebhookSubscription(Base):
    """A tenant's webhook URL. Its signing secret is stored only encrypted (web.api.keyring):
    `secret_token` is a Fernet token, never the secret."""

    __tablename__ = "webhook_subscriptions"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret_token: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookDelivery(Base):
    """The outbox: one row per (event, subscription), written when the event is numbered."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("webhook_subscriptions.id"))
    tenant: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    """A code from web.api.webhook_post.ERRORS, never an exception's text."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_subscription", "subscription_id", "position"),
    )


class WebhookAttempt(Base):
    """Each try at a delivery, kept as an append-only record."""

    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer)
