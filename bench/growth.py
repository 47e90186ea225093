"""Does each operation stay flat from 10^3 to 10^6 milestones?

Plays TEMPLATE real lifecycles through the engine (paid, partly released, refunded,
disputed and decided by default, disputed and open, submitted and waiting), then grows
the database by copying them: new ids throughout, every event's data rewritten to the
new ids and every hash chain recomputed, so `tranche audit verify` passes on the grown
data. At each scale (10^3, 10^4, ... up to --max milestones) it times, in process,
medians of --samples: the three write transitions, reads of one milestone, one contract
and a feed page, the timer and dispute-deadline sweeps with nothing due, the console
queue's first page and the audit of one contract; and gives each median's ratio to the
smallest scale's. It ends with the bytes each table (with its indexes) costs per 10^5
milestones at the largest scale.

    .venv/bin/python bench/growth.py [--max 100000] [--backends sqlite,postgres]

Not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Table, func, insert, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from arbitration.models import Ruling  # noqa: E402
from arbitration.service import Arbitration  # noqa: E402
from arbitration.views import QueueFilter, queue  # noqa: E402
from bench.throwaway import postgres_url  # noqa: E402
from engine.domain.actors import Actor  # noqa: E402
from engine.domain.clock import FixedClock  # noqa: E402
from engine.domain.decision import EventArgs  # noqa: E402
from engine.service.tranche import Tranche  # noqa: E402
from engine.service.uow import UnitOfWork  # noqa: E402
from engine.store.audit import Scope, verify  # noqa: E402
from engine.store.db import Database  # noqa: E402
from engine.store.events import GENESIS, event_hash  # noqa: E402
from engine.store.models import (  # noqa: E402
    Base,
    Contract,
    Dispute,
    Event,
    LedgerEntry,
    Milestone,
    Posting,
    Timer,
    new_id,
)
from web.api.feed import catch_up, read_feed  # noqa: E402

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TEMPLATE = 10
"""Contracts played through the engine, ten milestones each: the lifecycles copied."""
BUYER, PROVIDER = Actor("buyer-1"), Actor("provider-1")
TABLES: list[Table] = [
    t.__table__  # type: ignore[misc]
    for t in (Contract, Milestone, Dispute, Ruling, LedgerEntry, Posting, Timer, Event)
]
INTEGER_IDS = {"ledger_entries", "postings", "timers", "events"}
"""Tables whose ids are numbers: copies take the next free ones (and the sequences follow)."""


def play(tranche: Tranche, arbitration: Arbitration, clock: FixedClock) -> None:
    """The template: TEMPLATE contracts of ten milestones through real commands."""
    stories: list[list[tuple[str, Actor, EventArgs | None]]] = [
        [("fund", BUYER, None), ("submit", PROVIDER, None), ("approve", BUYER, None)],
        [("fund", BUYER, None), ("release", BUYER, EventArgs(amount=5_000))],
        [("fund", BUYER, None), ("request_refund", BUYER, None), ("accept_refund", PROVIDER, None)],
        [("fund", BUYER, None), ("submit", PROVIDER, None), ("dispute", BUYER, None)],
        [("fund", BUYER, None), ("refund", PROVIDER, None)],
        [("fund", BUYER, None), ("submit", PROVIDER, None), ("request_changes", BUYER, None)],
        [("fund", BUYER, None), ("submit", PROVIDER, None), ("approve", BUYER, None)],
        [("fund", BUYER, None), ("submit", PROVIDER, None), ("approve", BUYER, None)],
        [("fund", BUYER, None), ("submit", PROVIDER, None)],
        [],
    ]
    made = []
    for _ in range(TEMPLATE):
        contract = tranche.create_contract(
            buyer_id=BUYER.id,
            provider_id=PROVIDER.id,
            currency="USD",
            agreed_amount=300_000,
            title="Template work",
        )
        made.append(contract.id)
        for story in stories:
            milestone = tranche.add_milestone(contract.id, title="Part", amount=25_000)
            for name, actor, args in story:
                tranche.fire(milestone.id, name, actor, args)
    clock.advance(timedelta(days=8))
    arbitration.sweep()  # the disputes lapse and are decided by default (closed cases)
    milestone = tranche.add_milestone(made[0], title="Open case", amount=10_000)
    for name, actor in (("fund", BUYER), ("submit", PROVIDER), ("dispute", PROVIDER)):
        tranche.fire(milestone.id, name, actor)  # one open case a template: a small hot set


class Grower:
    """Copies the template's rows under new ids, with their hash chains recomputed."""

    def __init__(self, database: Database) -> None:
        with database.engine.connect() as connection:
            self.rows = {
                t.name: [dict(r._mapping) for r in connection.execute(select(t))] for t in TABLES
            }
        self.milestones = len(self.rows["milestones"])

    def copy(self, connection: Any) -> None:
        ids: dict[Any, Any] = {}
        for table in INTEGER_IDS:
            top = connection.scalar(select(func.max(Base.metadata.tables[table].c.id)))
            for offset, row in enumerate(self.rows[table], 1):
                ids[(table, row["id"])] = (top or 0) + offset
        for table in TABLES:
            copies = [self._copied(table.name, row, ids) for row in self.rows[table.name]]
            if table.name == "events":
                self._chain(copies)
            if table.name == "contracts":  # the events' trigger moves the heads
                for c in copies:
                    c["event_seq"], c["last_event_hash"] = 0, GENESIS
            connection.execute(insert(table), copies)

    def _copied(self, table: str, row: dict[str, Any], ids: dict[Any, Any]) -> dict[str, Any]:
        copy = dict(row)
        for key, value in row.items():
            if key == "id":
                copy[key] = ids.get((table, value)) or ids.setdefault(value, new_id(value[:2]))
            elif isinstance(value, str) and value[:3] in ("ct_", "ms_", "dp_", "rl_"):
                copy[key] = ids.setdefault(value, new_id(value[:2]))
            elif key in ("entry_id", "reverses_id") and value is not None:
                copy[key] = ids[("ledger_entries", value)]
            elif key == "data":
                copy[key] = json.dumps(_renamed(json.loads(value), ids), sort_keys=True)
        return copy

    @staticmethod
    def _chain(events: list[dict[str, Any]]) -> None:
        """Each contract's events get their hashes again, seq by seq, from GENESIS."""
        previous: dict[str, str] = {}
        for row in sorted(events, key=lambda r: (r["contract_id"], r["seq"])):
            row["prev_hash"] = previous.get(row["contract_id"], GENESIS)
            row["hash"] = previous[row["contract_id"]] = event_hash(SimpleNamespace(**row))


def _renamed(value: Any, ids: dict[Any, Any], key: str = "") -> Any:
    """An event's data with the template's ids replaced by the copy's."""
    if isinstance(value, dict):
        return {k: _renamed(v, ids, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, ids, key) for v in value]
    if key == "ledger_entries" and isinstance(value, int):
        return ids[("ledger_entries", value)]
    if isinstance(value, str) and value in ids:
        return ids[value]
    return value


def _sum_balances(connection: Any) -> None:
    """The copies owe their parties too (the template's ids): each party's cached balance
    is summed again from its postings, as `tranche audit verify` will."""
    connection.exec_driver_sql("DELETE FROM party_balances")
    columns = {"payable_pending": "pending", "payable": "available"}
    columns |= {"payout_in_flight": "in_flight", "paid_out": "paid_out"}
    sums = ", ".join(
        f"SUM(CASE WHEN p.account = '{account}' THEN p.amount ELSE 0 END)" for account in columns
    )
    connection.exec_driver_sql(
        f"INSERT INTO party_balances (tenant, party_id, currency, {', '.join(columns.values())})"
        f" SELECT c.tenant, p.party_id, c.currency, {sums} FROM postings p"
        " JOIN contracts c ON c.id = p.contract_id WHERE p.party_id IS NOT NULL"
        " GROUP BY c.tenant, p.party_id, c.currency"
    )


def grow(database: Database, grower: Grower, target: int) -> int:
    """Copies until the database holds at least `target` milestones; returns the count."""
    with database.engine.connect() as connection:
        have = connection.scalar(select(func.count()).select_from(Milestone.__table__))
    while have < target:
        with database.engine.begin() as connection:
            for _ in range(min(50, -(-(target - have) // grower.milestones))):
                grower.copy(connection)
                have += grower.milestones
    with database.engine.begin() as connection:
        _sum_balances(connection)
    with UnitOfWork(database) as uow:
        catch_up(uow, batch=20_000)
    with database.engine.begin() as connection:
        if database.is_postgres:
            for table in INTEGER_IDS:
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id))"
                        f" FROM {table}"
                    )
                )
    if database.is_postgres:
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE")
    else:
        with database.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    return have


class Subject:
    """One database at one scale, and each operation as (prepare, timed) callables."""

    def __init__(self, database: Database, clock: FixedClock, samples: int) -> None:
        self.database, self.clock = database, clock
        self.tranche, self.arbitration = Tranche(database, clock), Arbitration(database, clock)
        with database.engine.connect() as connection:
            pick = select(Milestone.id).order_by(func.random()).limit(samples)
            self.milestones = connection.scalars(pick).all()
            pick = select(Contract.id).order_by(func.random()).limit(samples)
            self.contracts = connection.scalars(pick).all()
            self.top = connection.scalar(text("SELECT max(position) FROM api_feed")) or 1
        self.turn = 0
        self.funded: list[str] = []
        self.submitted: list[str] = []

    def _next(self, ids: list[str]) -> str:
        self.turn += 1
        return ids[self.turn % len(ids)]

    def operations(self) -> dict[str, tuple[Callable[[], Any], Callable[[Any], Any]]]:
        tranche = self.tranche

        def proposed() -> str:
            return tranche.add_milestone(self._next(self.contracts), title="New", amount=1_000).id

        def fund(milestone_id: str) -> None:
            tranche.fire(milestone_id, "fund", BUYER)
            self.funded.append(milestone_id)

        def submit(milestone_id: str) -> None:
            tranche.fire(milestone_id, "submit", PROVIDER)
            self.submitted.append(milestone_id)

        def feed(after: int) -> None:
            with tranche.reading() as uow:
                read_feed(uow.session, "default", after, 50)

        def first_page(_: Any) -> None:
            with tranche.reading() as uow:  # 10 rows: as many open cases as 10^3 holds
                assert len(queue(uow, QueueFilter(), limit=10).rows) == 10

        def nothing() -> None:
            return None

        return {
            "fund": (proposed, fund),
            "submit": (self.funded.pop, submit),
            "approve": (self.submitted.pop, lambda m: tranche.fire(m, "approve", BUYER)),
            "read milestone": (lambda: self._next(self.milestones), tranche.milestone),
            "read contract": (lambda: self._next(self.contracts), tranche.summary),
            "feed page": (lambda: self.turn * 7919 % self.top, feed),
            "timer sweep, nothing due": (nothing, lambda _: tranche.sweep()),
            "deadline sweep, nothing due": (nothing, lambda _: self.arbitration.sweep()),
            "queue first page": (nothing, first_page),
            "audit one contract": (
                lambda: Scope(contract_id=self._next(self.contracts)),
                lambda scope: list(verify(self.database, scope)),
            ),
        }


def measure(subjects: list[Subject], samples: int) -> dict[str, list[float]]:
    """Median ms of each operation on each subject, the subjects taking turns sample by
    sample, so that load from elsewhere on the machine falls on every scale alike."""
    operations = [subject.operations() for subject in subjects]
    medians: dict[str, list[float]] = {}
    for name in operations[0]:
        times: list[list[float]] = [[] for _ in subjects]
        for _ in range(samples):
            for taken, ops in zip(times, operations, strict=True):
                prepare, timed = ops[name]
                prepared = prepare()
                started = time.perf_counter()
                timed(prepared)
                taken.append((time.perf_counter() - started) * 1000)
        medians[name] = [statistics.median(t) for t in times]
    return medians


def full_audit(url: str) -> tuple[float, float, str]:
    """`tranche audit verify` of everything, in its own process: seconds, peak RSS (MiB)
    and its last line (the rusage of children covers every audit so far: it only grows)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", "from web.cli import run; run()", "--database-url", url]
        + ["audit", "verify"],
        capture_output=True,
        text=True,
        check=False,
    )
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    last = (done.stdout + done.stderr).strip().splitlines()[-1]
    return time.perf_counter() - started, peak, last


def table_bytes(database: Database) -> dict[str, int]:
    """Each table's bytes with its indexes (PostgreSQL: pg_total_relation_size; SQLite: dbstat).

    On PostgreSQL the tables are compacted first (VACUUM FULL): growing copies every
    event of a batch in one transaction, and each copied event moves its contract's
    chain head, so the copy leaves dozens of dead versions of every contract row that
    nothing prunes. Played one command per transaction, as in service, those updates
    are HOT and pruned (4,500 milestones' contracts: 520 kB, 99.8% HOT updates).
    """
    if database.is_postgres:
        with database.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM FULL"
            )
    with database.engine.connect() as connection:
        if database.is_postgres:
            rows = connection.execute(
                text(
                    "SELECT relname, pg_total_relation_size(c.oid) FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE nspname = 'public' AND relkind = 'r'"
                )
            )
            return dict(rows.all())
        found: dict[str, int] = {}
        rows = connection.execute(
            text("SELECT tbl_name, name FROM sqlite_master WHERE type IN ('table', 'index')")
        ).all()
        for table, name in rows:
            size = connection.scalar(
                text("SELECT sum(pgsize) FROM dbstat WHERE name = :n"), {"n": name}
            )
            found[table] = found.get(table, 0) + (size or 0)
        return found


@contextmanager
def backend(name: str, prefix: str = "tranche_growth") -> Iterator[str]:
    """A throwaway database of the backend `name` (postgres or sqlite), removed after."""
    if name == "postgres":
        with postgres_url(prefix) as url:
            yield url
    else:
        with tempfile.TemporaryDirectory(prefix=prefix.replace("_", "-") + "-") as workdir:
            yield f"sqlite:///{workdir}/{prefix}.db"


def run(name: str, scales: list[int], samples: int) -> None:
    """A database per scale, each played from the template and grown, then measured
    side by side."""
    with ExitStack() as stack:
        subjects, audits = [], []
        for scale in scales:
            url = stack.enter_context(backend(name))
            database = Database(url)
            stack.callback(database.dispose)
            database.upgrade()
            clock = FixedClock(START)
            started = time.perf_counter()
            play(Tranche(database, clock), Arbitration(database, clock), clock)
            clock.advance(timedelta(days=1))  # nothing due: the next review period ends later
            have = grow(database, Grower(database), scale)
            grown = time.perf_counter() - started
            seconds, peak, said = full_audit(url)
            audits.append((have, grown, seconds, peak, said))
            print(f"{name}: {have:,} milestones played and grown in {grown:.0f} s", flush=True)
            subjects.append(Subject(database, clock, samples))
        results = measure(subjects, samples)
        sizes = [have for have, *_ in audits]
        print(f"\n{name}, median ms" + "".join(f"{s:>11,}" for s in sizes) + "      ratio")
        for operation, values in results.items():
            row = "".join(f"{v:>11.2f}" for v in values)
            print(f"  {operation:<30}{row}  {values[-1] / values[0]:>8.2f}x")
        for have, _, seconds, peak, said in audits:
            print(
                f"  full audit at {have:>9,}: {seconds:6.1f} s, peak RSS <= {peak:.0f} MiB: {said}"
            )
        bytes_ = table_bytes(subjects[-1].database)
        per = 100_000 / sizes[-1]
        print(f"  disk per 10^5 milestones at {sizes[-1]:,} (MiB, table with its indexes):")
        for table, size in sorted(bytes_.items(), key=lambda kv: -kv[1])[:12]:
            print(f"    {table:<28}{size * per / 2**20:>9.1f}")
        print(f"    {'all tables':<28}{sum(bytes_.values()) * per / 2**20:>9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=1_000_000, help="Largest scale (milestones).")
    parser.add_argument("--min", type=int, default=1_000, help="Smallest scale.")
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--backends", default="sqlite,postgres")
    options = parser.parse_args()
    scales = []
    scale = options.min
    while scale <= options.max:
        scales.append(scale)
        scale *= 10
    for name in options.backends.split(","):
        run(name, scales, options.samples)


if __name__ == "__main__":
    main()
