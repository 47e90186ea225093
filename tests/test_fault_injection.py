"""Killed workers, a killed master and terminated database connections lose nothing acknowledged.

A short round of bench/fault_injection.py on each database: gunicorn on 127.0.0.1,
client threads driving every kind of lifecycle with retries under one Idempotency-Key,
and each kind of fault injected at least once. Then every contract's figures, every
milestone's state, the feed and `tranche audit verify` must match what was acknowledged.
The long run is the same harness from the command line (`--minutes 10`).
"""

from __future__ import annotations

from bench.fault_injection import CONNECTIONS, MASTER, WORKER, report, run


def test_every_acknowledged_answer_survives_the_faults(database):
    tally = run(database.url, seconds=8, clients=4, workers=2, fault_every=0.8, replays=50)
    report(database.engine.dialect.name, tally)
    assert tally.findings == []
    kinds = {WORKER, MASTER} | ({CONNECTIONS} if database.url.startswith("postgres") else set())
    assert set(tally.faults) == kinds
    assert tally.retries > 0
    assert tally.acknowledged > 0
