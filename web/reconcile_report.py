"""A reconciliation written out as a table, CSV or JSON, a chunk at a time.

The CLI prints the chunks, the API streams them: a report of a million lines is never
held whole (engine.store.reconciliation reads it from the database a batch at a time).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from typing import Any

from engine.domain.reconcile import OUTCOMES
from engine.service import reconciliations
from engine.service.uow import UnitOfWork
from engine.store.reconciliation import ITEM_NAMES, RailReport

Writer = Callable[[UnitOfWork, RailReport, bool], Iterator[str]]


def json_chunks(uow: UnitOfWork, report: RailReport, replayed: bool) -> Iterator[str]:
    """{header..., "summary": [...], "groups": [...], "differences": [...]}"""
    head = reconciliations.header(report, replayed)
    head["summary"] = reconciliations.summary(uow, report)
    yield json.dumps(head)[:-1]
    for name, rows in (
        ("groups", reconciliations.groups(uow, report)),
        ("differences", reconciliations.differences(uow, report)),
    ):
        yield f', "{name}": ['
        for index, row in enumerate(rows):
            yield (", " if index else "") + json.dumps(row)
        yield "]"
    yield "}\n"


def csv_chunks(uow: UnitOfWork, report: RailReport, replayed: bool) -> Iterator[str]:
    """One row per line of the report (in file order), then per record the report lacks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(ITEM_NAMES)
    for row in reconciliations.items(uow, report):
        writer.writerow(reconciliations.as_item(row).values())
        if buffer.tell() > 64 * 1024:
            yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


SHORT = {
    "matched": "matched",
    "missing_in_tranche": "not in Tranche",
    "missing_in_rail": "not in rail",
    "amount_differs": "amount",
    "currency_differs": "currency",
    "status_differs": "status",
    "duplicate_in_rail": "twice",
    "not_tracked": "untracked",
}


def table_chunks(uow: UnitOfWork, report: RailReport, replayed: bool) -> Iterator[str]:
    """The summary per currency, a line per contract and milestone, then each difference."""
    head = reconciliations.header(report, replayed)
    again = " (imported before: the earlier result)" if replayed else ""
    yield (
        f"reconciliation {head['id']} of {head['file_name']}{again}\n"
        f"{head['source']} report, {head['lines']} lines, "
        f"{head['first_at'] or '-'} to {head['last_at'] or '-'}\n\n"
    )
    yield _row(SUMMARY, "currency", "outcome", "count", "rail amount", "tranche amount", "fees")
    for row in reconciliations.summary(uow, report):
        yield _row(SUMMARY, *(row[key] for key in ("currency", "outcome", "count")), *_totals(row))
    yield "\n" + _row(GROUPS, "contract", "milestone", "currency", *SHORT.values(), "fees")
    for group in reconciliations.groups(uow, report):
        counts = [group[outcome] for outcome in OUTCOMES]
        place = (group["contract_id"] or "(none)", group["milestone_id"] or "-")
        yield _row(GROUPS, *place, group["currency"], *counts, group["fees"])
    yield "\n"
    count = 0
    for item in reconciliations.differences(uow, report):
        count += 1
        yield _difference(item)
    yield "no differences\n" if not count else f"{count} difference(s)\n"


def _totals(row: dict[str, Any]) -> tuple[Any, ...]:
    return row["rail_amount"], row["tranche_amount"], row["fees"]


SUMMARY = (8, 18, 8, 14, 14, 10)
GROUPS = (24, 24, 8, *(len(name) for name in SHORT.values()), 10)


def _row(widths: tuple[int, ...], *cells: Any) -> str:
    line = "  ".join(f"{str(cell):<{width}}" for cell, width in zip(cells, widths, strict=True))
    return line.rstrip() + "\n"


def _difference(item: dict[str, Any]) -> str:
    where = f"line {item['line']}" if item["line"] is not None else f"record {item['record_id']}"
    rail = (
        f"rail {item['rail_amount']} {item['rail_currency']}"
        if item["rail_amount"] is not None
        else "not in the rail's report"
    )
    tranche = (
        f"tranche {item['tranche_amount']} {item['tranche_currency']} ({item['tranche_status']})"
        if item["record_id"]
        else "no Tranche record"
    )
    place = (
        f" on {item['contract_id']}/{item['milestone_id'] or '-'}" if item["contract_id"] else ""
    )
    what = f"{item['outcome']}: {item['kind']} {item['reference']}"
    return f"{where}: {what}: {rail}, {tranche}{place}\n"


WRITERS: dict[str, Writer] = {"table": table_chunks, "csv": csv_chunks, "json": json_chunks}
