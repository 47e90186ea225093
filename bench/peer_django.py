"""Peer: Tranche beside a Django version of the same lifecycle, both on PostgreSQL.

The peer (bench/peer/: Django 5.2, django-fsm-2, django-hordak) serves the routes a
lifecycle takes with Tranche's semantics: API key (its SHA-256 looked up, cached 30 s
per process, as Tranche's KeyCache); Tranche-Actor checked against the contract (a
stranger 403, a party not allowed the event 409 with `allowed_events`); the milestone
and its contract row-locked (select_for_update); the Idempotency-Key record inserted in
the command's transaction (a replay repeats the stored answer, the same key with another
request is refused 422); a django-fsm transition; a hash-chained event (Tranche's
canonical JSON and SHA-256); the review timer started on submit, cancelled on approve;
hordak ledger legs (fund: buyer funding -> escrow; approve: escrow -> provider and a 5%
platform fee leg). Errors are problem+json with Tranche's `status` and `type`.

Run (from the tree to measure: it serves that tree's Tranche):

    .venv/bin/python bench/peer_django.py [--seconds 20] [--rounds 5] [--clients 8]
        [--workers 2] [--warmup 1] [--lifecycles 50] [--venv /tmp/tranche-peer-venv]

It makes the peer's virtualenv only if a package is missing, two throwaway databases on
BENCH_POSTGRES_URL, and serves under gunicorn, the same sync workers each, all at once:
Tranche; the peer; the peer with psycopg's server-side prepared statements (Django binds
parameters on the client by default, and psycopg's ClientCursor never prepares, so that
server sets OPTIONS server_side_binding and prepare_threshold 5, psycopg's default, at
which Tranche prepares). Both peers keep their connections (CONN_MAX_AGE None, as
Tranche's pool) and check one with a query before a request's first (CONN_HEALTH_CHECKS,
which a team keeping connections turns on). Tranche pings only a connection in doubt
(engine.store.db: the server ended it, or it rested 30 s), a round trip the peer pays
on every request and Tranche does not: say so when quoting the figures.

Measured. First the edge cases (bench/peer/edge_cases.py) against all three over HTTP:
an answer other than the table's stops the run, printing the differences. SQL statements
per request, counted in process by each framework's hook (SQLAlchemy's
before_cursor_execute, Django's execute_wrapper) over --lifecycles lifecycles: neither
hook sees BEGIN, COMMIT or the ping, one each per request on both sides
(pg_stat_statements would need the server restarted to preload it). Then CLIENTS threads
drive bench/api_load.py's lifecycles (a contract with its milestone, fund, submit,
approve, each with an Idempotency-Key) against one server at a time, ROUNDS rounds each,
the order rotating, so a shared machine's drift touches all alike. Per server:
transitions/s, all requests/s, p50/p99; CPU per request = gunicorn's master and workers
plus every postgres process but other databases' client backends (utime+stime from
/proc over the round; background writers are counted, whoever they wrote for), over all
requests (transitions and creations). Then the ratios, and Tranche's own chain verifier
run over the peer's events, with a check of the peer's ledger.

Fair, or not:
- Same client code, requests and answers (the edge cases hold them to it), gunicorn and
  psycopg versions, workers, database server and connection handling. Each side's
  PostgreSQL work is charged to it, triggers included.
- Tranche does more: an api_feed row per event (a trigger), a cached party balance on
  approve (a statement), and on creation a read of the policy's newest version, which
  the peer does without. The peer's policy is code; it keeps no feed and no party
  balances (hordak sums legs when asked; nothing asks).
- The peer sends a statement per write: the contract's chain head (Tranche's event
  INSERT moves it by trigger), the milestone, the event, the timer, the record, a hordak
  transaction and its legs. Tranche's writes after the locking load all leave in one
  statement (engine.store.batch), the ledger entry's id drawn by that load. Its ledger is
  four shared accounts; the milestone and the provider are named in descriptions, where
  Tranche's postings have columns.
- The peer serves fund, submit, approve and cancel only (its machine has the policy's
  other events, for allowed_events, and answers them 501); it checks bodies by hand,
  cheaper than Tranche's marshmallow schemas; its middleware is Django's Security and
  Common only.
- The clients run on the same 2 cores as both servers and PostgreSQL (and whatever else
  the machine runs), so the servers' throughput is bounded by all of it: transitions/s
  ratios sit closer to 1 than CPU per request ratios. The clients' CPU per request
  (this process) is printed, and is in neither side's figure.
Not a test: the numbers depend on the machine; nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC
from importlib import metadata
from pathlib import Path

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import event, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_load import Server, Tally, drive, report, tranche_step  # noqa: E402
from bench.peer import counting, edge_cases  # noqa: E402
from bench.throwaway import PG_URL, postgres_url  # noqa: E402
from engine.store.db import Database  # noqa: E402
from engine.store.events import walk_chains  # noqa: E402
from web.api.auth import create_key  # noqa: E402

PEER = ROOT / "bench" / "peer"
REQUIREMENTS = [
    "Django>=5.2,<6",
    "django-fsm-2",
    "django-hordak",
    "psycopg[binary]>=3.1",
    "gunicorn",
]
PACKAGES = ["Django", "django-fsm-2", "django-hordak", "psycopg", "gunicorn"]
READY = (
    "import django, django_fsm, hordak, psycopg, gunicorn; "
    "assert (5, 2) <= django.VERSION[:2] < (6, 0)"
)
PREPARE_THRESHOLD = 5
"""psycopg's default, at which Tranche (SQLAlchemy leaves it alone) prepares statements."""
TARGETS = {"transitions": 1.5, "cpu": 0.6}
"""Issue 17: Tranche at least 1.5x the prepared peer's transitions/s, at most 0.6x its CPU."""


def peer_venv(path: Path) -> tuple[Path, str]:
    """The peer's virtualenv, made and installed only if it lacks a package; its python,
    and what it holds."""
    python = path / "bin" / "python"
    made = "reused"
    if not python.exists() or subprocess.run([python, "-c", READY], capture_output=True).returncode:
        print(f"installing the peer's virtualenv in {path} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        quiet = ["--quiet", "--disable-pip-version-check"]
        subprocess.run([python, "-m", "pip", "install", *quiet, *REQUIREMENTS], check=True)
        made = "made"
    listing = "import importlib.metadata as m, json, sys; "
    listing += "print(json.dumps([m.version(p) for p in sys.argv[1:]]))"
    versions = json.loads(
        subprocess.run(
            [python, "-c", listing, *PACKAGES], capture_output=True, text=True, check=True
        ).stdout
    )
    named = ", ".join(f"{p} {v}" for p, v in zip(PACKAGES, versions, strict=True))
    return python, f"{made}: {named}"


def manage(python: Path, env: dict[str, str], *args: str) -> str:
    """Run `manage.py` of the peer; its standard output."""
    done = subprocess.run(
        [str(python), "manage.py", *args],
        cwd=PEER,
        env=os.environ | env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


class PostgresCpu:
    """CPU seconds of the PostgreSQL server's processes (Linux /proc), less the client
    backends of databases other than `databases` (another program's work on the server)."""

    def __init__(self, databases: set[str]) -> None:
        self.databases = databases
        self.admin = psycopg.connect(PG_URL, autocommit=True)
        self.ticks = os.sysconf("SC_CLK_TCK")

    def _pids(self) -> list[int]:
        others = {
            pid
            for pid, database, kind in self.admin.execute(
                "SELECT pid, datname, backend_type FROM pg_stat_activity"
            )
            if kind == "client backend" and database not in self.databases
        }
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) not in others:
                try:
                    if Path(f"/proc/{entry}/comm").read_text().strip() == "postgres":
                        found.append(int(entry))
                except OSError:
                    continue
        return found

    def times(self) -> dict[int, float]:
        seconds = {}
        for pid in self._pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            seconds[pid] = (int(fields[11]) + int(fields[12])) / self.ticks
        return seconds

    @staticmethod
    def used(before: dict[int, float], after: dict[int, float]) -> float:
        """What the processes alive at the end used since `before` (a new one: all of it)."""
        return sum(t - before.get(pid, 0.0) for pid, t in after.items())

    def close(self) -> None:
        self.admin.close()


@dataclass
class Side:
    """One server and what its rounds measured."""

    name: str
    server: Server
    key: str
    tally: Tally = field(default_factory=Tally)
    creations: list[float] = field(default_factory=list)
    postgres: float = 0.0
    clients: float = 0.0
    statements: dict = field(default_factory=dict)

    def requests(self) -> int:
        return len(self.tally.latencies) + len(self.creations)

    def cpu_ms(self) -> tuple[float, float]:
        """gunicorn's and PostgreSQL's CPU milliseconds per request."""
        return self.tally.cpu / self.requests() * 1000, self.postgres / self.requests() * 1000


def process_cpu() -> float:
    """CPU seconds of this process: the client threads (and this runner's own bits)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def count_tranche(url: str, key: str, lifecycles: int) -> dict:
    """Tranche's SQL statements per request of a lifecycle, counted in this process as
    bench/transition_cost.py counts them, and the prepared statements a connection holds."""
    from web.app import create_app

    app = create_app({"DATABASE_URL": url, "AUTO_UPGRADE": False})
    database = app.extensions["tranche"].database
    tally = counting.Tally()

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        tally.count(statement)

    event.listen(database.engine, "before_cursor_execute", count)
    http = app.test_client()
    auth = {"Authorization": f"Bearer {key}"}

    def post(path: str, body: dict, headers: dict[str, str]) -> tuple[int, object]:
        answer = http.post(path, json=body, headers=auth | headers)
        return answer.status_code, answer.json

    result = tally.lifecycles(post, lifecycles)
    with database.engine.connect() as connection:
        prepared = connection.execute(text("SELECT count(*) FROM pg_prepared_statements"))
        result["prepared"] = prepared.scalar_one()
    database.dispose()
    return result


def check_peer_books(url: str) -> str:
    """The peer's hash chains, verified by Tranche's own verifier, and its hordak ledger:
    every transaction balanced, escrow's balance the sum of the milestones' escrow."""
    with psycopg.connect(url, row_factory=namedtuple_row) as connection:
        connection.execute("SET TIME ZONE 'UTC'")
        rows = connection.execute("SELECT * FROM escrow_event ORDER BY contract_id, seq").fetchall()
        events = [row._replace(created_at=row.created_at.astimezone(UTC)) for row in rows]
        breaks = list(walk_chains(events))
        unbalanced, escrow_legs, escrow_rows = connection.execute(
            """SELECT
                 (SELECT count(*) FROM (SELECT transaction_id FROM hordak_leg GROUP BY 1
                   HAVING sum(coalesce(debit, 0) - coalesce(credit, 0)) <> 0) AS u) AS unbalanced,
                 (SELECT coalesce(sum(coalesce(credit, 0) - coalesce(debit, 0)), 0)
                   FROM hordak_leg JOIN hordak_account a ON a.id = account_id
                   WHERE a.code = '2') AS escrow_legs,
                 (SELECT coalesce(sum(escrow), 0) FROM escrow_milestone) AS escrow_rows"""
        ).fetchone()
    contracts = len({e.contract_id for e in events})
    verdict = "ok" if not breaks and not unbalanced and escrow_legs == escrow_rows else "BROKEN"
    return (
        f"peer's books {verdict}: {len(events)} events of {contracts} contracts, "
        f"{len(breaks)} chain breaks (Tranche's verifier); {unbalanced} unbalanced hordak "
        f"transactions; escrow legs {escrow_legs} = milestones' escrow {escrow_rows}"
    )


def statements(counted: dict) -> str:
    transition = sum(counted["transitions"].values())
    creation = sum(counted["creations"].values())
    return f"{transition:.2f} per transition, {creation:.2f} per contract created"


def run(args: argparse.Namespace) -> int:
    python, installed = peer_venv(Path(args.venv))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    ours = ", ".join(f"{p} {metadata.version(p)}" for p in ("gunicorn", "psycopg"))
    print(f"load average {load}; Tranche's {ours}; peer virtualenv {args.venv} {installed}")
    with postgres_url("tranche_peer") as tranche_url, postgres_url("django_peer") as django_url:
        database = Database(tranche_url)
        database.upgrade()
        tranche_keys = {
            "valid": create_key(database, "peer")[1],
            "other": create_key(database, "o")[1],
        }
        database.dispose()
        django_env = {
            "PEER_DATABASE_URL": django_url,
            "DJANGO_SETTINGS_MODULE": "peerproject.settings",
        }
        manage(python, django_env, "migrate", "--verbosity", "0")
        made = json.loads(manage(python, django_env, "peer_setup"))
        django_keys = {"valid": made["key"], "other": made["other"]}
        prepared_env = django_env | {"PEER_PREPARE_THRESHOLD": str(PREPARE_THRESHOLD)}
        peer = {"gunicorn": Path(python).parent / "gunicorn", "options": ("--chdir", str(PEER))}
        tranche_env = {"TRANCHE_DATABASE_URL": tranche_url, "TRANCHE_AUTO_UPGRADE": "false"}
        servers: list[Server] = []
        try:
            servers.append(Server("web.app:create_app()", tranche_env, args.workers))
            servers.append(Server("peerproject.wsgi", django_env, args.workers, **peer))
            servers.append(Server("peerproject.wsgi", prepared_env, args.workers, **peer))
            sides = [
                Side("Tranche", servers[0], tranche_keys["valid"]),
                Side("Django", servers[1], django_keys["valid"]),
                Side("Django+prepared", servers[2], django_keys["valid"]),
            ]
            return measure(args, sides, tranche_keys, django_keys, tranche_url, django_url, python)
        finally:
            for server in servers:
                server.stop()


def measure(
    args: argparse.Namespace,
    sides: list[Side],
    tranche_keys: dict[str, str],
    django_keys: dict[str, str],
    tranche_url: str,
    django_url: str,
    python: Path,
) -> int:
    tranche, plain, prepared = sides
    answers = {
        side.name: edge_cases.run_all(
            edge_cases.http_sender(side.server.port),
            tranche_keys if side is tranche else django_keys,
        )
        for side in sides
    }
    differences = edge_cases.differences(answers)
    calls = sum(len(case.calls) for case in edge_cases.CASES)
    if differences:
        print("edge cases: the servers do not answer as the table says; nothing timed\n")
        print("\n".join(differences))
        return 1
    print(
        f"edge cases: {len(edge_cases.CASES)} cases, {calls} calls, answered alike by all "
        f"three as the table says (status, problem type, distinguishing fields, replays)"
    )
    tranche.statements = count_tranche(tranche_url, tranche_keys["valid"], args.lifecycles)
    django_env = {"PEER_DATABASE_URL": django_url, "DJANGO_SETTINGS_MODULE": "peerproject.settings"}
    counting = (
        "count_statements",
        "--key",
        django_keys["valid"],
        "--lifecycles",
        str(args.lifecycles),
    )
    plain.statements = json.loads(manage(python, django_env, *counting))
    prepared_env = django_env | {"PEER_PREPARE_THRESHOLD": str(PREPARE_THRESHOLD)}
    prepared.statements = json.loads(manage(python, prepared_env, *counting))
    for side in sides:
        print(
            f"{side.name}: SQL statements {statements(side.statements)}; "
            f"{side.statements['prepared']} prepared on its connection after "
            f"{args.lifecycles + 5} lifecycles"
        )
    print(
        f"{args.clients} clients, {args.workers} gunicorn sync workers per server, "
        f"{args.seconds:g} s per server in {args.rounds} round(s), the order rotating; "
        f"{args.warmup:g} s warm-up each; Django: CONN_MAX_AGE None, CONN_HEALTH_CHECKS on; "
        f"prepared: server_side_binding, prepare_threshold {PREPARE_THRESHOLD}"
    )
    for side in sides:  # warm the workers: imports, caches, prepared statements
        drive(args.warmup, (args.clients, tranche_step(side.server.port, side.key, [])))
    postgres = PostgresCpu({tranche_url.rsplit("/", 1)[1], django_url.rsplit("/", 1)[1]})
    seconds = args.seconds / args.rounds
    steps = {side.name: tranche_step(side.server.port, side.key, side.creations) for side in sides}
    try:
        for index in range(args.rounds):
            for side in sides[index % 3 :] + sides[: index % 3]:
                before, clients = postgres.times(), process_cpu()
                side.tally.round(side.server, seconds, (args.clients, steps[side.name]))
                side.clients += process_cpu() - clients
                side.postgres += postgres.used(before, postgres.times())
    finally:
        postgres.close()
    rates = {}
    for side in sides:
        print(side.name)
        rates[side.name] = report("transitions", side.tally.latencies, side.tally.time)
        report("all requests", side.tally.latencies + side.creations, side.tally.time)
        web, database = side.cpu_ms()
        clients = side.clients / side.requests() * 1000
        print(
            f"  CPU per request: gunicorn {web:.2f} ms + PostgreSQL {database:.2f} ms "
            f"= {web + database:.2f} ms (the clients' {clients:.2f} ms not counted)"
        )
    ours = sum(tranche.cpu_ms())
    for other in (plain, prepared):
        rate = rates[tranche.name] / rates[other.name]
        cpu = ours / sum(other.cpu_ms())
        web = tranche.cpu_ms()[0] / other.cpu_ms()[0]
        database = tranche.cpu_ms()[1] / other.cpu_ms()[1]
        verdict = ""
        if other is prepared:
            met = rate >= TARGETS["transitions"], cpu <= TARGETS["cpu"]
            verdict = (
                f"; issue 17's targets >= {TARGETS['transitions']}x "
                f"{'met' if met[0] else 'NOT met'}, <= {TARGETS['cpu']}x "
                f"{'met' if met[1] else 'NOT met'}"
            )
        print(
            f"Tranche / {other.name}: transitions/s {rate:.2f}x, CPU per request {cpu:.2f}x "
            f"(gunicorn {web:.2f}x, PostgreSQL {database:.2f}x){verdict}"
        )
    print(check_peer_books(django_url))
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per server, all rounds")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds per server")
    parser.add_argument("--lifecycles", type=int, default=50, help="for counting statements")
    parser.add_argument("--venv", default="/tmp/tranche-peer-venv")
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
