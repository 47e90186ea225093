"""How long fast webhook receivers wait when another tenant's receiver is slow.

    .venv/bin/python bench/webhook_fanout.py [--events 5] [--fast 3] [--delay 1.0]

One tenant's endpoint takes `--delay` seconds to answer each delivery; `--fast`
other tenants' endpoints answer at once. Each tenant has `--events` events. For
each worker count, on a fresh SQLite database, `deliver_due` sends everything and
the script prints when the fast endpoints had all their deliveries, when the slow
one had, and the whole run. With one worker the fast endpoints wait behind the slow
one; with more, they finish in about the time their own deliveries take.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.domain.clock import SystemClock  # noqa: E402
from engine.service.tranche import Tranche  # noqa: E402
from engine.store.db import Database  # noqa: E402
from engine.store.keyring import new_key  # noqa: E402
from web.api.models import WebhookSubscription  # noqa: E402
from web.api.webhooks import WebhookSettings, deliver_due  # noqa: E402


class Endpoint:
    """A receiver on 127.0.0.1 that notes when each delivery arrived."""

    def __init__(self, delay: float) -> None:
        self.arrivals: list[float] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(delay)
                endpoint.arrivals.append(time.monotonic())
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def run(workers: int, events: int, fast: int, delay: float) -> tuple[float, float, float]:
    """Seconds until the fast endpoints had everything, the slow one had, and the run ended."""
    with tempfile.TemporaryDirectory() as folder:
        database = Database(f"sqlite:///{folder}/fanout.db")
        database.upgrade()
        tranche = Tranche(database, SystemClock())
        settings = WebhookSettings.from_config(
            {"ENCRYPTION_KEYS": new_key(), "WEBHOOK_ALLOW_HOSTS": "127.0.0.1"}
        )
        assert settings.keyring is not None
        endpoints = [Endpoint(delay)] + [Endpoint(0.0) for _ in range(fast)]
        with database.session() as session, session.begin():
            for number, endpoint in enumerate(endpoints):
                session.add(
                    WebhookSubscription(
                        id=f"wh_{number}",
                        tenant=f"t{number}",
                        url=endpoint.url,
                        secret_token=settings.keyring.encrypt("whsec_bench"),
                        created_at=SystemClock().now(),
                    )
                )
        for _ in range(events):
            for number in range(len(endpoints)):
                tranche.create_contract(
                    buyer_id="b",
                    provider_id="p",
                    currency="USD",
                    agreed_amount=100,
                    title="t",
                    tenant=f"t{number}",
                )
        started = time.monotonic()
        outcomes = deliver_due(tranche, settings, workers=workers)
        ended = time.monotonic()
        assert len(outcomes) == events * len(endpoints)
        assert all(o.status == "delivered" for o in outcomes)
        for endpoint in endpoints:
            endpoint.stop()
        database.dispose()
    fast_done = max(max(e.arrivals) for e in endpoints[1:]) - started
    return fast_done, max(endpoints[0].arrivals) - started, ended - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5)
    parser.add_argument("--fast", type=int, default=3)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    print(
        f"{args.fast} fast endpoints and 1 answering in {args.delay:.1f} s, "
        f"{args.events} events each"
    )
    print(f"{'workers':>8}{'fast done':>12}{'slow done':>12}{'whole run':>12}")
    for workers in args.workers:
        fast_done, slow_done, whole = run(workers, args.events, args.fast, args.delay)
        print(f"{workers:>8}{fast_done:>11.2f}s{slow_done:>11.2f}s{whole:>11.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
