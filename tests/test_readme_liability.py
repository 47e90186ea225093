"""The README's liability and aging example, run exactly as it stands there, with bash."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
SECTION = README.split("### Liability and aging", 1)[1].split("\n### ", 1)[0]


def test_the_liability_example_prints_what_the_readme_says(tmp_path: Path) -> None:
    script, shown = SECTION.split("```sh\n", 1)[1].split("\n```\n", 1)
    printed = shown.split("```\n", 1)[1].split("\n```", 1)[0]
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("working in ")
    # The demo is dated back from today, and makes a tenant of its own: the README shows
    # one run's date and writes the tenant as key_...
    expected = printed.splitlines()
    assert re.fullmatch(r"as of \d{4}-\d\d-\d\dT23:59:59\+00:00, every tenant", lines[1])
    assert re.fullmatch(r"key_[0-9a-f]+,provider-lin,USD,256500,256500,0,0,0,0", lines[5])
    assert lines[2:5] + lines[6:] == expected[1:4] + expected[5:]
