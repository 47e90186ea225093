"""HTTP endpoints on 127.0.0.1 for the webhook tests: they record what they get."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from click.testing import CliRunner, Result

from api.helpers import ENCRYPTION_KEYS
from engine.store.db import Database
from web.cli import main


class Receiver:
    """Records each POST (headers, body); answers `status`, or 500 to the first `fail`;
    `before_answer` runs before each answer (a test makes it wait)."""

    def __init__(self, status: int = 204) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail, self.status = 0, status
        self.before_answer: Callable[[], None] = lambda: None
        self.got_one = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.got_one:
                    receiver.received.append((dict(self.headers), body))
                    receiver.got_one.notify_all()
                receiver.before_answer()
                status = 500 if receiver.fail > 0 else receiver.status
                receiver.fail -= 1
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}/hooks"

    def wait_for(self, count: int, timeout: float = 60) -> bool:
        """Until `count` posts arrived; False if they did not within `timeout` (a guard
        against hanging, not a measure of speed)."""
        with self.got_one:
            return self.got_one.wait_for(lambda: len(self.received) >= count, timeout)


@contextmanager
def serving(status: int = 204) -> Iterator[Receiver]:
    made = Receiver(status)
    thread = threading.Thread(target=made.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield made
    finally:
        made.server.shutdown()
        thread.join(timeout=5)
        made.server.server_close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_deliver(database: Database, *args: str, allow: str = "127.0.0.1") -> Result:
    """`tranche deliver --once` as an operator runs it, with keys and an allow-list."""
    env = {"TRANCHE_ENCRYPTION_KEYS": ENCRYPTION_KEYS, "TRANCHE_WEBHOOK_ALLOW_HOSTS": allow}
    return CliRunner().invoke(
        main, ["--database-url", database.url, "deliver", "--once", *args], env=env
    )
