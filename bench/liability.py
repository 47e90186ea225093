"""How do the liability and aging reports grow from 10^3 to 10^6 milestones?

Plays growth.py's template (real lifecycles through the engine: releases, refunds,
disputes decided by default, escrow still held) and grows the ledger by copying it in
SQL, one copy after another an hour earlier: each copy's contracts, milestones, ledger
entries and postings under new ids, each copy with a buyer and a provider of its own, so
the ledger has the shape of a marketplace with steady activity (about 2,400 milestones a
day) and a long history. Only what the reports read is copied (no events: the audit is
growth.py's business), and each party's cached balance is summed again from the postings.

At each scale it times, as medians of --samples, for the tenant: the liability report
now and as of 30 days ago, and the aging report now and as of 30 days ago; and gives
each median's ratio to the smallest scale's.

    .venv/bin/python bench/liability.py [--max 1000000] [--backends postgres,sqlite]

SQLite stops at --sqlite-max (10^5). Not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from arbitration.service import Arbitration  # noqa: E402
from bench.growth import START, _sum_balances, backend, play  # noqa: E402
from engine.domain.clock import FixedClock  # noqa: E402
from engine.service.tranche import Tranche  # noqa: E402
from engine.store.db import Database  # noqa: E402
from engine.store.models import Contract, LedgerEntry, Milestone, Posting  # noqa: E402

COPIED: list[Table] = [t.__table__ for t in (Contract, Milestone, LedgerEntry, Posting)]  # type: ignore[misc]
RENAMED = {"id", "contract_id", "milestone_id", "buyer_id", "provider_id", "party_id"}
"""String columns a copy suffixes with its number (ids, and parties: a copy's own)."""
NUMBERED = {"ledger_entries": {"id", "reverses_id"}, "postings": {"id", "entry_id"}}
"""Integer columns a copy offsets, per table, and the table whose numbers they are."""
OWNER = {"id": None, "reverses_id": "ledger_entries", "entry_id": "ledger_entries"}
HOUR = 3600


class Copier:
    """Copies the template (the rows there before any copy) in one INSERT ... SELECT per
    table for a range of copy numbers; copy k is made k hours before the template."""

    def __init__(self, database: Database) -> None:
        self.database = database
        with database.engine.connect() as connection:
            self.tops = {t.name: connection.scalar(select(func.max(t.c.id))) for t in COPIED[2:]}
            self.milestones = connection.scalar(select(func.count()).select_from(COPIED[1]))
            self.id_length = max(  # a copy's ids are longer: their suffix
                connection.scalar(select(func.max(func.length(t.c.id)))) for t in COPIED[:2]
            )
        self.copies = 1  # the template is copy 0

    def _column(self, table: Table, name: str) -> str:
        if name == "dispute_id":
            return "NULL"
        if name in NUMBERED.get(table.name, ()):
            top = self.tops[OWNER[name] or table.name]
            return f"{name} + k * {top}"
        if name in RENAMED:
            return f"{name} || '~' || CAST(k AS VARCHAR(12))"
        if table.name == "ledger_entries" and name == "created_at":
            if self.database.is_postgres:
                return f"created_at - k * interval '{HOUR} seconds'"
            shift = f"'-' || (k * {HOUR}) || ' seconds'"
            return f"strftime('%Y-%m-%d %H:%M:%S.000000', created_at, {shift})"
        return name

    def grow(self, target: int) -> int:
        """Copies until the database holds at least `target` milestones; returns the count."""
        wanted = -(-target // self.milestones)
        if wanted <= self.copies:
            return self.copies * self.milestones
        numbers = (
            f"WITH RECURSIVE copies(k) AS (SELECT {self.copies} UNION ALL"
            f" SELECT k + 1 FROM copies WHERE k < {wanted - 1})"
        )
        with self.database.engine.begin() as connection:
            for table in COPIED:
                columns = [c.name for c in table.columns]
                source = ", ".join(self._column(table, name) for name in columns)
                template = ""
                if table.name in self.tops:
                    template = f" WHERE t.id <= {self.tops[table.name]}"
                elif table.name in ("contracts", "milestones"):
                    template = f" WHERE length(t.id) <= {self.id_length}"
                connection.exec_driver_sql(
                    f"INSERT INTO {table.name} ({', '.join(columns)}) {numbers}"
                    f" SELECT {source} FROM {table.name} t CROSS JOIN copies{template}"
                )
            _sum_balances(connection)
        self.copies = wanted
        if self.database.is_postgres:
            with self.database.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            ) as connection:
                connection.exec_driver_sql("VACUUM ANALYZE")
        else:
            with self.database.engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE")
        return self.copies * self.milestones


def operations(tranche: Tranche, now: Any) -> dict[str, Callable[[], Any]]:
    ago = (now - timedelta(days=30)).isoformat()
    return {
        "liability now": lambda: tranche.liability(None, "default"),
        "liability 30 days ago": lambda: tranche.liability(ago, "default"),
        "aging now": lambda: tranche.aging(None, "default"),
        "aging 30 days ago": lambda: tranche.aging(ago, "default"),
    }


def run(name: str, scales: list[int], samples: int) -> None:
    with backend(name) as url:
        database = Database(url)
        try:
            database.upgrade()
            clock = FixedClock(START)
            play(Tranche(database, clock), Arbitration(database, clock), clock)
            clock.advance(timedelta(days=1))
            tranche = Tranche(database, clock)
            copier = Copier(database)
            results: list[tuple[int, int, dict[str, float]]] = []
            for scale in scales:
                started = time.perf_counter()
                have = copier.grow(scale)
                grown = time.perf_counter() - started
                with database.engine.connect() as connection:
                    postings = connection.scalar(select(func.count()).select_from(COPIED[3]))
                print(
                    f"{name}: {have:,} milestones, {postings:,} postings (grown in {grown:.0f} s)",
                    flush=True,
                )
                medians = {}
                for operation, call in operations(tranche, clock.now()).items():
                    call()  # warm the cache: every sample then reads what it would in service
                    taken = []
                    for _ in range(samples):
                        started = time.perf_counter()
                        call()
                        taken.append((time.perf_counter() - started) * 1000)
                    medians[operation] = statistics.median(taken)
                results.append((have, postings, medians))
        finally:
            database.dispose()
    print(f"\n{name}, median ms" + "".join(f"{have:>11,}" for have, _, _ in results) + "   ratio")
    for operation in results[0][2]:
        values = [medians[operation] for _, _, medians in results]
        row = "".join(f"{v:>11.1f}" for v in values)
        print(f"  {operation:<24}{row}  {values[-1] / values[0]:>7.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=1_000_000, help="Largest scale (milestones).")
    parser.add_argument("--sqlite-max", type=int, default=100_000)
    parser.add_argument("--min", type=int, default=1_000, help="Smallest scale.")
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--backends", default="postgres,sqlite")
    options = parser.parse_args()
    for name in options.backends.split(","):
        top = min(options.max, options.sqlite_max) if name == "sqlite" else options.max
        scales = []
        scale = options.min
        while scale <= top:
            scales.append(scale)
            scale *= 10
        run(name, scales, options.samples)


if __name__ == "__main__":
    main()
