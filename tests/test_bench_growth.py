"""The growth benchmark still runs (small), and what it grows passes the audit: the copied
lifecycles carry genuine hash chains and balanced ledgers."""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "growth.py"


def test_the_growth_benchmark_grows_real_lifecycles_and_reports_ratios():
    done = subprocess.run(
        [sys.executable, str(BENCH), "--min", "1000", "--max", "10000", "--samples", "2"]
        + ["--backends", "sqlite"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    audits = [line for line in done.stdout.splitlines() if "full audit at" in line]
    assert len(audits) == 2
    assert all(
        line.endswith("audit ok: every event chain, ledger entry and balance verifies")
        for line in audits
    )
    ratios = [line for line in done.stdout.splitlines() if line.rstrip().endswith("x")]
    assert any(line.split()[0] == "fund" for line in ratios)
    assert any("queue first page" in line for line in ratios)
