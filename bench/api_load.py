"""Load: concurrent clients drive milestone lifecycles through gunicorn, beside two yardsticks.

For SQLite and PostgreSQL in turn: start gunicorn (sync workers) serving Tranche and,
beside it, bench/bare_app.py on the same database. CLIENTS threads run Tranche
lifecycles (create a contract with its milestone in one request, then fund, submit,
approve); then the same lifecycles at the floor of their writes (the rows Tranche
writes, by the cheapest code: no machine, no policy, no auth, no validation); then
the bare endpoint (1 UPDATE + 1 INSERT via the ORM). The three alternate in rounds of
SECONDS / ROUNDS each, so that a shared machine's drift touches them alike.
Reported: transitions/s (fund, submit, approve) and all requests/s with their
p50/p99 latency, for Tranche and for the floor; the bare requests/s; the ratios; and
each server's CPU time per request (gunicorn master and workers, from /proc; the
database server's and the clients' time is not in it). With `--readers N`, N more
threads GET one milestone over and over beside Tranche's writers, and the GETs'
rate and p50/p99 are reported too (on SQLite they stay out of the writers' queue).

    .venv/bin/python bench/api_load.py [--seconds 10] [--rounds 5] [--clients 8]
                                       [--workers 2] [--readers 0]
                                       [--backends sqlite,postgres]

PostgreSQL: a throwaway database on BENCH_POSTGRES_URL (default the local server).
Not a test: the numbers depend on the machine; nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.throwaway import postgres_url  # noqa: E402
from engine.store.db import Database  # noqa: E402
from web.api.auth import create_key  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SECRET_KEY = secrets.token_hex(32)


class Server:
    """gunicorn (sync workers) on 127.0.0.1, on a free port unless `port` is given.

    Its workers share one console secret key (gunicorn refuses to start without one),
    kept across a restart on the same port."""

    def __init__(
        self,
        app: str,
        env: dict[str, str],
        workers: int,
        port: int = 0,
        log: IO | None = None,
        gunicorn: Path = ROOT / ".venv/bin/gunicorn",
        options: tuple[str, ...] = (),
    ) -> None:
        """Started and answering on its port; `log` takes gunicorn's output (else ours).
        `gunicorn` and its `options` (e.g. --chdir): another program's, as bench/peer_django.py
        serves its Django peer from its own virtualenv."""
        self.port = port or free_port()
        command = [
            str(gunicorn),
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{self.port}",
            "--log-level",
            "warning",
            *options,
            app,
        ]
        env = {"TRANCHE_SECRET_KEY": SECRET_KEY} | env
        self.process = subprocess.Popen(
            command, env=os.environ | env, cwd=ROOT, stdout=log, stderr=log
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                time.sleep(0.5)
                return
            except OSError:
                time.sleep(0.1)
        self.process.kill()
        self.process.wait()
        raise RuntimeError("gunicorn did not start")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)

    def worker_pids(self) -> list[int]:
        """The master's workers right now (Linux /proc)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def cpu_seconds(self) -> float:
        """CPU time used so far by the gunicorn master and its workers (Linux /proc)."""
        ticks = 0
        for pid in [self.process.pid, *self.worker_pids()]:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")


def request(port: int, method: str, path: str, headers: dict, body: dict | None = None) -> tuple:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    data = None if body is None else json.dumps(body)
    sent = dict(headers)
    if data is not None:
        sent["Content-Type"] = "application/json"
    started = time.perf_counter()
    connection.request(method, path, body=data, headers=sent)
    response = connection.getresponse()
    payload = response.read()
    elapsed = time.perf_counter() - started
    connection.close()
    return response.status, payload, elapsed


Step = Callable[[int], list[float]]


def drive(seconds: float, *groups: tuple[int, Step]) -> tuple[list[list[float]], float]:
    """For each (clients, step) group, run `step(client)` in a loop on `clients` threads,
    all groups at once; return each group's latencies as its steps timed them."""
    latencies: list[list[float]] = [[] for _ in groups]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def loop(group: int, client: int) -> None:
        step = groups[group][1]
        while time.monotonic() < stop:
            timed = step(client)
            with lock:
                latencies[group].extend(timed)

    started = time.monotonic()
    threads = [
        threading.Thread(target=loop, args=(g, i))
        for g, (clients, _) in enumerate(groups)
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.monotonic() - started


def new_milestone(port: int, auth: dict, buyer: str, provider: str) -> tuple[str, list[float]]:
    """A contract between `buyer` and `provider` created with one proposed milestone, in one
    request: the milestone's id, and the call's latency."""
    contract = {
        "buyer_id": buyer,
        "provider_id": provider,
        "currency": "USD",
        "agreed_amount": 10_000,
        "title": "load",
        "milestones": [{"title": "m", "amount": 10_000}],
    }
    status, body, created = request(port, "POST", "/v1/contracts", auth, contract)
    assert status == 201, body
    return json.loads(body)["milestones"][0]["id"], [created]


def tranche_step(port: int, key: str, setup: list[float]) -> Step:
    """One lifecycle: returns the transitions' latencies; the set-up call's goes to `setup`."""
    auth = {"Authorization": f"Bearer {key}"}

    def lifecycle(client: int) -> list[float]:
        milestone, latencies = new_milestone(port, auth, f"b{client}", f"p{client}")
        setup.extend(latencies)
        timed = []
        for event, actor in (
            ("fund", f"b{client}"),
            ("submit", f"p{client}"),
            ("approve", f"b{client}"),
        ):
            headers = auth | {"Tranche-Actor": actor, "Idempotency-Key": secrets.token_hex(8)}
            status, body, elapsed = request(
                port, "POST", f"/v1/milestones/{milestone}/events/{event}", headers, {}
            )
            assert status == 200, body
            timed.append(elapsed)
        return timed

    return lifecycle


def reader_step(port: int, key: str) -> Step:
    """GET one milestone (created here, before the clock starts) as its buyer."""
    auth = {"Authorization": f"Bearer {key}"}
    milestone, _ = new_milestone(port, auth, "reader", "p")
    path = f"/v1/milestones/{milestone}"

    def read(client: int) -> list[float]:
        status, body, elapsed = request(port, "GET", path, auth | {"Tranche-Actor": "reader"})
        assert status == 200, body
        return [elapsed]

    return read


def bare_step(port: int) -> Step:
    def one(client: int) -> list[float]:
        status, body, elapsed = request(port, "POST", f"/bare/{client}", {})
        assert status == 200, body
        return [elapsed]

    return one


def floor_step(port: int, setup: list[float]) -> Step:
    """A lifecycle at the floor of its writes (bench/bare_app.py): create a contract with its
    milestone, then three transitions; returns their latencies, the creation's goes to `setup`."""

    def lifecycle(client: int) -> list[float]:
        status, body, created = request(port, "POST", "/floor/contracts", {}, {})
        assert status == 200, body
        setup.append(created)
        milestone = json.loads(body)["milestone_id"]
        timed = []
        for _ in range(3):
            headers = {"Idempotency-Key": secrets.token_hex(8)}
            status, body, elapsed = request(port, "POST", f"/floor/{milestone}", headers, {})
            assert status == 200, body
            timed.append(elapsed)
        return timed

    return lifecycle


def report(name: str, latencies: list[float], elapsed: float) -> float:
    rate = len(latencies) / elapsed
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"  {name:<28} {rate:8.1f} /s   p50 {cuts[49] * 1000:6.1f} ms   "
        f"p99 {cuts[98] * 1000:6.1f} ms   ({len(latencies)} requests)"
    )
    return rate


class Tally:
    """One side's latencies, time driven and server CPU, summed over the rounds."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.time = self.cpu = 0.0

    def round(self, server: Server, seconds: float, *groups: tuple[int, Step]) -> list:
        """Drive `groups` for `seconds`; the first group's latencies are counted here, and
        every group's are returned."""
        cpu = server.cpu_seconds()
        latencies, elapsed = drive(seconds, *groups)
        self.cpu += server.cpu_seconds() - cpu
        self.time += elapsed
        self.latencies += latencies[0]
        return latencies

    def cpu_ms(self, requests: int) -> float:
        return self.cpu / requests * 1000


def run_backend(url: str, label: str, args: argparse.Namespace) -> None:
    """Both servers up at once, driven in alternating rounds (Tranche, the floor of its
    writes, then bare, each for seconds / rounds): a shared machine that slows down for
    a while slows all three alike, so the ratios hold better than the absolute figures.
    An idle sync worker costs nothing; it sleeps in accept()."""
    from bench.bare_app import prepare

    database = Database(url)
    database.upgrade()
    _, key = create_key(database, "bench")
    database.dispose()
    prepare(url, args.clients)
    env = {
        "TRANCHE_DATABASE_URL": url,
        "TRANCHE_AUTO_UPGRADE": "false",
    }
    print(
        f"{label}: {args.clients} clients, {args.readers} readers, "
        f"{args.workers} gunicorn sync workers, {args.seconds}s each in {args.rounds} rounds"
    )
    tranche = Server("web.app:create_app()", env, args.workers)
    bare = Server("bench.bare_app:create_app()", {"BENCH_DATABASE_URL": url}, args.workers)
    seconds = args.seconds / args.rounds
    try:
        setup: list[float] = []
        floor_setup: list[float] = []
        writers = (args.clients, tranche_step(tranche.port, key, setup))
        readers = [(args.readers, reader_step(tranche.port, key))] if args.readers else []
        ours, floor, plain = Tally(), Tally(), Tally()
        gets: list[float] = []
        for _ in range(args.rounds):
            _, *got = ours.round(tranche, seconds, writers, *readers)
            gets += got[0] if got else []
            floor.round(bare, seconds, (args.clients, floor_step(bare.port, floor_setup)))
            plain.round(bare, seconds, (args.clients, bare_step(bare.port)))
    finally:
        tranche.stop()
        bare.stop()
    transitions = ours.latencies
    tranche_rate = report("Tranche transitions", transitions, ours.time)
    request_rate = report("Tranche, all API requests", transitions + setup, ours.time)
    if readers:
        report("GET /v1/milestones/{id}", gets, ours.time)
    floor_rate = report("floor: transitions", floor.latencies, floor.time)
    floor_requests = report("floor: all requests", floor.latencies + floor_setup, floor.time)
    bare_rate = report("bare UPDATE+INSERT", plain.latencies, plain.time)
    for name, rate, base in (
        ("Tranche transitions / bare", tranche_rate, bare_rate),
        ("Tranche API requests / bare", request_rate, bare_rate),
        ("floor transitions / bare", floor_rate, bare_rate),
        ("floor requests / bare", floor_requests, bare_rate),
        ("Tranche transitions / floor", tranche_rate, floor_rate),
    ):
        print(f"  ratio {name}: {rate / base:.2f}x")
    requests = len(transitions) + len(setup) + len(gets)
    print(
        f"  gunicorn CPU per request: Tranche {ours.cpu_ms(requests):.2f} ms, "
        f"floor {floor.cpu_ms(len(floor.latencies) + len(floor_setup)):.2f} ms, "
        f"bare {plain.cpu_ms(len(plain.latencies)):.2f} ms\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--readers", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                run_backend(f"sqlite:///{tmp}/bench.db", "SQLite", args)
        elif backend == "postgres":
            with postgres_url("tranche_bench") as url:
                run_backend(url, "PostgreSQL", args)
        else:
            parser.error(f"unknown backend {backend!r}")


if __name__ == "__main__":
    main()
