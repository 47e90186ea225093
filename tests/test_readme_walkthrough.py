"""The README's curl walkthrough, run exactly as it stands there, with bash.

It must work from start to end, fail loudly when something else already
answers on its port, and leave nothing running either way.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
PORT, RECEIVER_PORT = 8765, 8766


def sh_block(heading: str) -> str:
    """The first ```sh block of the README after `heading`, as it stands there."""
    section = README.split(heading, 1)[1]
    return section.split("```sh\n", 1)[1].split("\n```\n", 1)[0] + "\n"


def walkthrough() -> str:
    return sh_block("## The HTTP API in five minutes (curl)")


def run(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return run_script(walkthrough(), tmp_path)


def run_script(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run a README script with bash, the way a reader would, with `tranche` on the PATH."""
    script = tmp_path / "readme.sh"
    script.write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["TMPDIR"] = str(tmp_path)  # its scratch directory (mktemp -d) goes here
    return subprocess.run(
        ["bash", str(script)], env=env, capture_output=True, text=True, timeout=300
    )


def script_output(heading: str, tmp_path: Path) -> list[str]:
    """What the README's script under `heading` prints after its first line (the scratch
    directory it works in); the script must succeed."""
    done = run_script(sh_block(heading), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()[1:]


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def free_ports() -> Iterator[None]:
    assert not listening(PORT), f"port {PORT} is busy before the test"
    assert not listening(RECEIVER_PORT), f"port {RECEIVER_PORT} is busy before the test"
    yield
    assert not listening(PORT), "the walkthrough left its server running"
    assert not listening(RECEIVER_PORT), "the walkthrough left its webhook receiver running"


def test_the_walkthrough_runs_to_the_end_and_stops_its_server(tmp_path, free_ports) -> None:
    done = run(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "created the database at sqlite:///tranche.db" in out
    assert '{"state":"funded","version":2,"in_escrow":25000}' in out
    assert '"type":"urn:tranche:problem:forbidden_event"' in out
    assert '{"state":"approved","version":4}' in out
    assert '"paid_to_date":25000' in out
    assert '"remaining":75000' in out
    assert "5 approve approved" in out
    assert ": delivered (204)" in out
    assert out.endswith("signature ok\n")


def test_the_walkthrough_refuses_a_port_someone_else_serves(tmp_path, free_ports) -> None:
    class Other(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    other = HTTPServer(("127.0.0.1", PORT), Other)
    thread = threading.Thread(target=other.serve_forever, daemon=True)
    thread.start()
    try:
        done = run(tmp_path)
    finally:
        other.shutdown()
        other.server_close()
        thread.join(timeout=5)
    assert done.returncode == 1
    assert "something already answers on port 8765: stop it first" in done.stderr
    assert "created the database" not in done.stdout
