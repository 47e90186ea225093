"""The README's reconciliation story, run exactly as it stands there, with bash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def script() -> str:
    section = README.split("### Reconcile with the rail's report", 1)[1]
    return section.split("```sh\n", 1)[1].split("\n```\n", 1)[0] + "\n"


def test_the_reconciliation_story_runs_as_the_readme_says(tmp_path: Path) -> None:
    path = tmp_path / "reconcile.sh"
    path.write_text(script())
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(["bash", str(path)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[1:] == [
        "exit code 1",
        "line 3: amount_differs: funding pi_2: rail 30001 USD, tranche 30000 USD (confirmed)",
        "1 difference(s)",
        '{"replayed":true,"summary":[{"outcome":"amount_differs","count":1,"fees":870},'
        '{"outcome":"matched","count":1,"fees":755},{"outcome":"not_tracked","count":1,"fees":0}]}',
    ]
