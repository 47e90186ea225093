"""The reconciliation benchmark still runs (small) and finds exactly its planted differences."""

from bench_run import run_bench


def test_the_reconcile_benchmark_finds_its_three_planted_differences():
    lines = run_bench("reconcile.py", "--lines", "300", "--backends", "sqlite").splitlines()
    assert lines[0].startswith("sqlite: 300 lines")
    assert "lines/s, peak RSS" in lines[1]
    assert lines[1].endswith("3 difference(s)")
    assert lines[2].endswith("(nothing written): 3 difference(s)")
