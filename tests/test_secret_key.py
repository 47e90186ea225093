"""Console sessions need one secret across worker processes: gunicorn without it refuses to start.

Each gunicorn worker used to make up its own key when TRANCHE_SECRET_KEY was unset, so a
session or CSRF token signed by one worker failed at the next, at random. `tranche serve`
(one process) may still make one up for local development.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from web.app import create_app
from web.console import MissingSecretKeyError

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


def test_gunicorn_workers_without_a_secret_key_refuse_to_start(sqlite_database):
    env = {k: v for k, v in os.environ.items() if k != "TRANCHE_SECRET_KEY"}
    env |= {"TRANCHE_DATABASE_URL": sqlite_database.url, "TRANCHE_AUTO_UPGRADE": "false"}
    command = [str(GUNICORN), "-w", "2", "-b", "127.0.0.1:0", "web.app:create_app()"]
    result = subprocess.run(
        command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode != 0
    assert "TRANCHE_SECRET_KEY is not set" in result.stderr
    assert "Worker failed to boot" in result.stderr


def test_under_gunicorn_the_app_needs_the_key(sqlite_database, monkeypatch, tmp_path):
    monkeypatch.setenv("SERVER_SOFTWARE", "gunicorn/27.0.1")
    config = {
        "DATABASE_URL": sqlite_database.url,
        "AUTO_UPGRADE": False,
        "EVIDENCE_DIR": str(tmp_path),
    }
    with pytest.raises(MissingSecretKeyError, match="Give every worker the same secret"):
        create_app(config)
    assert create_app(config | {"SECRET_KEY": "shared"}).config["SECRET_KEY"] == "shared"


def test_one_development_process_makes_up_its_own_key(sqlite_database, monkeypatch, tmp_path):
    monkeypatch.delenv("SERVER_SOFTWARE", raising=False)
    app = create_app(
        {"DATABASE_URL": sqlite_database.url, "AUTO_UPGRADE": False, "EVIDENCE_DIR": str(tmp_path)}
    )
    assert len(app.config["SECRET_KEY"]) == 64
