"""The README's demo excerpt is what `tranche demo` prints on a new local database.

The demo runs as `make run` runs it (no URL: ./tranche.db in the current
directory). Dates are compared as days after the story's first day, since the
story is played relative to today; ids and passwords are new on every run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")
ELIDED = "..."


def excerpt() -> list[str]:
    section = README.split("### The demo", 1)[1]
    return section.split("\n```\n", 2)[1].splitlines()


def normalise(lines: list[str]) -> list[str]:
    """Dates as days after the first one; ids and passwords as placeholders."""
    first = date.fromisoformat(DATE.findall("\n".join(lines))[0])
    day = lambda m: f"day {(date.fromisoformat(m.group(1)) - first).days}"  # noqa: E731
    out = []
    for line in lines:
        line = DATE.sub(day, line)
        line = re.sub(r"\b(dp|ct|key|tr)_[\w-]+", r"\1_<id>", line)
        out.append(re.sub(r"password: \S+", "password: <password>", line))
    return out


def chunks(lines: list[str]) -> list[list[str]]:
    found: list[list[str]] = [[]]
    for line in lines:
        if line.strip() == ELIDED:
            found.append([])
        else:
            found[-1].append(line)
    return found


def test_the_readme_demo_excerpt_is_what_the_demo_prints(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    played = subprocess.run(
        [sys.executable, "-c", "from web.cli import run; run()", "demo"],
        cwd=tmp_path,
        env=env | {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        capture_output=True,
        text=True,
        check=True,
    )
    printed = normalise(played.stdout.strip("\n").splitlines())
    expected = chunks(normalise(excerpt()))
    assert len(expected) > 3
    assert printed[: len(expected[0])] == expected[0], "the excerpt starts where the demo does"
    assert printed[-len(expected[-1]) :] == expected[-1], "and ends where it ends"
    at = 0
    for chunk in expected:
        spans = [i for i in range(at, len(printed)) if printed[i : i + len(chunk)] == chunk]
        assert spans, f"not printed in this order: {chunk}"
        at = spans[0] + len(chunk)
