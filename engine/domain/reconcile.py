"""What a line of the rail's report says, and how it compares with Tranche's records.

A report is a CSV file: Stripe's itemized balance-change report
(`balance_change_from_activity.itemized.*`, or the same columns from the Balance
Transactions export), or any CSV given a column mapping. Each line becomes a
`ReportLine`: the kind of movement (a funding, payout, refund or chargeback, or a line
Tranche keeps no record of, such as a Stripe fee or adjustment), the references it may
be known by, the amount and fee in minor units, the currency and the moment.

Amounts are parsed exactly (decimal text, never floats): a value with more decimals than
its currency has is an error naming the file and the line. The sign is the rail's
bookkeeping (Stripe reports a payout as negative gross); Tranche's records hold positive
amounts, so a line's amount is its absolute value.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO

from engine.domain.clock import as_utc
from engine.domain.errors import ReportError, TrancheError
from engine.domain.money import MAX_AMOUNT, Money, check_currency

FUNDING, PAYOUT, REFUND, CHARGEBACK = "funding", "payout", "refund", "chargeback"
KINDS = (FUNDING, PAYOUT, REFUND, CHARGEBACK)

MATCHED = "matched"
MISSING_IN_TRANCHE = "missing_in_tranche"
"""The rail moved money under a reference Tranche has no record of (of that kind)."""
MISSING_IN_RAIL = "missing_in_rail"
"""Tranche recorded a settled movement within the report's dates that the report lacks."""
AMOUNT_DIFFERS, CURRENCY_DIFFERS = "amount_differs", "currency_differs"
DUPLICATE_IN_RAIL = "duplicate_in_rail"
"""A later line of the report moved the same record's money again (charged twice)."""
STATUS_DIFFERS = "status_differs"
"""The rail moved the money, but Tranche's record is not settled that way (a funding still
pending or failed, a payout still in flight or failed)."""
NOT_TRACKED = "not_tracked"
"""A line of a kind Tranche keeps no record of (Stripe's fees, adjustments, reversals):
counted and its fee summed, never a difference."""
OUTCOMES = (
    MATCHED,
    MISSING_IN_TRANCHE,
    MISSING_IN_RAIL,
    AMOUNT_DIFFERS,
    CURRENCY_DIFFERS,
    STATUS_DIFFERS,
    DUPLICATE_IN_RAIL,
    NOT_TRACKED,
)
DIFFERENCES = OUTCOMES[1:-1]
"""Every outcome but matched and not tracked."""

STRIPE_CATEGORIES = {
    "charge": FUNDING,
    "payment": FUNDING,
    "refund": REFUND,
    "payout": PAYOUT,
    "transfer": PAYOUT,
    "dispute": CHARGEBACK,
}
"""Stripe's `reporting_category` per Tranche kind; any other category is not tracked."""

_MINOR = re.compile(r"^-?\d{1,16}$")


@dataclass(frozen=True)
class Mapping:
    """Which column holds what. Each entry lists the columns to use, first present first;
    `reference` lists every column a reference may be in (an integrator may have stored
    a PaymentIntent's or a Charge's id): a line matches a record by any of them."""

    reference: tuple[str, ...]
    amount: tuple[str, ...]
    currency: tuple[str, ...]
    date: tuple[str, ...]
    kind: tuple[str, ...]
    fee: tuple[str, ...] = ()
    minor_units: bool = False
    kinds: dict[str, str] | None = None
    """The kind column's values per Tranche kind (Stripe's categories); None: the values
    are Tranche's kinds themselves."""
    source: str = "csv"

    def kind_of(self, value: str) -> str | None:
        if self.kinds is not None:
            return self.kinds.get(value)
        return value if value in KINDS else None


STRIPE = Mapping(
    reference=("source_id", "payment_intent_id", "charge_id"),
    amount=("gross",),
    currency=("currency",),
    date=("created_utc", "created"),
    kind=("reporting_category",),
    fee=("fee",),
    kinds=STRIPE_CATEGORIES,
    source="stripe",
)
REQUIRED = ("reference", "amount", "currency", "date", "kind")
OPTIONAL = ("fee",)


def generic_mapping(text: str, minor_units: bool) -> Mapping:
    """A mapping from `reference=col,amount=col,currency=col,date=col,kind=col[,fee=col]`."""
    columns: dict[str, tuple[str, ...]] = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        name, sep, column = (piece.strip() for piece in pair.partition("="))
        if not sep or not column:
            raise ReportError(f"--map: {pair!r} is not name=column", field="map")
        if name not in (*REQUIRED, *OPTIONAL):
            known = ", ".join((*REQUIRED, *OPTIONAL))
            raise ReportError(f"--map: unknown name {name!r} (known: {known})", field="map")
        columns[name] = (*columns.get(name, ()), column)
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise ReportError(f"--map: say which column holds {', '.join(missing)}", field="map")
    return Mapping(**columns, minor_units=minor_units)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ReportLine:
    line: int
    category: str
    kind: str | None
    references: tuple[str | None, ...]
    amount: int
    currency: str
    fee: int
    at: datetime


@dataclass
class _Bound:
    """A mapping resolved against a header: column positions."""

    reference: list[int]
    amount: int
    currency: int
    date: int
    kind: int
    fee: int | None
    width: int = field(default=0)


def _bind(mapping: Mapping, header: list[str], name: str) -> _Bound:
    position = {column.strip(): index for index, column in enumerate(header)}

    def first(what: str, columns: tuple[str, ...]) -> int:
        for column in columns:
            if column in position:
                return position[column]
        wanted = " or ".join(repr(column) for column in columns)
        raise ReportError(
            f"{name}, line 1: no column {wanted} for {what} in the header",
            file=name,
            line=1,
            column=columns[0],
        )

    references = [position[column] for column in mapping.reference if column in position]
    if not references:
        first("reference", mapping.reference)
    fee = first("fee", mapping.fee) if mapping.fee else None
    return _Bound(
        references,
        first("amount", mapping.amount),
        first("currency", mapping.currency),
        first("date", mapping.date),
        first("kind", mapping.kind),
        fee,
        len(header),
    )


def read_report(stream: TextIO, mapping: Mapping, name: str) -> Iterator[ReportLine]:
    """The report's lines, one at a time (the file is never held whole); ReportError names
    the file and line of the first that cannot be read."""
    reader = csv.reader(stream)
    try:
        header = next(reader, None)
        if header is None:
            raise ReportError(f"{name}: the file is empty; a header line is expected", file=name)
        bound = _bind(mapping, header, name)
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            yield _line(row, bound, mapping, name, reader.line_num)
    except csv.Error as exc:
        raise ReportError(
            f"{name}, line {reader.line_num}: {exc}", file=name, line=reader.line_num
        ) from None
    except UnicodeDecodeError:
        raise ReportError(f"{name}: the file is not UTF-8 text", file=name) from None


def _line(row: list[str], bound: _Bound, mapping: Mapping, name: str, number: int) -> ReportLine:
    where = f"{name}, line {number}"
    if len(row) != bound.width:
        raise ReportError(
            f"{where}: {len(row)} fields where the header has {bound.width}", file=name, line=number
        )
    try:
        currency = check_currency(row[bound.currency].strip().upper())
        amount = abs(_amount(row[bound.amount], currency, mapping.minor_units))
        fee_text = row[bound.fee].strip() if bound.fee is not None else ""
        fee = _amount(fee_text, currency, mapping.minor_units) if fee_text else 0
        at = as_utc(datetime.fromisoformat(row[bound.date].strip()))
    except TrancheError as exc:
        raise ReportError(f"{where}: {exc.message}", file=name, line=number) from None
    except ValueError:
        raise ReportError(
            f"{where}: {row[bound.date][:40]!r} is not a date and time (ISO 8601)",
            file=name,
            line=number,
        ) from None
    category = row[bound.kind].strip()
    kind = mapping.kind_of(category)
    references = tuple(row[index].strip()[:255] or None for index in bound.reference)
    if kind is not None and not any(references):
        raise ReportError(f"{where}: a {kind} without a reference", file=name, line=number)
    return ReportLine(number, category[:32], kind, references, amount, currency, fee, at)


def _amount(text: str, currency: str, minor_units: bool) -> int:
    text = text.strip()
    if not minor_units:
        return Money.parse(text, currency).minor
    if _MINOR.fullmatch(text) is None or abs(int(text)) > MAX_AMOUNT:
        raise ReportError(f"{text[:40]!r} is not a whole amount of minor units")
    return int(text)
