"""The statements benchmark still runs (tiny), and checks its statements close on the summary."""

from bench_run import run_bench


def test_the_statement_benchmark_reports_per_movement_costs_and_ratios():
    lines = run_bench(
        "statements.py", "--sizes", "3,6", "--samples", "1", "--backends", "sqlite"
    ).splitlines()
    assert "sqlite: microseconds per movement (ratio to 3 movements)" in lines
    rows = [line.split() for line in lines if line.split()[:1] in (["3"], ["6"])]
    assert [row[0] for row in rows] == ["3", "6"]
    assert rows[0][2] == rows[0][4] == rows[0][6] == "(1.00x)"
    assert all(row[-1].endswith("x") and int(row[7]) >= 1 for row in rows)  # pages
