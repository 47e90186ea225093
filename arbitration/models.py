"""Arbitration tables on the engine's metadata: everything said and decided in a dispute.

The dispute case itself (engine.store.models.Dispute) is the engine's: a milestone's
command opens and closes it in the same transaction as the transition.

`staff_audit` is append-only (database triggers refuse UPDATE and DELETE, as for
the engine's ledger and events). The queue's order, nearest deadline first, is
served by indexes on (status, due_at, id) and (assignee_id, status, due_at, id).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from engine.domain.decision import CLOSED_STATUSES, OPEN_STATUSES
from engine.store.models import Base, UTCDateTime

STATUSES = OPEN_STATUSES + CLOSED_STATUSES


class Staff(Base):
    __tablename__ = "staff"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffSession(Base):
    """A console sign-in. The cookie carries a random token; only its SHA-256 is stored.

    Signing out, a password reset and deactivation end sessions here, so a copied
    cookie stops working at once, whatever its signature says.
    """

    __tablename__ = "staff_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginThrottle(Base):
    """Failed sign-ins counted against one key: `account:<email>` or `address:<ip>`.

    Kept for any email typed, staff or not, so throttling answers the same for both.
    """

    __tablename__ = "login_throttles"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Statement(Base):
    """Something a party (or staff, privately) wrote in the case."""

    __tablename__ = "dispute_statements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispute_id: Mapped[str] = mapped_column(ForeignKey("disputes.id"), index=True)
    author_id: Mapped[str] = mapped_column(String(128))
    author_role: Mapped[str] = mapped_column(String(16))
    staff_only: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Evidence(Base):
    """A text or a file; files are stored once per content, named by their SHA-256."""

    __tablename__ = "dispute_evidence"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispute_id: Mapped[str] = mapped_column(ForeignKey("disputes.id"), index=True)
    author_id: Mapped[str] = mapped_column(String(128))
    author_role: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str | None] = mapped_column(String(200))
    content_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Offer(Base):
    """A settlement one party proposes to the other: to_provider + to_buyer = escrow."""

    __tablename__ = "settlement_offers"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    dispute_id: Mapped[str] = mapped_column(ForeignKey("disputes.id"), index=True)
    offered_by: Mapped[str] = mapped_column(String(128))
    offered_by_role: Mapped[str] = mapped_column(String(16))
    to_provider: Mapped[int] = mapped_column(BigInteger)
    to_buyer: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16))  # open, accepted, rejected, lapsed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Ruling(Base):
    """A staff decision; above the threshold it waits for a second staff member."""

    __tablename__ = "rulings"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    dispute_id: Mapped[str] = mapped_column(ForeignKey("disputes.id"), index=True)
    staff_id: Mapped[str] = mapped_column(String(40))
    to_provider: Mapped[int] = mapped_column(BigInteger)
    to_buyer: Mapped[int] = mapped_column(BigInteger)
    rationale: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(24))  # pending, applied, declined
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(40))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")

    # The approvals page's few pending rulings among every decided one; a case's own
    # pending ruling is found by the case's index (migration 0016 says why).
    __table_args__ = (
        Index(
            "ix_rulings_pending",
            "created_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )


class StaffAudit(Base):
    """Append-only: who did what, when, from which address."""

    __tablename__ = "staff_audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    staff_id: Mapped[str | None] = mapped_column(String(40), index=True)
    action: Mapped[str] = mapped_column(String(40))
    dispute_id: Mapped[str | None] = mapped_column(String(40), index=True)
    detail: Mapped[str] = mapped_column(Text, default="{}")
    address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
