"""How fast is the console's dispute queue with 100,000 disputes?

Seeds N disputes (bulk inserts of contracts, disputed milestones and disputes;
the rows the queue reads), signs a staff member in, and times the first queue
page (and a few filtered and deep pages) through the Flask app, HTML included.

    .venv/bin/python bench/console_queue.py                      # SQLite, temp file
    .venv/bin/python bench/console_queue.py --database-url postgresql://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

from arbitration.models import STATUSES
from engine.domain.decision import AWAITING_RESPONSE, OPEN_STATUSES
from engine.store.db import Database
from engine.store.models import Contract, Dispute, Milestone
from web.app import create_app

PASSWORD = "benchmark password 1"
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def seed(database: Database, count: int, staff_ids: list[str]) -> None:
    per_contract = 100
    with database.engine.begin() as connection:
        for start in range(0, count, 10_000):
            batch = range(start, min(count, start + 10_000))
            contracts, milestones, disputes = [], [], []
            for i in batch:
                cid, mid = f"ct_bench{i // per_contract:08d}", f"ms_bench{i:08d}"
                if i % per_contract == 0:
                    contracts.append(
                        dict(
                            id=cid,
                            tenant="bench",
                            buyer_id=f"buyer-{i // per_contract}",
                            provider_id=f"provider-{i // per_contract}",
                            currency="USD",
                            agreed_amount=10**9,
                            title="Bench contract",
                            policy_name="fixed-price",
                            policy_version=1,
                            created_at=NOW,
                            event_seq=0,
                            last_event_hash="0" * 64,
                        )
                    )
                amount = 1_000 + (i * 7919) % 500_000
                created = NOW - timedelta(minutes=(i * 37) % (60 * 24 * 60))
                milestones.append(
                    dict(
                        id=mid,
                        contract_id=cid,
                        position=i % per_contract,
                        title="Bench milestone",
                        amount=amount,
                        state="disputed",
                        policy_name="fixed-price",
                        policy_version=1,
                        version=1,
                        revisions=0,
                        previous_state="submitted",
                        entered_by="buyer",
                        created_at=created,
                        updated_at=created,
                    )
                )
                status = STATUSES[i % len(STATUSES)] if i % 3 else AWAITING_RESPONSE
                disputes.append(
                    dict(
                        id=f"dp_bench{i:08d}",
                        tenant="bench",
                        milestone_id=mid,
                        contract_id=cid,
                        buyer_id=f"buyer-{i // per_contract}",
                        provider_id=f"provider-{i // per_contract}",
                        opened_by="buyer",
                        opener_role="buyer",
                        reason=f"Bench dispute {i}: work not as agreed.",
                        claim_to_provider=0,
                        claim_to_buyer=amount,
                        amount=amount,
                        currency="USD",
                        status=status,
                        respond_by=created + timedelta(days=7),
                        due_at=created + timedelta(days=7),
                        assignee_id=staff_ids[i % len(staff_ids)] if i % 4 == 0 else None,
                        created_at=created,
                        updated_at=created,
                        closed_at=None if status in OPEN_STATUSES else created,
                        version=1,
                    )
                )
            if contracts:
                connection.execute(insert(Contract), contracts)
            connection.execute(insert(Milestone), milestones)
            connection.execute(insert(Dispute), disputes)
    if database.is_postgres:
        with database.engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()
    else:
        with database.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")


def timed(client, path: str, runs: int) -> tuple[float, float, int]:
    samples = []
    rows = 0
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
        rows = response.get_data(as_text=True).count('class="case-link"')
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1], rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--disputes", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    options = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="tranche-bench-"))
    url = options.database_url or f"sqlite:///{workdir / 'bench.db'}"
    database = Database(url)
    database.upgrade()
    app = create_app(
        {
            "DATABASE_URL": url,
            "AUTO_UPGRADE": False,
            "SECRET_KEY": "bench",
            "SESSION_COOKIE_SECURE": False,
            "EVIDENCE_DIR": str(workdir),
        }
    )
    arb = app.extensions["arbitration"]
    staff = [arb.create_staff(f"bench{i}@example.com", "reviewer", PASSWORD) for i in range(5)]
    started = time.perf_counter()
    seed(database, options.disputes, [s.id for s in staff])
    print(
        f"seeded {options.disputes:,} disputes on {database.engine.dialect.name} "
        f"in {time.perf_counter() - started:.1f} s"
    )

    client = app.test_client()
    page = client.get("/console/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post(
        "/console/login",
        data={"email": "bench0@example.com", "password": PASSWORD, "csrf_token": csrf},
    )
    first = client.get("/console/").get_data(as_text=True)
    cursor = re.search(r'after=([^"&]+)', first)
    deep = f"/console/?after={cursor.group(1)}" if cursor else "/console/"
    cases = {
        "first page (all open, nearest deadline first)": "/console/",
        "second page (keyset cursor)": deep,
        "assigned to me": "/console/?assignee=me",
        "unassigned, at stake from 2,000.00": "/console/?assignee=unassigned&currency=USD&min=2000",
        "opened over 30 days ago": "/console/?age=30",
        "status pending approval": "/console/?status=pending_approval",
    }
    print(f"{'queue page':<48} {'median ms':>10} {'p95 ms':>8} {'rows':>5}")
    for label, path in cases.items():
        median, p95, rows = timed(client, path, options.runs)
        print(f"{label:<48} {median:>10.1f} {p95:>8.1f} {rows:>5}")
    database.dispose()


if __name__ == "__main__":
    main()
