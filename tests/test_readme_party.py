"""The README's party-page script, run as it stands there: it mints, shows, frames,
notifies and revokes, prints what the README says it prints, and stops its server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from test_readme_walkthrough import README, listening

PORT = 8767
SECTION = README.split("## Pages for buyers and providers", 1)[1]


def block(index: int) -> str:
    return SECTION.split("```", 2 * index + 2)[2 * index + 1].split("\n", 1)[1]


def test_the_party_page_script_prints_what_the_readme_says(tmp_path: Path) -> None:
    assert not listening(PORT), f"port {PORT} is busy before the test"
    script = tmp_path / "party.sh"
    script.write_text(block(0))
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(
        ["bash", str(script)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    printed = done.stdout.replace("\xa0", " ").splitlines()
    for line in block(1).strip().splitlines():
        assert line in printed
    assert any(line.startswith('<iframe src="http://127.0.0.1:8767/p/tp_') for line in printed)
    assert not listening(PORT), "the script left its server running"
