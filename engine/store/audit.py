"""`tranche audit verify`: every check of the stored history, in bounded memory.

Contracts are taken a chunk at a time in id order (keyset pages, so the thousandth chunk
costs what the first does), each chunk in one short read transaction (a snapshot on
PostgreSQL, so a command committing meanwhile cannot make a head and its chain disagree).
Every check in `CHECKS` runs on the chunk: it gets the contracts' heads and yields the
faults it finds. Events are streamed as plain rows (a server-side cursor on PostgreSQL)
and never held: memory grows with the chunk, not with the database. A check is a
function of (session, heads, marks), so more can be added to the list.

Scope: every contract, one contract, or those with an event written in a time window
(each checked whole: its chain, its entries, its milestones' figures).

Checkpoint: with a checkpoint file the audit is incremental. The file (SQLite, the
auditor's own, kept outside the audited database so that whoever can edit the database
cannot move it) records for each contract the event its chain was verified through
and that event's hash. A later run skips contracts whose head has not moved (it still
checks that the head is the one recorded), checks a moved contract's chain from its
mark (the marked event must keep its hash) and its entries and figures in full, then
moves the marks of contracts found sound. A full run without the file re-verifies
everything, including events before the marks.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, exists, func, select
from sqlalchemy.orm import Session

from engine.store.db import Database
from engine.store.events import CHAIN, GENESIS, Mark, walk_chains
from engine.store.models import Contract, Event, Posting
from engine.store.rail_audit import rail_findings
from engine.store.summaries import mismatches

CHUNK = 200
"""Contracts per read transaction: enough to amortise the queries, few enough that a
chunk's milestone sums stay small."""
_EVENTS = cast(Table, Event.__table__)


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    """TAMPERED (event chains), UNBALANCED (ledger entries) or MISMATCH (milestone rows)."""
    contract_id: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Head:
    """A contract's chain head as its row records it (moved by a trigger per event)."""

    contract_id: str
    seq: int
    hash: str


Check = Callable[[Session, Sequence[Head], Mapping[str, Mark]], Iterable[Fault]]


def chains(session: Session, heads: Sequence[Head], marks: Mapping[str, Mark]) -> Iterator[Fault]:
    """Each chain recomputed (from its mark, if any), and its end is the contract's head:
    an event removed from the end of a chain breaks no link, but leaves the head behind."""
    ends: dict[str, Mark] = {}

    def tracked(rows: Iterable[Any]) -> Iterator[Any]:
        for row in rows:
            ends[row.contract_id] = (row.seq, row.hash)
            yield row

    ids = [head.contract_id for head in heads]
    query = CHAIN.where(_EVENTS.c.contract_id.in_(ids)).execution_options(yield_per=1000)
    broken = set()
    for found in walk_chains(tracked(session.execute(query)), marks):
        broken.add(found.contract_id)
        yield Fault("TAMPERED", found.contract_id, str(found))
    for head in heads:
        end = ends.get(head.contract_id, (0, GENESIS))
        marked = marks.get(head.contract_id, (0, GENESIS))[0]
        if head.contract_id in broken:
            continue
        if end[0] < marked:
            detail = f"its chain ends at #{end[0]}, before #{marked} that an earlier audit verified"
        elif end != (head.seq, head.hash):
            detail = f"its head is event #{head.seq}, its chain ends at #{end[0]}"
        else:
            continue
        yield Fault("TAMPERED", head.contract_id, f"contract {head.contract_id}: {detail}")


def balances(session: Session, heads: Sequence[Head], marks: Mapping[str, Mark]) -> Iterator[Fault]:
    """Ledger entries whose postings do not sum to zero (never, unless the rows were forged)."""
    query = (
        select(Posting.contract_id, Posting.entry_id)
        .where(Posting.contract_id.in_([head.contract_id for head in heads]))
        .group_by(Posting.contract_id, Posting.entry_id)
        .having(func.sum(Posting.amount) != 0)
        .order_by(Posting.entry_id)
    )
    for contract_id, entry_id in session.execute(query):
        yield Fault("UNBALANCED", contract_id, f"ledger entry {entry_id}")


def figures(session: Session, heads: Sequence[Head], marks: Mapping[str, Mark]) -> Iterator[Fault]:
    """Milestone rows whose money figures are not the sums of their postings."""
    for contract_id, mismatch in mismatches(session, [head.contract_id for head in heads]):
        yield Fault("MISMATCH", contract_id, str(mismatch))


CHECKS: list[Check] = [chains, balances, figures]


def parties(session: Session) -> Iterator[Fault]:
    """The rail's checks, which span contracts (engine.store.rail_audit): every party's
    balance, payouts and pending fundings against the ledger."""
    for finding in rail_findings(session):
        yield Fault("MISMATCH", "", finding)


@dataclass(frozen=True, slots=True)
class Scope:
    contract_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    """Contracts with an event written at or after `since` and before `until`."""

    @property
    def whole(self) -> bool:
        return self.contract_id is None and self.since is None and self.until is None

    def contracts(self) -> Any:
        query = select(Contract.id, Contract.event_seq, Contract.last_event_hash)
        if self.contract_id is not None:
            query = query.where(Contract.id == self.contract_id)
        if self.since is not None or self.until is not None:
            written = select(Event.id).where(Event.contract_id == Contract.id)
            if self.since is not None:
                written = written.where(Event.created_at >= self.since)
            if self.until is not None:
                written = written.where(Event.created_at < self.until)
            query = query.where(exists(written))
        return query


class Checkpoint:
    """The auditor's marks: contract id -> (seq, hash) verified through, in a SQLite file."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS marks"
            " (contract_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, hash TEXT NOT NULL)"
        )

    def marks(self, ids: Sequence[str]) -> dict[str, Mark]:
        holes = ", ".join("?" * len(ids))
        rows = self.db.execute(f"SELECT * FROM marks WHERE contract_id IN ({holes})", ids)
        return {contract_id: (seq, hash_) for contract_id, seq, hash_ in rows}

    def advance(self, heads: Iterable[Head]) -> None:
        rows = [(head.contract_id, head.seq, head.hash) for head in heads]
        self.db.executemany("INSERT OR REPLACE INTO marks VALUES (?, ?, ?)", rows)
        self.db.commit()

    def close(self) -> None:
        self.db.close()


def _snapshot(database: Database) -> Session:
    """A read-only transaction; on PostgreSQL one snapshot for all of its statements."""
    if not database.is_postgres:
        return database.session(read_only=True)
    session = database.sessions()
    options = {"postgresql_readonly": True, "isolation_level": "REPEATABLE READ"}
    session.connection(execution_options=options)
    return session


def count(database: Database, scope: Scope) -> int:
    """How many contracts the scope covers (for a progress bar)."""
    with _snapshot(database) as session:
        return session.scalar(select(func.count()).select_from(scope.contracts().subquery())) or 0


def verify(
    database: Database,
    scope: Scope | None = None,
    checkpoint: Path | None = None,
    checks: Sequence[Check] = CHECKS,
    chunk: int = CHUNK,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Fault]:
    """Run `checks` over the contracts in `scope`, a chunk at a time, yielding faults as
    they are found; `progress` hears how many contracts each chunk covered. A whole audit
    then checks the parties' balances, which span contracts."""
    scope = scope or Scope()
    query = scope.contracts().order_by(Contract.id).limit(chunk)
    saved = Checkpoint(checkpoint) if checkpoint is not None else None
    with closing(saved) if saved is not None else nullcontext():
        after = ""
        while True:
            with _snapshot(database) as session:
                rows = session.execute(query.where(Contract.id > after)).all()
                if not rows:
                    if scope.whole:
                        yield from parties(session)
                    return
                after = rows[-1].id
                heads = [Head(*row) for row in rows]
                marks = saved.marks([h.contract_id for h in heads]) if saved else {}
                moved = [h for h in heads if marks.get(h.contract_id) != (h.seq, h.hash)]
                faulty = set()
                for check in checks if moved else ():
                    for fault in check(session, moved, marks):
                        faulty.add(fault.contract_id)
                        yield fault
            if saved is not None:
                saved.advance(h for h in moved if h.contract_id not in faulty)
            if progress is not None:
                progress(len(heads))
