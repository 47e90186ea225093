"""Installing Tranche as `make run` does prints no warning of our own making."""

import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_an_editable_install_warns_of_nothing(tmp_path):
    """No deprecated licence table (PEP 639 wants an SPDX string), no editable-layout notice."""
    venv.create(tmp_path / "venv", with_pip=False)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(tmp_path / "venv" / "bin" / "python")]
        + ["install", "--quiet", "--no-deps", "--editable", str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    assert "Warning" not in built.stderr
