"""The plan for every statement a real lifecycle sends: none may scan a growing table
whole, whatever the table holds today (PostgreSQL, and SQLite without statistics).

The statements are captured as the app sends them (API commands and reads, the feed,
webhook delivery, both sweeps, the console's queue) and explained with their own
parameters, sequential scans priced out (`enable_seqscan = off`): a Seq Scan that is
still chosen has no index to replace it. A scan of a growing table must also narrow it,
by an index condition, a partial index, or a Limit on an unfiltered walk in index order:
an index walked past the rows a filter drops (the feed's plan once flipped to its primary
key so) grows with the table too. SQLite's plans are read as its EXPLAIN QUERY PLAN
lines (see SQLITE_SCAN).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, text

from api.helpers import BUYER, PROVIDER, Client, number_feed
from arbitration import deadlines
from arbitration.service import Arbitration
from arbitration.views import QueueFilter, case, encode_cursor, queue
from web.api.feed import _NUMBERING, BATCH
from web.api.webhooks import deliver_due

GROWING = {
    "contracts",
    "milestones",
    "disputes",
    "events",
    "ledger_entries",
    "postings",
    "timers",
    "payment_requests",
    "api_idempotency",
    "api_feed",
    "webhook_deliveries",
    "webhook_attempts",
    "rulings",
    "settlement_offers",
    "dispute_statements",
    "dispute_evidence",
    "staff_audit",
    "dispute_search",
}
"""Tables whose rows grow with the milestones (the rest hold policies, keys, staff)."""


@pytest.fixture
def sent(app) -> Iterator[dict[str, Any]]:
    """Every distinct statement the app sends, with the parameters of its first use."""
    seen: dict[str, Any] = {}

    def keep(conn, cursor, statement, parameters, context, executemany) -> None:
        if executemany:
            parameters = parameters[0]
        seen.setdefault(statement, parameters)

    engine = app.extensions["tranche"].database.engine
    event.listen(engine, "before_cursor_execute", keep)
    yield seen
    event.remove(engine, "before_cursor_execute", keep)


def lifecycle(client: Client, app, clock) -> None:
    """Contracts, milestones and their transitions, a dispute its respondent lets lapse,
    reads, the feed, webhook deliveries, both sweeps, the console's queue pages and a
    case's page. (Not the console's search: its prefix LIKEs over five columns walk every
    dispute on PostgreSQL, unless the database's collation is C; still to be indexed.)"""
    tranche = app.extensions["tranche"]
    client.post("/v1/webhooks", {"url": "https://hooks.example.com/tranche"})
    contract = client.contract()
    paid, lapsed, refunded = (client.milestone(contract["id"])["id"] for _ in range(3))
    for milestone, steps in (
        (paid, [("fund", BUYER), ("submit", PROVIDER), ("approve", BUYER)]),
        (lapsed, [("fund", BUYER), ("submit", PROVIDER), ("dispute", BUYER)]),
        (refunded, [("fund", BUYER), ("request_refund", BUYER)]),
    ):
        for name, actor in steps:
            key = {"Idempotency-Key": f"{milestone}-{name}"}
            assert client.fire(milestone, name, actor, headers=key).status_code == 200
    replay = client.fire(paid, "approve", BUYER, headers={"Idempotency-Key": f"{paid}-approve"})
    assert replay.headers["Idempotent-Replayed"] == "true"
    for path in (f"/v1/milestones/{paid}", f"/v1/contracts/{contract['id']}", "/v1/contracts"):
        assert client.get(path, actor=BUYER).status_code == 200
    assert client.get("/v1/events?after=0&limit=5").status_code == 200
    deliver_due(tranche, app.extensions["tranche_webhooks"], send=lambda *_: 204)
    clock.advance(timedelta(days=30))
    tranche.sweep()
    Arbitration(tranche.database, clock).sweep()
    with tranche.reading() as uow:
        queue(uow, QueueFilter(), limit=1)
        (lapsed_case,) = queue(uow, QueueFilter(status="all"), limit=1).rows
        queue(uow, QueueFilter(status="all"), after=encode_cursor(lapsed_case), limit=1)
        queue(uow, QueueFilter(status="under_review"), limit=1)
        case(uow, lapsed_case.id)
    number_feed(tranche.database)


def scans(plan: dict[str, Any], limited: bool = False) -> Iterator[tuple[dict[str, Any], bool]]:
    """Each node of a plan, and whether a Limit above it stops it early."""
    limited = limited or plan["Node Type"] == "Limit"
    yield plan, limited
    for child in plan.get("Plans", []):
        yield from scans(child, limited)


SQLITE_STEP = re.compile(r"(SCAN|SEARCH) (\w+)(?: USING .*?INDEX \w+)?(?: \((.*)\))?$")


def sqlite_unbounded(connection: Any, statement: str, parameters: Any) -> list[str]:
    """SQLite's plan steps that read a growing table whole, or search it by its status
    alone though the statement names a row's id (every pending timer, not this
    milestone's)."""
    plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
    found = []
    for *_, detail in plan:
        step = SQLITE_STEP.match(detail)
        if step is None or step.group(2) not in GROWING:
            continue
        kind, table, searched = step.groups()
        named = set(re.findall(rf"\b{table}\.(\w*id) = \?", statement))
        used = set(re.findall(r"(\w+)[=<>]", searched or ""))
        if (kind == "SCAN" and "INDEX" not in detail) or (named and used <= {"status"}):
            found.append(detail)
    return found


def unbounded(connection: Any, statement: str, parameters: Any) -> list[str]:
    """The scans of growing tables in the statement's plan that read the whole table."""
    if connection.dialect.name == "sqlite":
        return sqlite_unbounded(connection, statement, parameters)
    plan = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
    partial = {
        name
        for (name,) in connection.execute(
            text("SELECT indexname FROM pg_indexes WHERE indexdef LIKE '% WHERE %'")
        )
    }
    found = []
    for node, limited in scans(plan.scalar_one()[0]["Plan"]):
        if node.get("Relation Name") not in GROWING:
            continue
        kind = node["Node Type"]
        if kind == "Seq Scan":
            found.append(f"Seq Scan on {node['Relation Name']}")
        elif kind in ("Index Scan", "Index Only Scan") and "Index Cond" not in node:
            walks = "Filter" in node or not limited  # past rows it drops, or to the end
            if walks and node["Index Name"] not in partial:
                found.append(f"{kind} of all of {node['Index Name']}")
    return found


def test_no_hot_statement_reads_a_growing_table_whole(client, app, clock, sent) -> None:
    lifecycle(client, app, clock)
    # WITH: on PostgreSQL a command's writes leave in one statement of data-modifying CTEs
    # (engine.store.batch), its UPDATEs (the milestone's, its timers') among them.
    reads = ("SELECT", "UPDATE", "DELETE", "WITH")
    explained = [s for s in sent if s.split(None, 1)[0] in reads]
    carried = any(s.startswith("WITH b0") and "UPDATE milestones" in s for s in explained)
    assert carried == app.extensions["tranche"].database.is_postgres
    assert len(explained) > 30  # the lifecycle really ran: commands, reads, sweeps, queue
    faults = {}
    with app.extensions["tranche"].database.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET enable_seqscan = off"))
        for statement in explained:
            if found := unbounded(connection, statement, sent[statement]):
                faults[" ".join(statement.split())] = found
    assert faults == {}, "\n".join(f"{found} in: {sql}" for sql, found in faults.items())


@pytest.mark.postgres
def test_numbering_keeps_its_index_when_statistics_saw_a_backlog(postgres_database) -> None:
    """Analyzed while thousands of rows waited, the feed still numbers through the index of
    pending rows once they are gone (not the primary key, filtering every numbered row)."""
    database = postgres_database
    rows = ", ".join(f"({n}, NULL, 't')" for n in range(1, 5001))
    with database.engine.begin() as connection:
        connection.execute(text(f"INSERT INTO api_feed (event_id, position, tenant) VALUES {rows}"))
        connection.execute(text("ANALYZE api_feed"))
    number_feed(database)
    with database.engine.connect() as connection:
        compiled = _NUMBERING.compile(connection)
        plan = connection.exec_driver_sql(
            f"EXPLAIN (FORMAT JSON) {compiled}", {**compiled.params, "batch": BATCH}
        )
        used = {node.get("Index Name") for node, _ in scans(plan.scalar_one()[0]["Plan"])}
    assert "ix_api_feed_pending" in used
    assert "api_feed_pkey" not in used


CLOSED_CASES = (
    "INSERT INTO disputes SELECT 'dp_closed_' || n, milestone_id, contract_id, tenant, buyer_id,"
    " provider_id, opened_by, opener_role, reason, claim_to_provider, claim_to_buyer, amount,"
    " currency, 'ruled', respond_by - interval '1 year', responded_at,"
    " due_at - interval '1 year', assignee_id, created_at, updated_at, closed_at, version"
    " FROM (SELECT * FROM disputes LIMIT 1) AS d, generate_series(1, 20000) AS n"
)
"""Closed cases due before the open one, as in a year of production (foreign keys and the
search trigger off while they are copied, as `session_replication_role = replica` does)."""


def copy_around_a_dispute(client: Client, database: Any, *copies: str) -> None:
    """A milestone disputed through the API, then rows copied from it by `copies` (SQL
    given :milestone, foreign keys and the search trigger off, as `session_replication_role
    = replica` does), and the statistics taken and committed (an ANALYZE rolled back with
    its transaction takes its statistics with it)."""
    milestone = client.milestone(client.contract()["id"])["id"]
    for name, actor in (("fund", BUYER), ("submit", PROVIDER), ("dispute", PROVIDER)):
        assert client.fire(milestone, name, actor).status_code == 200
    with database.engine.begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        for statement in copies:
            connection.execute(text(statement), {"milestone": milestone})
    with database.engine.begin() as connection:
        connection.execute(text("ANALYZE milestones, disputes"))


def test_the_queue_and_the_sweep_read_only_open_cases_among_many_closed(
    client, app, clock, sent, database
) -> None:
    if not database.is_postgres:
        pytest.skip("PostgreSQL's planner and statistics (SQLite's plans: the test above)")
    lifecycle(client, app, clock)
    database = app.extensions["tranche"].database
    copy_around_a_dispute(client, database, CLOSED_CASES)
    sent.clear()
    Arbitration(database, clock).sweep()
    with app.extensions["tranche"].reading() as uow:
        assert queue(uow, QueueFilter(), limit=5).rows  # the open case, first
    used = set()
    with database.engine.connect() as connection:
        for statement, parameters in list(sent.items()):
            if "FROM disputes" in statement and "ORDER BY" in statement:
                plan = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
                used |= {node.get("Index Name") for node, _ in scans(plan.scalar_one()[0]["Plan"])}
    assert {"ix_disputes_open_due", "ix_disputes_awaiting_respond_by"} <= used


MILESTONE_COLUMNS = (
    "contract_id, position, title, amount, state, policy_name, policy_version, version,"
    " revisions, escrow, funded, released, refunded, fees, pending_funding, charged_back,"
    " previous_state, entered_by, created_at, updated_at"
)
CASE_COLUMNS = (
    "contract_id, tenant, buyer_id, provider_id, opened_by, opener_role, reason,"
    " claim_to_provider, claim_to_buyer, amount, currency, status, responded_at, assignee_id,"
    " created_at, updated_at, closed_at, version"
)
DUE_CASES = (
    # Copies of the disputed milestone, each with its own case awaiting an answer, overdue.
    f"INSERT INTO milestones (id, dispute_id, {MILESTONE_COLUMNS})"
    f" SELECT id || '_' || n, 'dp_due_' || n, {MILESTONE_COLUMNS}"
    " FROM milestones, generate_series(1, 5000) AS n WHERE id = :milestone;"
    f"INSERT INTO disputes (id, milestone_id, respond_by, due_at, {CASE_COLUMNS})"
    " SELECT 'dp_due_' || n, milestone_id || '_' || n, respond_by - interval '30 days',"
    f" due_at - interval '30 days', {CASE_COLUMNS}"
    " FROM disputes, generate_series(1, 5000) AS n WHERE milestone_id = :milestone"
)


def test_the_deadline_sweep_joins_no_milestone_it_does_not_decide(
    client, app, clock, sent, database
) -> None:
    """With thousands of cases overdue at once (a sweep after downtime), PostgreSQL, taking
    the case-to-milestone join's two conditions for independent, expected one row and
    hashed every milestone to find the first case: 0.4 s a case at 10^6 milestones. The
    sweep reads its candidates from the cases alone, then each one's milestone by its key."""
    if not database.is_postgres:
        pytest.skip("PostgreSQL's planner and statistics")
    database = app.extensions["tranche"].database
    copy_around_a_dispute(client, database, *DUE_CASES.split(";"))
    sent.clear()
    lapsed = deadlines.sweep(database, Arbitration(database, clock).settings, clock.now(), 1)
    assert len(lapsed) == 1
    with database.engine.connect() as connection:
        whole = [
            found
            for statement, parameters in list(sent.items())
            if statement.startswith("SELECT")
            for found in unbounded(connection, statement, parameters)
        ]
    assert whole == []
