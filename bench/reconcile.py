"""How fast does `tranche reconcile` read the rail's report, and in how much memory?

Builds a database holding the rail movements of N report lines (bulk INSERTs: a contract
per 100 lines, a milestone per 10, nine confirmed fundings and one paid payout per
milestone), writes Stripe's itemized balance report of them with three planted
differences (an amount off by a cent, a charge Tranche never heard of, a funding the
report lacks), then runs `tranche reconcile` on it in a process of its own: seconds,
lines per second and that process's peak RSS; then imports the same file again (it
writes nothing). On each backend asked for.

    .venv/bin/python bench/reconcile.py [--lines 10000] [--backends sqlite,postgres]

Not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.growth import backend  # noqa: E402
from engine.store.db import Database  # noqa: E402
from engine.store.models import Contract, Funding, Milestone, Payout  # noqa: E402

TENANT = "bench"
START = datetime(2026, 11, 1, tzinfo=UTC)
BATCH = 10_000
HEADER = (
    "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,"
    "source_id,payment_intent_id,charge_id,description\n"
)
TRANCHE = [sys.executable, "-c", "from web.cli import run; run()"]


def moment(line: int) -> datetime:
    return START + timedelta(seconds=line)


def movements(lines: int) -> dict[Any, Any]:
    """The rows, by model, as generators: line i is a payout when i % 10 == 9."""

    def contracts() -> Any:
        for n in range(lines // 100 + 1):  # line `lines` (missing in the rail) included
            yield {
                "id": f"ct_{n}",
                "tenant": TENANT,
                "buyer_id": "b",
                "provider_id": "p",
                "currency": "USD",
                "agreed_amount": 10**9,
                "title": "bench",
                "policy_name": "fixed-price",
                "policy_version": 1,
                "created_at": START,
                "event_seq": 0,
                "last_event_hash": "",
            }

    def milestones() -> Any:
        for n in range(lines // 10 + 1):
            yield {
                "id": f"ms_{n}",
                "contract_id": f"ct_{n // 10}",
                "position": n % 10,
                "title": "m",
                "amount": 10**6,
                "state": "funded",
                "policy_name": "fixed-price",
                "policy_version": 1,
                "version": 1,
                "revisions": 0,
                "created_at": START,
                "updated_at": START,
            }

    def common(line: int) -> dict[str, Any]:
        at = moment(line)
        return {
            "tenant": TENANT,
            "contract_id": f"ct_{line // 100}",
            "amount": 1000 + line % 97,
            "currency": "USD",
            "created_at": at,
            "settled_at": at,
        }

    def fundings() -> Any:
        for line in range(lines + 1):  # one more than the report has: missing in the rail
            if line % 10 != 9:
                yield common(line) | {
                    "id": f"fd_{line}",
                    "milestone_id": f"ms_{line // 10}",
                    "event": "fund",
                    "actor_id": "b",
                    "status": "confirmed",
                    "rail_reference": f"pi_{line}",
                }

    def payouts() -> Any:
        for line in range(9, lines, 10):
            yield common(line) | {
                "id": f"po_{line}",
                "party_id": "p",
                "kind": "payout",
                "status": "paid",
                "rail_reference": f"tr_{line}",
                "reversed_amount": 0,
            }

    return {Contract: contracts(), Milestone: milestones(), Funding: fundings(), Payout: payouts()}


def fill(database: Database, lines: int) -> None:
    with database.engine.begin() as connection:
        for model, rows in movements(lines).items():
            while batch := list(islice(rows, BATCH)):
                connection.execute(insert(model), batch)


def write_report(path: Path, lines: int) -> None:
    """Line i charges pi_i (or transfers tr_i); line 7 is a cent off, line 13 is unknown."""
    with path.open("w") as out:
        out.write(HEADER)
        for line in range(lines):
            amount = 1000 + line % 97 + (line == 7)
            at = moment(line).strftime("%Y-%m-%d %H:%M:%S")
            gross = f"{amount // 100}.{amount % 100:02d}"
            if line % 10 == 9:
                row = f"txn_{line},{at},usd,-{gross},0.00,-{gross},transfer,tr_{line},,,"
            else:
                ref = "pi_unknown" if line == 13 else f"pi_{line}"
                row = f"txn_{line},{at},usd,{gross},0.30,{gross},charge,ch_{line},{ref},ch_{line},"
            out.write(row + "\n")


def reconcile(url: str, path: Path) -> tuple[float, float, str]:
    """`tranche reconcile` in its own process: seconds, its peak RSS (MiB), its last line."""
    command = [*TRANCHE, "--database-url", url, "reconcile", str(path), "--tenant", TENANT]
    output = path.with_suffix(".out")
    started = time.perf_counter()
    with output.open("w") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    child.returncode = code  # reaped by wait4: Popen must not wait (or warn) again
    last = output.read_text().strip().splitlines()[-1:] or [""]
    if code not in (0, 1):  # 1: differences found, as planted
        raise SystemExit(f"tranche reconcile failed ({code}): {last[0]}")
    return seconds, usage.ru_maxrss / 1024, last[0]


def run(name: str, lines: int) -> None:
    with backend(name, "tranche_reconcile") as url, tempfile.TemporaryDirectory() as workdir:
        database = Database(url)
        try:
            database.upgrade()
            started = time.perf_counter()
            fill(database, lines)
            path = Path(workdir) / "balance_change_from_activity.itemized.3.csv"
            write_report(path, lines)
            built = time.perf_counter() - started
            size = path.stat().st_size / 2**20
            print(f"{name}: {lines:,} lines ({size:.0f} MiB) and their records in {built:.0f} s")
            seconds, peak, said = reconcile(url, path)
            print(
                f"  reconcile: {seconds:7.1f} s, {lines / seconds:>9,.0f} lines/s, "
                f"peak RSS {peak:.0f} MiB: {said}"
            )
            seconds, peak, said = reconcile(url, path)
            print(f"  same file again: {seconds:7.1f} s (nothing written): {said}")
        finally:
            database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    options = parser.parse_args()
    for name in options.backends.split(","):
        run(name, options.lines)


if __name__ == "__main__":
    main()
