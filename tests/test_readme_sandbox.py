"""The README's sandbox story, run exactly as it stands there, with bash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def script() -> str:
    section = README.split("### A sandbox with a test clock", 1)[1]
    return section.split("```sh\n", 1)[1].split("\n```\n", 1)[0] + "\n"


def test_the_sandbox_story_runs_as_the_readme_says(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.sh"
    path.write_text(script())
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(["bash", str(path)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[1:] == [
        '{"state":"submitted","next":"review_period_elapsed"}',
        '[{"event":"review_period_elapsed","outcome":"approved"}]',
        '{"state":"approved","paid_to_date":25000}',
        '{"status":"failed","failure_reason":"account_closed"}',
        '{"available":23750,"in_flight":0}',
        '{"amount":25000,"from_escrow":0,"from_available":23750,"from_pending":0,'
        '"provider_debt":0,"platform_loss":1250,"from_provider":23750}',
        '{"status":403,"code":"test_mode_only"}',
    ]
