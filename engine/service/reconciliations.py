"""Reconciling the rail's report: import it once, match it, and read what it found.

`reconcile` stages a report (engine.domain.reconcile reads it; engine.store.reconciliation
matches it) in one transaction: a line that cannot be read leaves nothing behind. The
same file with the same mapping, imported again by the same tenant, finds the earlier
import and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from engine.domain.errors import NotFoundError
from engine.domain.reconcile import DIFFERENCES, Mapping, read_report
from engine.service.uow import UnitOfWork
from engine.store import reconciliation
from engine.store.models import new_id
from engine.store.reconciliation import RailReport


@dataclass(frozen=True)
class Imported:
    report: RailReport
    replayed: bool
    """True when this file (and mapping) was imported before: nothing was written."""


def describe(mapping: Mapping) -> str:
    """The mapping as text, part of what makes an import the same import."""
    if mapping.source != "csv":
        return mapping.source
    named = {
        name: getattr(mapping, name)
        for name in ("reference", "amount", "currency", "date", "kind", "fee")
    }
    pairs = ",".join(f"{name}={column}" for name, columns in named.items() for column in columns)
    return f"csv:{pairs}:{'minor' if mapping.minor_units else 'major'}"[:500]


def reconcile(
    uow: UnitOfWork,
    tenant: str,
    stream: TextIO,
    name: str,
    digest: str,
    mapping: Mapping,
    progress: Callable[[int], None] | None = None,
) -> Imported:
    described = describe(mapping)
    earlier = reconciliation.find(uow.session, tenant, digest, described)
    if earlier is not None:
        return Imported(earlier, True)
    report = RailReport(
        id=new_id("rc"),
        tenant=tenant,
        digest=digest,
        mapping=described,
        source=mapping.source,
        file_name=name[:255],
        lines=0,
        created_at=uow.clock.now(),
    )
    uow.session.add(report)
    uow.session.flush()
    reconciliation.stage(uow.session, report, read_report(stream, mapping, name), progress)
    reconciliation.match(uow.session, report)
    return Imported(report, False)


def get_report(uow: UnitOfWork, report_id: str, tenant: str) -> RailReport:
    found = uow.session.get(RailReport, report_id)
    if found is None or found.tenant != tenant:
        raise NotFoundError(f"no reconciliation {report_id!r}", reconciliation_id=report_id)
    return found


def header(report: RailReport, replayed: bool = False) -> dict[str, Any]:
    return {
        "id": report.id,
        "source": report.source,
        "file_name": report.file_name,
        "file_sha256": report.digest,
        "mapping": report.mapping,
        "lines": report.lines,
        "first_at": report.first_at.isoformat() if report.first_at else None,
        "last_at": report.last_at.isoformat() if report.last_at else None,
        "created_at": report.created_at.isoformat(),
        "replayed": replayed,
    }


def summary(uow: UnitOfWork, report: RailReport) -> list[dict[str, Any]]:
    return reconciliation.summary(uow.session, report.id)


def groups(uow: UnitOfWork, report: RailReport) -> Iterator[dict[str, Any]]:
    return reconciliation.groups(uow.session, report.id)


def differences(uow: UnitOfWork, report: RailReport) -> Iterator[dict[str, Any]]:
    """Every line (or record) that does not match, as plain data."""
    for row in reconciliation.items(uow.session, report.id, DIFFERENCES):
        yield as_item(row)


def items(uow: UnitOfWork, report: RailReport) -> Iterator[Any]:
    return reconciliation.items(uow.session, report.id)


def as_item(row: Any) -> dict[str, Any]:
    item = dict(zip(reconciliation.ITEM_NAMES, row, strict=True))
    item["at"] = item["at"].isoformat()
    return item


def has_differences(uow: UnitOfWork, report: RailReport) -> bool:
    return reconciliation.differs(uow.session, report.id, DIFFERENCES)
