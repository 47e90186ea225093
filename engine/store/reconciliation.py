"""A rail report, staged in the database and matched against Tranche's rail records.

Nothing here holds a report in memory: its lines are inserted in batches into
`rail_report_lines` as they are read, then matched by SQL (an UPDATE joining the lines
to the fundings, payouts and chargebacks by tenant and reference, one pass per column a
reference may be in), judged by one UPDATE, and the settled records dated within the
report that no line matched are added by one INSERT ... SELECT (an anti-join). The report
itself is one row keyed by tenant, the file's SHA-256 and the mapping: importing the same
file again finds that row and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from itertools import islice
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    case,
    exists,
    func,
    insert,
    literal,
    null,
    select,
    text,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.domain import rail
from engine.domain.reconcile import (
    AMOUNT_DIFFERS,
    CHARGEBACK,
    CURRENCY_DIFFERS,
    DUPLICATE_IN_RAIL,
    FUNDING,
    MATCHED,
    MISSING_IN_RAIL,
    MISSING_IN_TRANCHE,
    NOT_TRACKED,
    OUTCOMES,
    PAYOUT,
    REFUND,
    STATUS_DIFFERS,
    ReportLine,
)
from engine.store.models import Base, Chargeback, Funding, Payout, UTCDateTime

BATCH = 5000
REFERENCES = 3
"""Columns a line's reference may come from (Stripe: source, PaymentIntent, Charge)."""
SETTLED = (rail.CONFIRMED, rail.PAID, rail.REVERSED, rail.BOOKED, rail.WON, rail.LOST)
"""Statuses of a record whose money the rail did move: a confirmed funding, a paid (or
later reversed) payout or refund, any chargeback."""


class RailReport(Base):
    """One imported report of the rail, per tenant, file (SHA-256) and column mapping."""

    __tablename__ = "rail_reports"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))
    mapping: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str] = mapped_column(String(255))
    lines: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("tenant", "digest", "mapping", name="uq_rail_reports_file"),)


class RailReportLine(Base):
    """A line of a report (`line` is its line in the file) with what it matched, or a
    Tranche record the report lacks (`line` NULL, outcome missing_in_rail)."""

    __tablename__ = "rail_report_lines"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    report_id: Mapped[str] = mapped_column(ForeignKey("rail_reports.id"))
    line: Mapped[int | None] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(32), default="")
    kind: Mapped[str | None] = mapped_column(String(16))
    ref1: Mapped[str | None] = mapped_column(String(255))
    ref2: Mapped[str | None] = mapped_column(String(255))
    ref3: Mapped[str | None] = mapped_column(String(255))
    rail_amount: Mapped[int | None] = mapped_column(BigInteger)
    rail_currency: Mapped[str | None] = mapped_column(String(3))
    fee: Mapped[int] = mapped_column(BigInteger, default=0)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    reference: Mapped[str | None] = mapped_column(String(255))  # the record's, once found
    record_id: Mapped[str | None] = mapped_column(String(40))
    contract_id: Mapped[str | None] = mapped_column(String(40))
    milestone_id: Mapped[str | None] = mapped_column(String(40))
    tranche_amount: Mapped[int | None] = mapped_column(BigInteger)
    tranche_currency: Mapped[str | None] = mapped_column(String(3))
    tranche_status: Mapped[str | None] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(24))

    __table_args__ = (
        Index("ix_rail_report_lines_line", "report_id", "line"),
        Index("ix_rail_report_lines_record", "report_id", "record_id"),
    )


L = cast(Table, RailReportLine.__table__)
RECORDS: tuple[tuple[str, Any, ColumnElement[bool] | None], ...] = (
    (FUNDING, Funding, None),
    (PAYOUT, Payout, Payout.kind == PAYOUT),
    (REFUND, Payout, Payout.kind == REFUND),
    (CHARGEBACK, Chargeback, None),
)
"""Each kind of line, the table of its records, and what tells that kind apart there."""


def find(session: Session, tenant: str, digest: str, mapping: str) -> RailReport | None:
    query = select(RailReport).where(
        RailReport.tenant == tenant, RailReport.digest == digest, RailReport.mapping == mapping
    )
    return session.scalars(query).first()


def stage(
    session: Session,
    report: RailReport,
    lines: Iterable[ReportLine],
    progress: Callable[[int], None] | None = None,
) -> None:
    """Insert the lines, a batch at a time; note their count and first and last moment."""
    source = iter(lines)
    while batch := list(islice(source, BATCH)):
        session.execute(insert(L), [_row(report.id, line) for line in batch])
        moments = [line.at for line in batch]
        report.first_at = min(moments + ([report.first_at] if report.first_at else []))
        report.last_at = max(moments + ([report.last_at] if report.last_at else []))
        report.lines += len(batch)
        if progress is not None:
            progress(batch[-1].line)


def _row(report_id: str, line: ReportLine) -> dict[str, Any]:
    refs = (*line.references, None, None)[:REFERENCES]
    return {
        "report_id": report_id,
        "line": line.line,
        "category": line.category,
        "kind": line.kind,
        "ref1": refs[0],
        "ref2": refs[1],
        "ref3": refs[2],
        "rail_amount": line.amount,
        "rail_currency": line.currency,
        "fee": line.fee,
        "at": line.at,
    }


def match(session: Session, report: RailReport) -> None:
    """Find each line's record, judge every line, then add what the report lacks."""
    if session.get_bind().dialect.name == "postgresql":
        # The planner would take the lines just staged for none, and join every payout
        # to every line (30 s at 10^5 lines); fresh statistics make it look each line up.
        session.execute(text("ANALYZE rail_report_lines"))
    for kind, model, only in RECORDS:
        for reference in (L.c.ref1, L.c.ref2, L.c.ref3):
            conditions = [
                L.c.report_id == report.id,
                L.c.kind == kind,
                L.c.record_id.is_(None),
                model.tenant == report.tenant,
                model.rail_reference == reference,
            ]
            found = update(L).where(*conditions, *([only] if only is not None else []))
            session.execute(found.values(_record_values(model)))
    session.execute(update(L).where(L.c.report_id == report.id).values(outcome=_judged()))
    earlier = L.alias("earlier")
    again = exists().where(
        earlier.c.report_id == report.id,
        earlier.c.record_id == L.c.record_id,
        earlier.c.id < L.c.id,
    )
    twice = update(L).where(L.c.report_id == report.id, L.c.record_id.is_not(None), again)
    session.execute(twice.values(outcome=DUPLICATE_IN_RAIL))
    if report.first_at is not None:
        for kind, model, only in RECORDS:
            session.execute(_missing_in_rail(report, kind, model, only))


def _record_values(model: Any) -> dict[str, Any]:
    return {
        "reference": model.rail_reference,
        "record_id": model.id,
        "contract_id": model.contract_id,
        "milestone_id": getattr(model, "milestone_id", null()),
        "tranche_amount": model.amount,
        "tranche_currency": model.currency,
        "tranche_status": model.status,
    }


def _judged() -> Any:
    return case(
        (L.c.kind.is_(None), NOT_TRACKED),
        (L.c.record_id.is_(None), MISSING_IN_TRANCHE),
        (L.c.rail_currency != L.c.tranche_currency, CURRENCY_DIFFERS),
        (L.c.rail_amount != L.c.tranche_amount, AMOUNT_DIFFERS),
        (L.c.tranche_status.not_in(SETTLED), STATUS_DIFFERS),
        else_=MATCHED,
    )


def _missing_in_rail(report: RailReport, kind: str, model: Any, only: Any) -> Any:
    """The tenant's settled records of `kind` dated within the report that no line found."""
    booked = model is Chargeback  # settled_at is when a chargeback was won or lost
    moment = model.created_at if booked else func.coalesce(model.settled_at, model.created_at)
    unmatched = ~exists().where(L.c.report_id == report.id, L.c.record_id == model.id)
    values = _record_values(model)
    chosen = select(
        literal(report.id),
        literal(""),
        literal(kind),
        literal(0),
        moment,
        literal(MISSING_IN_RAIL),
        *values.values(),
    ).where(
        model.tenant == report.tenant,
        model.status.in_(SETTLED),
        moment.between(report.first_at, report.last_at),
        unmatched,
        *([only] if only is not None else []),
    )
    columns = ["report_id", "category", "kind", "fee", "at", "outcome", *values]
    return insert(L).from_select(columns, chosen)


# reading a report ------------------------------------------------------------------------


def _total(value: Any) -> Any:
    """A sum as a whole number on both databases (PostgreSQL's SUM of bigint is numeric)."""
    return sql_cast(func.coalesce(func.sum(value), 0), BigInteger)


def _count(outcome: str) -> Any:
    return _total(case((L.c.outcome == outcome, 1), else_=0)).label(outcome)


CURRENCY = func.coalesce(L.c.rail_currency, L.c.tranche_currency).label("currency")


def summary(session: Session, report_id: str) -> list[dict[str, Any]]:
    """Per currency and outcome: how many, the rail's and Tranche's totals, the fees."""
    query = (
        select(
            CURRENCY,
            L.c.outcome,
            func.count().label("count"),
            _total(L.c.rail_amount).label("rail_amount"),
            _total(L.c.tranche_amount).label("tranche_amount"),
            _total(L.c.fee).label("fees"),
        )
        .where(L.c.report_id == report_id)
        .group_by(CURRENCY, L.c.outcome)
        .order_by(CURRENCY, L.c.outcome)
    )
    return [dict(row._mapping) for row in session.execute(query)]


def groups(session: Session, report_id: str) -> Iterator[dict[str, Any]]:
    """Per contract, milestone and currency: a count per outcome and the fees (lines the
    report could not place on a contract form the group without one, first)."""
    query = (
        select(
            L.c.contract_id,
            L.c.milestone_id,
            CURRENCY,
            *(_count(outcome) for outcome in OUTCOMES),
            _total(L.c.fee).label("fees"),
        )
        .where(L.c.report_id == report_id)
        .group_by(L.c.contract_id, L.c.milestone_id, CURRENCY)
        .order_by(L.c.contract_id.nulls_first(), L.c.milestone_id.nulls_first(), CURRENCY)
    )
    for row in session.execute(query.execution_options(yield_per=BATCH)):
        yield dict(row._mapping)


ITEM = (
    L.c.line,
    L.c.outcome,
    L.c.kind,
    L.c.category,
    func.coalesce(L.c.reference, L.c.ref1, L.c.ref2, L.c.ref3).label("reference"),
    L.c.record_id,
    L.c.contract_id,
    L.c.milestone_id,
    L.c.rail_amount,
    L.c.rail_currency,
    L.c.tranche_amount,
    L.c.tranche_currency,
    L.c.tranche_status,
    L.c.fee,
    L.c.at,
)
ITEM_NAMES = tuple(column.name for column in ITEM)


def items(session: Session, report_id: str, only: Iterable[str] | None = None) -> Iterator[Any]:
    """The report's lines in file order, then what the rail lacks; only some outcomes if
    `only` says which. A row at a time from the database (a batch at a time)."""
    query = select(*ITEM).where(L.c.report_id == report_id)
    if only is not None:
        query = query.where(L.c.outcome.in_(list(only)))
    query = query.order_by(L.c.line.is_(None), L.c.line, L.c.id)
    yield from session.execute(query.execution_options(yield_per=BATCH))


def differs(session: Session, report_id: str, outcomes: Iterable[str]) -> bool:
    query = select(L.c.id).where(L.c.report_id == report_id, L.c.outcome.in_(list(outcomes)))
    return session.execute(query.limit(1)).first() is not None
