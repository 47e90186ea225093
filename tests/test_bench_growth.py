"""The growth benchmark still runs (small), and what it grows passes the audit: the copied
lifecycles carry genuine hash chains and balanced ledgers."""

from bench_run import run_bench


def test_the_growth_benchmark_grows_real_lifecycles_and_reports_ratios():
    printed = run_bench(
        "growth.py", "--min", "1000", "--max", "10000", "--samples", "2", "--backends", "sqlite"
    )
    audits = [line for line in printed.splitlines() if "full audit at" in line]
    assert len(audits) == 2
    assert all(
        line.endswith("audit ok: every event chain, ledger entry and balance verifies")
        for line in audits
    )
    ratios = [line for line in printed.splitlines() if line.rstrip().endswith("x")]
    assert any(line.split()[0] == "fund" for line in ratios)
    assert any("queue first page" in line for line in ratios)
