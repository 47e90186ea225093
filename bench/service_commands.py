"""Commands per second through the service layer (`Tranche`), on SQLite and PostgreSQL.

Each lifecycle is five commands, each its own transaction: create a contract, add
a milestone, then fire fund, submit and approve. The script runs lifecycles
single-threaded and with N threads (each thread on its own contracts), and prints
commands/s, transitions/s (the `fire` calls) and p50/p99 latency per command.
It asserts nothing about time: run it before and after a change and compare.

    .venv/bin/python bench/service_commands.py                 # both backends
    .venv/bin/python bench/service_commands.py --backend sqlite --profile

PostgreSQL: a throwaway database is created on the server named by
BENCH_POSTGRES_URL (default: the local server, user postgres) and dropped
afterwards; if the server does not answer, that part is skipped with a message.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ is not installed

from bench.throwaway import PG_URL, postgres_url  # noqa: E402
from engine.domain.actors import Actor  # noqa: E402
from engine.domain.clock import FixedClock  # noqa: E402
from engine.service.tranche import Tranche  # noqa: E402
from engine.store.db import Database  # noqa: E402

BUYER, PROVIDER = Actor("bench-buyer"), Actor("bench-provider")
COMMANDS = ("create_contract", "add_milestone", "fund", "submit", "approve")
TRANSITIONS = ("fund", "submit", "approve")

Timings = dict[str, list[float]]


def lifecycle(tranche: Tranche, timings: Timings) -> None:
    """One milestone from nothing to paid: five commands, each timed."""

    def timed(name: str, command: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = command()
        timings[name].append(time.perf_counter() - start)
        return result

    contract = timed(
        "create_contract",
        lambda: tranche.create_contract(
            buyer_id=BUYER.id,
            provider_id=PROVIDER.id,
            currency="USD",
            agreed_amount=100_000,
            title="Bench",
        ),
    )
    milestone = timed(
        "add_milestone",
        lambda: tranche.add_milestone(contract.id, title="Part", amount=25_000),
    )
    for event, actor in (("fund", BUYER), ("submit", PROVIDER), ("approve", BUYER)):
        timed(event, lambda e=event, a=actor: tranche.fire(milestone.id, e, a))


def run(database: Database, lifecycles: int, threads: int) -> tuple[float, Timings]:
    """Run `lifecycles` spread over `threads`; return wall seconds and per-command timings."""
    clock = FixedClock(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
    per_thread: list[Timings] = [defaultdict(list) for _ in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def work(i: int) -> None:
        tranche = Tranche(database, clock)
        barrier.wait()
        for _ in range(lifecycles // threads):
            lifecycle(tranche, per_thread[i])

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    start = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    merged: Timings = defaultdict(list)
    for timings in per_thread:
        for name, values in timings.items():
            merged[name] += values
    return elapsed, merged


def report(label: str, elapsed: float, timings: Timings) -> None:
    commands = sum(len(v) for v in timings.values())
    transitions = sum(len(timings[name]) for name in TRANSITIONS)
    print(
        f"{label}: {commands} commands in {elapsed:.2f} s = {commands / elapsed:,.0f} commands/s, "
        f"{transitions / elapsed:,.0f} transitions/s"
    )
    for name in COMMANDS:
        values = sorted(timings[name])
        p50 = statistics.median(values) * 1000
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))] * 1000
        print(f"    {name:<16} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   (n={len(values)})")


@contextmanager
def sqlite_database() -> Iterator[Database]:
    with tempfile.TemporaryDirectory() as folder:
        database = Database(f"sqlite:///{Path(folder) / 'bench.db'}")
        database.upgrade()
        try:
            yield database
        finally:
            database.dispose()


@contextmanager
def postgres_database() -> Iterator[Database | None]:
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        print(f"PostgreSQL skipped: {PG_URL} does not answer ({exc.__class__.__name__})")
        yield None
        return
    with postgres_url("tranche_bench") as url:
        database = Database(url)
        try:
            database.upgrade()
            yield database
        finally:
            database.dispose()


def profile(database: Database, lifecycles: int, top: int = 12) -> None:
    """Where the time goes in single-threaded lifecycles (cProfile, by own time)."""
    tranche = Tranche(database, FixedClock(datetime(2026, 11, 24, 9, 0, tzinfo=UTC)))
    timings: Timings = defaultdict(list)
    profiler = cProfile.Profile()  # it sees only its own thread: run in this one
    profiler.enable()
    for _ in range(lifecycles):
        lifecycle(tranche, timings)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top * 2)
    print(out.getvalue())


def bench(label: str, database: Database, args: argparse.Namespace) -> None:
    run(database, 20, 1)  # warm up: policy cache, compiled machine, connection pool
    for threads in (1, args.threads):
        elapsed, timings = run(database, args.lifecycles, threads)
        report(f"{label}, {threads} thread{'s' if threads > 1 else ''}", elapsed, timings)
    if args.profile:
        profile(database, args.lifecycles // 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="all")
    parser.add_argument("--lifecycles", type=int, default=400, help="per run (5 commands each)")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--profile", action="store_true", help="cProfile one run per backend")
    args = parser.parse_args()
    if args.backend in ("sqlite", "all"):
        with sqlite_database() as database:
            bench("SQLite", database, args)
    if args.backend in ("postgres", "all"):
        with postgres_database() as database:
            if database is not None:
                bench("PostgreSQL", database, args)


if __name__ == "__main__":
    main()
