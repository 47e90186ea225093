"""Installing Tranche prints no warning of our own making (`make run` shows pip's output)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_building_the_metadata_warns_of_nothing():
    """The licence is an SPDX string (PEP 639), not the deprecated TOML table."""
    built = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--quiet", str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    assert "BuildBackendWarning" not in built.stderr
