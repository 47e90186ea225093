"""How long the policy checker takes on each policy (goal: well under 2 s for every one).

    .venv/bin/python bench/policy_check.py [--runs N] [--library] [FILE ...]

Prints, per policy (the bundled ones, the files given, and with `--library` the
deliberately unsafe ones of tests/policies/), the configurations and steps explored
and the wall time of loading plus checking: the first run (cold caches) and the
median and worst of N, and the verdict.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.domain.policy.checker import check_policy  # noqa: E402
from engine.domain.policy.loader import bundled_policy_files, load_policy_file  # noqa: E402

GOAL_SECONDS = 2.0


def measure(path: Path, runs: int) -> tuple[list[float], int, int, bool]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = check_policy(load_policy_file(path))
        times.append(time.perf_counter() - started)
    assert result is not None
    return times, result.configurations, result.steps, result.ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--library", action="store_true", help="add tests/policies/*.yaml")
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args()
    paths = [*bundled_policy_files(), *args.files]
    if args.library:
        paths += sorted((Path(__file__).resolve().parent.parent / "tests/policies").glob("*.yaml"))
    print(f"{'policy':<26}{'configs':>8}{'steps':>8}{'first':>9}{'median':>9}{'worst':>9}  verdict")
    slow = False
    for path in paths:
        times, configs, steps, ok = measure(path, max(1, args.runs))
        worst = max(times)
        slow |= worst >= GOAL_SECONDS
        print(
            f"{path.stem:<26}{configs:>8}{steps:>8}{times[0]:>8.3f}s"
            f"{statistics.median(times):>8.3f}s{worst:>8.3f}s  {'safe' if ok else 'UNSAFE'}"
        )
    print(f"goal: every policy under {GOAL_SECONDS:.0f} s -> {'MISSED' if slow else 'met'}")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
