"""The reconciliation benchmark still runs (small) and finds exactly its planted differences."""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "reconcile.py"


def test_the_reconcile_benchmark_finds_its_three_planted_differences():
    done = subprocess.run(
        [sys.executable, str(BENCH), "--lines", "300", "--backends", "sqlite"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("sqlite: 300 lines")
    assert "lines/s, peak RSS" in lines[1]
    assert lines[1].endswith("3 difference(s)")
    assert lines[2].endswith("(nothing written): 3 difference(s)")
