"""The console queue benchmark still runs (small), so its figure can always be reproduced."""

from bench_run import run_bench


def test_the_queue_benchmark_seeds_and_renders_full_pages():
    printed = run_bench("console_queue.py", "--disputes", "300", "--runs", "1")
    assert "seeded 300 disputes" in printed
    rows = [line for line in printed.splitlines() if line.startswith("first page")]
    assert rows
    assert rows[0].split()[-1] == "50"
