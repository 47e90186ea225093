"""In-process cost of the API's write requests: ms and SQL statements, no server, no clients.

Drives LIFECYCLES milestone lifecycles (create contract, add milestone, then fund,
submit, approve with an Idempotency-Key each) through Flask's test client on one
thread, and reports per request, for the transitions (fund/submit/approve) and for
each of the two set-up requests (create contract, add milestone): wall ms (best of
--repeat runs, so other load on a shared machine matters less), CPU ms, and SQL
statements counted by a `before_cursor_execute` listener. A set-up request's CPU
time is also given as a multiple of a transition's, which drifts less with the
machine's speed than milliseconds do (compare it across versions whose transitions
are the same). Much quieter than bench/api_load.py, so a change's effect shows;
`--profile` prints cProfile's top functions of the last run's transitions
(`--profile contract` or `milestone`: of that request instead).

    .venv/bin/python bench/transition_cost.py [--lifecycles 300] [--repeat 3]
                                              [--backends sqlite,postgres]
                                              [--profile [transitions|contract|milestone]]

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

from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.throwaway import postgres_url  # noqa: E402
from web.api.auth import create_key  # noqa: E402
from web.app import create_app  # noqa: E402

STEPS = (("fund", "b"), ("submit", "p"), ("approve", "b"))


class Counter:
    """SQL statements by their first words, counted into `kinds` while it is not None."""

    def __init__(self) -> None:
        self.kinds: collections.Counter[str] | None = None

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if self.kinds is not None:
            self.kinds[" ".join(statement.split()[:3])[:60]] += 1


class Meter:
    """One kind of request: time and statements of one run, and the best run's times."""

    def __init__(self, label: str, counter: Counter, profiler: cProfile.Profile | None) -> None:
        self.label, self.counter, self.profiler = label, counter, profiler
        self.kinds: collections.Counter[str] = collections.Counter()
        self.calls = 0
        self.wall = self.cpu = 0.0
        self.best_wall = self.best_cpu = float("inf")
        self.profiling = False

    def start_run(self, profiling: bool) -> None:
        self.kinds.clear()
        self.calls, self.wall, self.cpu = 0, 0.0, 0.0
        self.profiling = profiling and self.profiler is not None

    def end_run(self) -> None:
        self.best_wall, self.best_cpu = min(self.best_wall, self.wall), min(self.best_cpu, self.cpu)

    @contextmanager
    def measure(self) -> Iterator[None]:
        self.counter.kinds = self.kinds
        if self.profiling:
            assert self.profiler is not None
            self.profiler.enable()
        w, c = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall += time.perf_counter() - w
            self.cpu += time.process_time() - c
            if self.profiling:
                assert self.profiler is not None
                self.profiler.disable()
            self.counter.kinds = None
            self.calls += 1

    def cpu_ms(self) -> float:
        return self.best_cpu / self.calls * 1000

    def report(self, reference: Meter | None = None) -> None:
        """`reference`: the meter whose CPU time this one's is also given as a multiple of."""
        statements = sum(self.kinds.values()) / self.calls
        relative = f" ({self.cpu_ms() / reference.cpu_ms():.2f}x a transition)" if reference else ""
        print(
            f"  {self.calls} {self.label}: {self.best_wall / self.calls * 1000:.3f} ms wall, "
            f"{self.cpu_ms():.3f} ms CPU{relative}, {statements:.2f} SQL statements each"
        )
        for kind, count in sorted(self.kinds.items(), key=lambda kv: -kv[1]):
            print(f"    {count / self.calls:5.2f}  {kind}")


def run(url: str, lifecycles: int, repeat: int, profile: str | None) -> None:
    app = create_app({"DATABASE_URL": url, "AUTO_UPGRADE": True})
    database = app.extensions["tranche"].database
    _, key = create_key(database, "bench")
    counter = Counter()
    event.listen(database.engine, "before_cursor_execute", counter)
    http = app.test_client()
    auth = {"Authorization": f"Bearer {key}"}
    profiler = cProfile.Profile() if profile else None
    meters = {
        name: Meter(label, counter, profiler if profile == name else None)
        for name, label in (
            ("transitions", "transitions"),
            ("contract", "contracts created"),
            ("milestone", "milestones added"),
        )
    }

    def setup(n: int) -> str:
        """A fresh proposed milestone between buyer b<n> and provider p<n>."""
        contract = {
            "buyer_id": f"b{n}",
            "provider_id": f"p{n}",
            "currency": "USD",
            "agreed_amount": 10_000,
            "title": "cost",
        }
        with meters["contract"].measure():
            created = http.post("/v1/contracts", json=contract, headers=auth)
        assert created.status_code == 201, created.json
        with meters["milestone"].measure():
            added = http.post(
                f"/v1/contracts/{created.json['id']}/milestones",
                json={"title": "m", "amount": 10_000},
                headers=auth,
            )
        assert added.status_code == 201, added.json
        return added.json["id"]

    def transition(milestone: str, name: str, actor: str) -> None:
        headers = auth | {"Tranche-Actor": actor, "Idempotency-Key": secrets.token_hex(8)}
        with meters["transitions"].measure():
            response = http.post(
                f"/v1/milestones/{milestone}/events/{name}", json={}, headers=headers
            )
        assert response.status_code == 200, response.json

    def lifecycle(n: int) -> None:
        milestone = setup(n)
        for name, who in STEPS:
            transition(milestone, name, f"{who}{n}")

    for n in range(20):  # warm caches (policy, machine pool, compiled statements)
        lifecycle(n)
    for run_index in range(repeat):
        for meter in meters.values():
            meter.start_run(profiling=run_index == repeat - 1)
        for n in range(lifecycles):
            lifecycle(n)
        for meter in meters.values():
            meter.end_run()
    # The set-up requests' CPU time relative to a transition's, measured in the same runs,
    # moves much less with the machine's speed than milliseconds do: compare those.
    transitions = meters["transitions"]
    for meter in meters.values():
        meter.report(None if meter is transitions else transitions)
    if profiler:
        stats = pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_SORT", "cumulative"))
        stats.print_stats(45)
        if os.environ.get("BENCH_CALLEES"):  # e.g. fire_event: where its time goes
            stats.print_callees(os.environ["BENCH_CALLEES"])
    database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lifecycles", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="transitions",
        choices=("transitions", "contract", "milestone"),
    )
    args = parser.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for backend in args.backends.split(","):
        print(backend)
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                run(f"sqlite:///{tmp}/cost.db", args.lifecycles, args.repeat, args.profile)
        elif backend == "postgres":
            with postgres_url("tranche_cost") as url:
                run(url, args.lifecycles, args.repeat, args.profile)
        else:
            parser.error(f"unknown backend {backend!r}")


if __name__ == "__main__":
    main()
