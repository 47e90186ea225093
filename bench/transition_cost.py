"""In-process cost of one transition over the API: ms and SQL statements, no server, no clients.

Drives LIFECYCLES milestone lifecycles (create contract, add milestone, then fund,
submit, approve with an Idempotency-Key each) through Flask's test client on one
thread, and reports per transition (fund/submit/approve): wall ms (best of
--repeat runs, so other load on a shared machine matters less), CPU ms, and SQL
statements counted by a `before_cursor_execute` listener. Much quieter than
bench/api_load.py, so a change's effect shows; `--profile` prints cProfile's
top functions of the last run.

    .venv/bin/python bench/transition_cost.py [--lifecycles 300] [--repeat 3]
                                              [--backends sqlite,postgres] [--profile]

Not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import os
import pstats
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from web.api.auth import create_key  # noqa: E402
from web.app import create_app  # noqa: E402

PG_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
STEPS = (("fund", "b"), ("submit", "p"), ("approve", "b"))


class Counter:
    """SQL statements by their first words, counted only while `on` is set."""

    def __init__(self) -> None:
        self.on = False
        self.kinds: collections.Counter[str] = collections.Counter()

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if self.on:
            self.kinds[" ".join(statement.split()[:3])[:60]] += 1


def run(url: str, lifecycles: int, repeat: int, profile: bool) -> None:
    app = create_app({"DATABASE_URL": url, "AUTO_UPGRADE": True})
    database = app.extensions["tranche"].database
    _, key = create_key(database, "bench")
    counter = Counter()
    event.listen(database.engine, "before_cursor_execute", counter)
    http = app.test_client()
    auth = {"Authorization": f"Bearer {key}"}

    def setup(n: int) -> str:
        """A fresh proposed milestone between buyer b<n> and provider p<n>."""
        contract = {
            "buyer_id": f"b{n}",
            "provider_id": f"p{n}",
            "currency": "USD",
            "agreed_amount": 10_000,
            "title": "cost",
        }
        created = http.post("/v1/contracts", json=contract, headers=auth)
        assert created.status_code == 201, created.json
        added = http.post(
            f"/v1/contracts/{created.json['id']}/milestones",
            json={"title": "m", "amount": 10_000},
            headers=auth,
        )
        assert added.status_code == 201, added.json
        return added.json["id"]

    def transition(milestone: str, name: str, actor: str) -> None:
        headers = auth | {"Tranche-Actor": actor, "Idempotency-Key": secrets.token_hex(8)}
        response = http.post(f"/v1/milestones/{milestone}/events/{name}", json={}, headers=headers)
        assert response.status_code == 200, response.json

    for n in range(20):  # warm caches (policy, machine pool, compiled statements)
        milestone = setup(n)
        for name, who in STEPS:
            transition(milestone, name, f"{who}{n}")
    best_wall = best_cpu = float("inf")
    profiler = cProfile.Profile() if profile else None
    for run_index in range(repeat):
        counter.kinds.clear()
        wall = cpu = 0.0
        profiling = profiler is not None and run_index == repeat - 1
        for n in range(lifecycles):
            milestone = setup(n)
            for name, who in STEPS:
                counter.on = True
                if profiling:
                    profiler.enable()
                w, c = time.perf_counter(), time.process_time()
                transition(milestone, name, f"{who}{n}")
                wall += time.perf_counter() - w
                cpu += time.process_time() - c
                if profiling:
                    profiler.disable()
                counter.on = False
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    transitions = lifecycles * len(STEPS)
    statements = sum(counter.kinds.values()) / transitions
    print(
        f"  {transitions} transitions: {best_wall / transitions * 1000:.3f} ms wall, "
        f"{best_cpu / transitions * 1000:.3f} ms CPU, {statements:.2f} SQL statements each"
    )
    for kind, count in sorted(counter.kinds.items(), key=lambda kv: -kv[1]):
        print(f"    {count / transitions:5.2f}  {kind}")
    if profiler:
        stats = pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_SORT", "cumulative"))
        stats.print_stats(45)
        if os.environ.get("BENCH_CALLEES"):  # e.g. fire_event: where its time goes
            stats.print_callees(os.environ["BENCH_CALLEES"])
    database.dispose()


@contextmanager
def postgres_url() -> Iterator[str]:
    name = f"tranche_cost_{os.getpid()}"
    admin = psycopg.connect(PG_URL, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lifecycles", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for backend in args.backends.split(","):
        print(backend)
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                run(f"sqlite:///{tmp}/cost.db", args.lifecycles, args.repeat, args.profile)
        elif backend == "postgres":
            with postgres_url() as url:
                run(url, args.lifecycles, args.repeat, args.profile)
        else:
            parser.error(f"unknown backend {backend!r}")


if __name__ == "__main__":
    main()
