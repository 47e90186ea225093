"""The liability benchmark still runs (small) and reports each report's median and ratio."""

from bench_run import run_bench


def test_the_liability_benchmark_grows_the_ledger_and_times_both_reports():
    lines = run_bench(
        "liability.py", "--min", "100", "--max", "1000", "--samples", "1", "--backends", "sqlite"
    ).splitlines()
    assert lines[:2] == [
        "sqlite: 101 milestones, 362 postings (grown in 0 s)",
        "sqlite: 1,010 milestones, 3,620 postings (grown in 0 s)",
    ]
    ratios = [line.split()[:2] for line in lines if line.rstrip().endswith("x")]
    assert ratios == [["liability", "now"], ["liability", "30"], ["aging", "now"], ["aging", "30"]]
