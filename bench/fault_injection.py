"""Fault injection: real lifecycles under gunicorn while workers, the master and database
connections are killed; then every acknowledged answer must hold, exactly.

For each database: migrate it with `tranche db upgrade`, start gunicorn (sync workers)
on 127.0.0.1, and let client threads (bench/fault_clients.py), each with its own HTTP
connections, drive contracts through every kind of lifecycle (bench/fault_model.py).
They retry with the same Idempotency-Key on a connection error, a timeout or a 5xx.
Meanwhile a fault thread SIGKILLs a worker, or the master (then starts the server again
on the same port), or on PostgreSQL terminates the server's database connections.
Then, from the model of every 2xx answer: each contract's figures and each milestone's
state and figures are exactly what was acknowledged; every acknowledged key is stored
once, and a sample of them replays instead of acting; the feed holds every event exactly
once, and each contract's events are the acknowledged ones, in order; `tranche audit
verify` passes.

    .venv/bin/python bench/fault_injection.py [--minutes 10 | --seconds 20]
        [--clients 6] [--workers 2] [--fault-every 1.0] [--max-operations 100000]
        [--replays 500] [--seed N] [--log gunicorn.log] [--backends sqlite,postgres]

PostgreSQL: a throwaway database on BENCH_POSTGRES_URL (default the local server).
Exits 1 listing the findings if a check fails; tests/test_fault_injection.py runs a
short round on both databases in the suite.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

import psycopg
from sqlalchemy import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_load import Server  # noqa: E402
from bench.fault_clients import PATIENCE, Api, Client, Tally  # noqa: E402
from bench.fault_model import ContractModel  # noqa: E402
from bench.throwaway import postgres_url  # noqa: E402
from engine.store.db import Database  # noqa: E402
from web.api.auth import create_key  # noqa: E402

APP = "web.app:create_app()"
TRANCHE = str(ROOT / ".venv/bin/tranche")
APPLICATION_NAME = "tranche-fault-injection"
"""The server's PostgreSQL connections carry this name: only they are terminated."""
WORKER, MASTER, CONNECTIONS = "worker SIGKILLed", "master SIGKILLed", "connections terminated"
KIND_WEIGHTS = {WORKER: 4, MASTER: 1, CONNECTIONS: 3}
PROGRESS = 3
"""Answers the clients must get acknowledged after a fault before the next one."""


def gone(pid: int) -> bool:
    """Whether a process has exited (a zombie waiting for its reaper counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


class Supervisor:
    """The server under test, and the faults done to it; it keeps one server answering."""

    def __init__(self, url: str, workers: int, tmp: str, log: IO) -> None:
        postgres = url.startswith("postgres")
        served = url + ("&" if "?" in url else "?") + f"application_name={APPLICATION_NAME}"
        self.url, self.workers, self.log = url, workers, log
        self.env = {
            "TRANCHE_DATABASE_URL": served if postgres else url,
            "TRANCHE_AUTO_UPGRADE": "false",
            "TRANCHE_EVIDENCE_DIR": str(Path(tmp) / "evidence"),
        }
        self.kinds = [WORKER, MASTER, CONNECTIONS] if postgres else [WORKER, MASTER]
        self.covered = threading.Event()
        """Set once every kind of fault was injected."""
        self.server = Server(APP, self.env, workers, log=log)

    def inject(self, kind: str, tally: Tally) -> None:
        if kind == WORKER:
            pids = self.server.worker_pids()
            if not pids:  # all died of the last fault; the master has not forked anew yet
                return
            with suppress(ProcessLookupError):
                os.kill(random.choice(pids), signal.SIGKILL)
        elif kind == MASTER:
            self.kill_server()
            self.server = Server(APP, self.env, self.workers, self.server.port, self.log)
        else:
            plain = make_url(self.url).set(drivername="postgresql")
            with psycopg.connect(plain.render_as_string(False), autocommit=True) as admin:
                terminated = admin.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND application_name = %s",
                    (APPLICATION_NAME,),
                ).fetchone()[0]
            tally.add("backends_terminated", terminated)
        tally.count("faults", kind)

    def kill_server(self) -> None:
        """SIGKILL the master, then its workers: stopped first, it can fork no new one."""
        master = self.server.process
        master.send_signal(signal.SIGSTOP)
        workers = self.server.worker_pids()
        master.kill()
        master.wait()
        for pid in workers:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        while not all(gone(pid) for pid in workers):
            time.sleep(0.02)

    def inject_until(self, stop: threading.Event, every: float, tally: Tally) -> None:
        """Each kind once, then kinds at random (a master less often), one every ~`every`
        seconds until `stop`; after each, wait until the clients got PROGRESS answers
        acknowledged, so that a slow machine is not kept down by faults alone."""
        schedule = list(self.kinds)
        while schedule or not stop.is_set():
            if schedule:
                kind = schedule.pop(0)
            else:
                kind = random.choices(self.kinds, [KIND_WEIGHTS[k] for k in self.kinds])[0]
            time.sleep(random.uniform(0.5, 1.5) * every)
            before = tally.acknowledged
            try:
                self.inject(kind, tally)
            except Exception as exc:  # noqa: BLE001  (a fault that failed is a finding)
                tally.find(f"injecting {kind}: {exc!r}")
            if not schedule:
                self.covered.set()
            give_up = time.monotonic() + PATIENCE
            while tally.acknowledged < before + PROGRESS and time.monotonic() < give_up:
                if stop.is_set():
                    break
                time.sleep(0.05)

    def stop(self) -> None:
        try:
            self.server.stop()
        except subprocess.TimeoutExpired:
            self.kill_server()


def read_feed(api: Api) -> list[dict[str, Any]]:
    events, after = [], "0"
    while True:
        page = api.get(f"/v1/events?after={after}&limit=500").body
        if not page["data"]:
            return events
        events += [row["event"] for row in page["data"]]
        after = page["next_cursor"]


def check(api: Api, contracts: list[ContractModel], url: str, replays: int) -> list[str]:
    """Every check against the model of acknowledged answers; the differences found."""
    found = []
    for sent in random.sample(api.sent, min(replays, len(api.sent))):
        again = api.call(
            "POST", sent.path, sent.body, Tranche_Actor=sent.actor, Idempotency_Key=sent.key
        )
        if (again.status, again.body) != (sent.answer.status, sent.answer.body) or (
            again.headers.get("Idempotent-Replayed") != "true"
        ):
            found.append(f"key {sent.key} on {sent.path} did not replay: {again.status}")
    feed = read_feed(api)
    ids = [event["id"] for event in feed]
    if len(ids) != len(set(ids)):
        found.append(f"the feed repeats {len(ids) - len(set(ids))} events")
    database = Database(url)
    with database.engine.connect() as connection:
        stored = set(connection.exec_driver_sql("SELECT id FROM events").scalars())
        records = connection.exec_driver_sql("SELECT count(*) FROM api_idempotency").scalar()
    database.dispose()
    keys = len({sent.key for sent in api.sent})
    if records != keys:
        found.append(f"{records} Idempotency-Keys stored, {keys} acknowledged")
    if stored != set(ids):
        found.append(f"{len(stored - set(ids))} events not in the feed, {len(set(ids) - stored)} "
                     "feed entries not events")  # fmt: skip
    by_contract: dict[str, list[dict[str, Any]]] = {}
    for event in feed:
        by_contract.setdefault(event["contract_id"], []).append(event)
    for model in contracts:
        if model.diverged:
            continue
        contract = api.get(f"/v1/contracts/{model.id}").body
        if contract["summary"] != model.figures() | {"currency": "USD"}:
            found.append(f"contract {model.id}: {contract['summary']} != {model.figures()}")
        rows = api.get(f"/v1/contracts/{model.id}/milestones").body["data"]
        for row, milestone in zip(rows, model.milestones, strict=True):
            got = {name: row["summary"][name] for name in milestone.figures()}
            if (row["state"], got) != (milestone.state, milestone.figures()):
                found.append(
                    f"milestone {milestone.id}: {row['state']} {got}, acknowledged "
                    f"{milestone.state} {milestone.figures()}"
                )
        for party, owed in model.owed().items():
            balances = api.get(f"/v1/parties/{party}/balances").body["data"]
            got = balances[0]["owed"] if balances else 0
            paid = balances[0]["paid_out"] if balances else 0
            expected_paid = model.paid_out if party == model.provider else 0
            if (got, paid) != (owed, expected_paid):
                found.append(f"party {party}: owed {got}, paid out {paid}; acknowledged "
                             f"{owed}, {expected_paid}")  # fmt: skip
        events = sorted(by_contract.get(model.id, []), key=lambda e: e["seq"])
        if [(e["type"], e["milestone_id"]) for e in events] != model.events:
            found.append(f"contract {model.id}: events {[e['type'] for e in events]}, "
                         f"acknowledged {[t for t, _ in model.events]}")  # fmt: skip
    audit = subprocess.run(
        [TRANCHE, "audit", "verify"], env=os.environ | {"DATABASE_URL": url},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if audit.returncode != 0:
        found.append(f"tranche audit verify failed: {audit.stdout}{audit.stderr}"[:2000])
    return found


def run(
    url: str,
    seconds: float,
    clients: int = 6,
    workers: int = 2,
    fault_every: float = 1.0,
    replays: int = 100,
    seed: int | None = None,
    max_operations: int = 100_000,
    log_path: str | None = None,
) -> Tally:
    """One round on the database at `url`: traffic and faults for `seconds`, then the checks.
    Every process started here is stopped by its pid before returning, also on failure.
    gunicorn's output (the server's tracebacks of any 500) goes to `log_path` if given."""
    seed = random.randrange(2**32) if seed is None else seed
    random.seed(seed)
    tally = Tally()
    subprocess.run([TRANCHE, "db", "upgrade"], env=os.environ | {"DATABASE_URL": url}, check=True)
    database = Database(url)
    _, key = create_key(database, "fault-injection")
    database.dispose()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, open(log_path or Path(tmp) / "log", "w") as log:
        supervisor = Supervisor(url, workers, tmp, log)
        stop = threading.Event()
        faults = threading.Thread(
            target=supervisor.inject_until, args=(stop, fault_every, tally), daemon=True
        )
        try:
            api = Api(supervisor.server.port, key, tally)
            drivers = [Client(n, api, random.Random(seed + n)) for n in range(clients)]
            threads = [
                threading.Thread(target=d.run, args=(stop, max_operations), daemon=True)
                for d in drivers
            ]
            faults.start()
            for thread in threads:
                thread.start()
            time.sleep(seconds)
            if not supervisor.covered.wait(PATIENCE):
                tally.find(f"not every kind of fault was injected: {dict(tally.faults)}")
            stop.set()
            for thread in threads:
                thread.join()
            faults.join()
            contracts = [model for driver in drivers for model in driver.contracts]
            for finding in check(api, contracts, url, replays):
                tally.find(finding)
        finally:
            stop.set()
            if faults.is_alive():
                faults.join()
            supervisor.stop()
        tally.elapsed = time.monotonic() - started
        tally.contracts = len(contracts)
        tally.seed = seed
    return tally


def report(label: str, tally: Tally) -> None:
    faults = ", ".join(f"{n} {kind}" for kind, n in sorted(tally.faults.items()))
    retried = ", ".join(f"{n} x {a}" for a, n in sorted(tally.retried_answers.items())) or "none"
    print(
        f"{label}: {tally.operations} operations, {tally.acknowledged} acknowledged, "
        f"{tally.refused} refused (races' losers), {tally.retries} retries, "
        f"{tally.contracts} contracts, {tally.elapsed:.1f} s (seed {tally.seed})\n"
        f"  faults injected: {faults} ({tally.backends_terminated} PostgreSQL backends)\n"
        f"  answers retried: {retried}\n"
        f"  steps: {', '.join(f'{n} {step}' for step, n in sorted(tally.steps.items()))}\n"
        f"  findings: {len(tally.findings)}"
    )
    for finding in tally.findings:
        print(f"    - {finding}")
    for request, n in sorted(tally.server_errors.items()):
        print(f"  {n} x {request}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--minutes", type=float)
    length.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fault-every", type=float, default=1.0)
    parser.add_argument("--replays", type=int, default=500)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--max-operations", type=int, default=100_000)
    parser.add_argument("--log", help="keep gunicorn's output (tracebacks) in this file")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    seconds = args.minutes * 60 if args.minutes else args.seconds
    options = dict(
        seconds=seconds, clients=args.clients, workers=args.workers,
        fault_every=args.fault_every, replays=args.replays, seed=args.seed,
        max_operations=args.max_operations, log_path=args.log,
    )  # fmt: skip
    failed = False
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                tally = run(f"sqlite:///{tmp}/faults.db", **options)
        elif backend == "postgres":
            with postgres_url("tranche_faults") as url:
                tally = run(url, **options)
        else:
            parser.error(f"unknown backend {backend!r}")
        report({"sqlite": "SQLite", "postgres": "PostgreSQL"}[backend], tally)
        failed = failed or bool(tally.findings)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
