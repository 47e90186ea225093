"""Database tables. States are plain strings; the machine is rebuilt around a row per use.

Ledger entries, postings and events are append-only: the migrations install
triggers that refuse UPDATE and DELETE on them, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from engine.domain.clock import as_utc
from engine.domain.decision import AWAITING_RESPONSE, OPEN_STATUSES


def new_id(prefix: str) -> str:
    """Unguessable ids with a readable kind (ct_..., ms_..., pr_...) that sort by creation:
    48 bits of milliseconds, then 64 random bits (as UUIDv7 and ULID do). New rows then
    land at the right edge of every index on an id, which stays in memory as a table
    grows, where random ids touch a page anywhere in it."""
    return f"{prefix}_{time.time_ns() // 1_000_000:012x}{secrets.token_hex(8)}"


class UTCDateTime(TypeDecorator[datetime]):
    """Always an aware UTC datetime in Python, whatever the backend stores."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


class Base(DeclarativeBase):
    pass


class PolicyVersion(Base):
    """A published policy document: immutable once stored, so milestones can rely on it."""

    __tablename__ = "policy_versions"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    document: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Contract(Base):
    __tablename__ = "contracts"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    buyer_id: Mapped[str] = mapped_column(String(128))
    provider_id: Mapped[str] = mapped_column(String(128))
    currency: Mapped[str] = mapped_column(String(3))
    agreed_amount: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(200))
    policy_name: Mapped[str] = mapped_column(String(64))
    policy_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Head of the contract's event hash chain, moved by a trigger on each event's INSERT
    # (migration 0009); its row lock serialises writers per contract on PostgreSQL.
    event_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_event_hash: Mapped[str] = mapped_column(String(64))


class Milestone(Base):
    __tablename__ = "milestones"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    amount: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(64))
    policy_name: Mapped[str] = mapped_column(String(64))
    policy_version: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    revisions: Mapped[int] = mapped_column(Integer, default=0)
    # The milestone's money figures, sums of its postings kept on the row by every
    # posting (engine.store.ledger.post) so commands and views need not sum the ledger;
    # `tranche audit verify` proves they agree with the postings.
    escrow: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    funded: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    released: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    refunded: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    fees: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    pending_funding: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    charged_back: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The state before the current one, and the role whose event entered the current
    # one: `withdraw` goes back there, and `opener` names that role.
    previous_state: Mapped[str | None] = mapped_column(String(64))
    entered_by: Mapped[str | None] = mapped_column(String(16))
    # The live dispute case while the milestone is in a state a dispute entered.
    dispute_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}


OPEN_CASE = text("status IN (" + ", ".join(f"'{s}'" for s in OPEN_STATUSES) + ")")
AWAITING_CASE = text(f"status = '{AWAITING_RESPONSE}'")
PENDING_TIMER = text("status = 'pending'")  # engine.store.timers.PENDING
"""The predicates of the partial indexes on open cases: closed cases outnumber open ones
without bound, and the queue and the deadline sweep read only the few open ones. A query
meets them only with the statuses written as literals (`sqlalchemy.literal_execute`)."""


class Dispute(Base):
    """A milestone's dispute case: opened and closed by the milestone's own commands
    (engine.decision); arbitration adds what is said, offered and ruled in it."""

    __tablename__ = "disputes"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    milestone_id: Mapped[str] = mapped_column(ForeignKey("milestones.id"), index=True)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"), index=True)
    tenant: Mapped[str] = mapped_column(String(64))
    buyer_id: Mapped[str] = mapped_column(String(128), index=True)
    provider_id: Mapped[str] = mapped_column(String(128), index=True)
    opened_by: Mapped[str] = mapped_column(String(128))
    opener_role: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    # What the opener asks for; granted by default if the other party stays silent.
    claim_to_provider: Mapped[int] = mapped_column(BigInteger)
    claim_to_buyer: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)  # the escrow at stake
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(24))
    respond_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the queue's order
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_disputes_status_due", "status", "due_at", "id"),
        Index("ix_disputes_assignee_status_due", "assignee_id", "status", "due_at", "id"),
        Index("ix_disputes_due", "due_at", "id"),
        Index(
            "ix_disputes_open_due",
            "due_at",
            "id",
            postgresql_where=OPEN_CASE,
            sqlite_where=OPEN_CASE,
        ),
        Index(  # status leads so that SQLite, without statistics, prefers it to status_due
            "ix_disputes_awaiting_respond_by",
            "status",
            "respond_by",
            "id",
            postgresql_where=AWAITING_CASE,
            sqlite_where=AWAITING_CASE,
        ),
    )


class LedgerEntry(Base):
    """One balanced money movement: its postings sum to zero."""

    __tablename__ = "ledger_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"), index=True)
    milestone_id: Mapped[str | None] = mapped_column(ForeignKey("milestones.id"))
    kind: Mapped[str] = mapped_column(String(16))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    memo: Mapped[str] = mapped_column(String(200), default="")
    # Indexed: a report as of an instant reads the entries made after it
    # (engine.store.liability).
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Posting(Base):
    """One leg of an entry: a signed amount on one account (positive = the account holds more)."""

    __tablename__ = "postings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), index=True)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"))
    milestone_id: Mapped[str | None] = mapped_column(ForeignKey("milestones.id"))
    account: Mapped[str] = mapped_column(String(32))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # The party whose account it is, for a party account (engine.domain.ledger_legs).
    party_id: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (
        Index("ix_postings_contract_account", "contract_id", "account"),
        Index("ix_postings_milestone_account", "milestone_id", "account"),
        Index("ix_postings_party", "party_id", "contract_id", "account"),
    )


class Event(Base):
    """The audit trail: every transition and payment, hash-chained per contract."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"))
    milestone_id: Mapped[str | None] = mapped_column(ForeignKey("milestones.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[str] = mapped_column(String(128))
    actor_role: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    from_state: Mapped[str | None] = mapped_column(String(64))
    to_state: Mapped[str | None] = mapped_column(String(64))
    policy_name: Mapped[str] = mapped_column(String(64))
    policy_version: Mapped[int] = mapped_column(Integer)
    data: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("contract_id", "seq", name="uq_events_contract_seq"),)


class Timer(Base):
    """A default action due at a moment unless someone acts first (auto-approve, auto-refund)."""

    __tablename__ = "timers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    milestone_id: Mapped[str] = mapped_column(ForeignKey("milestones.id"), index=True)
    event: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(200), default="")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # Only pending timers, the sweep's few among every finished one, in the sweep's
        # order. Status does not lead: a command's "cancel this milestone's pending
        # timers" then always takes the milestone's index (SQLite, without statistics,
        # walked every pending timer through a status-led index instead).
        Index(
            "ix_timers_pending_due",
            "due_at",
            "id",
            postgresql_where=PENDING_TIMER,
            sqlite_where=PENDING_TIMER,
        ),
    )


class PaymentRequest(Base):
    """The provider asks the buyer for a direct payment (say, a small sum before starting)."""

    __tablename__ = "payment_requests"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(16), default="requested")
    requested_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(128))


class Funding(Base):
    """Money the rail charged (or is charging) the buyer for one milestone.

    Confirmed when the command says so (confirm first), or opened pending and then
    confirmed, failed or expired exactly once (two-phase): the status moves only by a
    conditional UPDATE from `pending`, so two confirmations can never both win.
    """

    __tablename__ = "fundings"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"), index=True)
    milestone_id: Mapped[str] = mapped_column(ForeignKey("milestones.id"), index=True)
    event: Mapped[str] = mapped_column(String(64))  # the policy event it fires when confirmed
    actor_id: Mapped[str] = mapped_column(String(128))  # who funded: the event's actor
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    rail_reference: Mapped[str | None] = mapped_column(String(255))
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("tenant", "rail_reference", name="uq_fundings_reference"),
        Index("ix_fundings_pending_expiry", "status", "expires_at"),
    )


class PartyBalance(Base):
    """What is owed to one party in one currency, summed over their contracts of a tenant.

    Kept by every posting on the party's accounts (engine.store.ledger.post), in the same
    transaction; `tranche audit verify` proves it equals the postings. Its row lock
    serialises what decides on the balance (a payout, a chargeback, a debt's offset).
    """

    __tablename__ = "party_balances"
    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    party_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    pending: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    available: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    in_flight: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    paid_out: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # What the party's contracts in debt owe (a chargeback the provider bore beyond what
    # they had); offset against their credits as they come (engine.store.balances).
    debt: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class PayableHold(Base):
    """A credit in the policy's security hold: it becomes available at `available_at`."""

    __tablename__ = "payable_holds"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    party_id: Mapped[str] = mapped_column(String(128))
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"))
    milestone_id: Mapped[str | None] = mapped_column(ForeignKey("milestones.id"))
    amount: Mapped[int] = mapped_column(BigInteger)  # still held (a chargeback may take some)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime)
    matured_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_payable_holds_due", "matured_at", "available_at"),
        Index("ix_payable_holds_party", "party_id", "contract_id"),
    )


class Payout(Base):
    """A payout (to a provider) or refund (to a buyer) the integrator's rail makes."""

    __tablename__ = "payouts"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"), index=True)
    party_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # payout | refund
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    rail_reference: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    reversed_amount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("tenant", "rail_reference", name="uq_payouts_reference"),)


class Chargeback(Base):
    """Money the rail took back from a funding (a card dispute), and who bore it."""

    __tablename__ = "chargebacks"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    funding_id: Mapped[str] = mapped_column(ForeignKey("fundings.id"), index=True)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"))
    milestone_id: Mapped[str] = mapped_column(ForeignKey("milestones.id"), index=True)
    rail_reference: Mapped[str] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(500), default="")
    respond_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    split: Mapped[str] = mapped_column(Text)  # who bore it (JSON of rail.ChargebackSplit)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("tenant", "rail_reference", name="uq_chargebacks_reference"),
    )

    @property
    def shares(self) -> dict[str, int]:
        """Who bore it, as booked: from_escrow, from_available, from_pending, provider_debt,
        platform_loss, and from_provider (their sum for the provider)."""
        parts: dict[str, int] = json.loads(self.split)
        return parts


class RailEndpoint(Base):
    """A tenant's webhook endpoint for one rail (Stripe): the signing secret, encrypted."""

    __tablename__ = "rail_endpoints"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), unique=True)
    rail: Mapped[str] = mapped_column(String(16))
    secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RailEvent(Base):
    """A rail's webhook event, kept so that a redelivery changes nothing (idempotency)."""

    __tablename__ = "rail_events"
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("rail_endpoints.id"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(500))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
