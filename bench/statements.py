"""How a contract's statement costs as its movements grow.

For each size N (--sizes), a new contract gets N movements: direct payments by the buyer
(three legs each: the buyer's funding, the provider's payable, the platform's fee),
written in one transaction by the command the API runs. Then, medians of --samples:
the statement read and built (the query and the running balances), rendered as CSV,
rendered as PDF, and, for scale, the contract's summary (one grouped query). Reported
per movement in microseconds (the statement and the summary in wall time, as they wait
on the database; the renderings in this process's CPU time, which a shared machine's
other work does not inflate), with the PDF's pages and size, the statement's cost over
the summary's, and each figure's ratio to the smallest size's per-movement figure
(near 1.0x means it grows linearly).

    .venv/bin/python bench/statements.py [--sizes 100,1000,10000] [--samples 3]
                                         [--backends sqlite,postgres]

PostgreSQL: a throwaway database on BENCH_POSTGRES_URL (default the local server).
Not a test: the numbers depend on the machine; nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.throwaway import postgres_url  # noqa: E402
from engine.domain.actors import Actor  # noqa: E402
from engine.service import contracts  # noqa: E402
from engine.service.tranche import Tranche  # noqa: E402
from engine.store.db import Database  # noqa: E402
from web.statements.document import as_pdf  # noqa: E402
from web.statements.table import as_csv  # noqa: E402

BUYER = Actor("buyer-bench")


@contextmanager
def database(backend: str) -> Iterator[Database]:
    with ExitStack() as stack:
        if backend == "sqlite":
            folder = stack.enter_context(tempfile.TemporaryDirectory())
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
        else:
            url = stack.enter_context(postgres_url("tranche_bench_statements"))
        found = Database(url)
        stack.callback(found.dispose)
        found.upgrade()
        yield found


def contract_with(tranche: Tranche, movements: int) -> str:
    contract = tranche.create_contract(
        buyer_id=BUYER.id,
        provider_id="provider-bench",
        currency="USD",
        agreed_amount=10**9,
        title="Benchmark",
    )

    def pay(uow: Any) -> None:
        for n in range(movements):
            contracts.pay_directly(uow, contract.id, actor=BUYER, amount=100 + n, note=f"#{n}")

    tranche.write(pay)
    return contract.id


def median(
    samples: int, work: Callable[[], Any], clock: Callable[[], float] = time.perf_counter
) -> tuple[float, Any]:
    """The median time of `samples` runs after one untimed (imports, caches), and a result."""
    times, result = [], work()
    for _ in range(samples):
        start = clock()
        result = work()
        times.append(clock() - start)
    return statistics.median(times), result


def run(backend: str, sizes: list[int], samples: int) -> None:
    with database(backend) as db:
        tranche = Tranche(db)
        base: dict[str, float] = {}
        print(f"\n{backend}: microseconds per movement (ratio to {sizes[0]} movements)")
        print(
            f"{'movements':>10} {'statement, wall':>16} {'csv, cpu':>16} {'pdf, cpu':>16}"
            f" {'pages':>6} {'pdf bytes':>10} {'statement/summary':>18}"
        )
        for size in sizes:
            contract_id = contract_with(tranche, size)
            built, found = median(samples, lambda: tranche.statement(contract_id))  # noqa: B023
            assert found.closing.summary == tranche.summary(contract_id)
            summary, _ = median(samples, lambda: tranche.summary(contract_id))  # noqa: B023
            cpu = time.process_time  # rendering is this process's work alone
            table, _ = median(samples, lambda: as_csv(found), cpu)  # noqa: B023
            document, body = median(samples, lambda: as_pdf(found), cpu)  # noqa: B023
            pages = body.count(b"/Type /Page\n")
            cells = []
            for name, seconds in (("statement", built), ("csv", table), ("pdf", document)):
                per = seconds / size * 1e6
                base.setdefault(name, per)
                cells.append(f"{per:9.1f} ({per / base[name]:4.2f}x)")
            print(
                f"{size:>10} {cells[0]:>16} {cells[1]:>16} {cells[2]:>16} {pages:>6}"
                f" {len(body):>10} {built / summary:>17.0f}x"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    for backend in args.backends.split(","):
        run(backend, sizes, args.samples)


if __name__ == "__main__":
    main()
