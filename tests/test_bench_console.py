"""The console queue benchmark still runs (small), so its figure can always be reproduced."""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "console_queue.py"


def test_the_queue_benchmark_seeds_and_renders_full_pages():
    done = subprocess.run(
        [sys.executable, str(BENCH), "--disputes", "300", "--runs", "1"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "seeded 300 disputes" in done.stdout
    rows = [line for line in done.stdout.splitlines() if line.startswith("first page")]
    assert rows
    assert rows[0].split()[-1] == "50"
