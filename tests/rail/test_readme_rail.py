"""The README's rail story, run exactly as it stands there, with bash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
PORT = 8767


def script() -> str:
    section = README.split("## Money in and out: the payment rail", 1)[1]
    return section.split("```sh\n", 1)[1].split("\n```\n", 1)[0] + "\n"


def test_the_rail_story_runs_as_the_readme_says(tmp_path: Path) -> None:
    path = tmp_path / "rail.sh"
    path.write_text(script())
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(["bash", str(path)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()[1:]
    assert lines == [
        '{"state":"proposed","pending":25000,"in_escrow":0}',
        '{"status":"confirmed","state":"funded","in_escrow":25000}',
        '{"available":23750,"due":23750}',
        '{"status":"paid"}',
        '{"amount":25000,"from_escrow":0,"from_available":0,"from_pending":0,'
        '"provider_debt":23750,"platform_loss":1250,"from_provider":23750}',
        '{"available":-23750,"debt":23750,"paid_out":23750}',
        '{"state":"funded"}',
        '{"available":4750,"debt":0,"due":4750}',
    ]
