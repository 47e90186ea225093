"""Tables of the party pages: links, contacts, per-tenant page settings, and notices.

A notice is the proof behind the checker's "the party was notified" assumption: one row
per event and notified party, written by a trigger in the event's own INSERT (migration
0015, see engine.store.notices), and stamped as its email is sent and accepted and as
the party's page is opened after it. They live on `engine.store.models.Base`, so the one Alembic
history (revision 0015_party_pages) and the test fixtures see them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.models import Base, UTCDateTime


class PartyLink(Base):
    """A signed-in-by-link way onto one party's page of one contract; only the SHA-256 of
    its 256-bit token is stored, so a leaked database opens no page."""

    __tablename__ = "party_links"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    locale: Mapped[str] = mapped_column(String(35))
    time_zone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PartyContact(Base):
    """Where a party of a contract gets its notices by email (set when a link is minted)."""

    __tablename__ = "party_contacts"
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(35))
    time_zone: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PartySettings(Base):
    """A tenant's choices for its parties' pages and mail: the sender, the origins that may
    frame the page, and a few theme colours."""

    __tablename__ = "party_settings"
    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    mail_from: Mapped[str | None] = mapped_column(String(254))
    embed_origins: Mapped[str] = mapped_column(Text, default="")
    theme: Mapped[str] = mapped_column(Text, default="{}")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Notice(Base):
    """One party told of one event: on its page at once, by email through the outbox."""

    __tablename__ = "notices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"))
    milestone_id: Mapped[str | None] = mapped_column(ForeignKey("milestones.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    party_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    email_to: Mapped[str | None] = mapped_column(String(254))
    email_status: Mapped[str] = mapped_column(String(16))
    email_attempts: Mapped[int] = mapped_column(Integer, default=0)
    email_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    email_error: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_notices_contract_role", "contract_id", "role"),
        Index("ix_notices_email_due", "email_status", "email_next_at"),
    )
