"""The event feed: the tenant's events in commit order, resumable, no gaps or repeats."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import func, select

from api.helpers import BUYER, PROVIDER, Client, LiveServer, number_feed, tenant_contract
from conftest import START
from engine.service.contracts import add_milestone
from engine.service.tranche import Tranche
from engine.store.db import Database
from engine.store.models import Event
from web.api.feed import catch_up, number_pending
from web.api.models import FeedEntry, WebhookDelivery, WebhookSubscription


def _drain(call, after: str = "0", limit: int = 3) -> tuple[list[dict], str]:
    seen: list[dict] = []
    while True:
        page = call(f"/v1/events?after={after}&limit={limit}")
        seen += page["data"]
        if not page["data"]:
            return seen, after
        after = page["next_cursor"]


def test_feed_pages_through_a_lifecycle(client: Client, other: Client) -> None:
    milestone = client.milestone(client.contract()["id"])
    for event, actor in (("fund", BUYER), ("submit", PROVIDER), ("approve", BUYER)):
        client.fire(milestone["id"], event, actor)
    items, cursor = _drain(lambda path: client.get(path).json)
    types = [item["event"]["type"] for item in items]
    assert types == ["contract_created", "milestone_added", "fund", "submit", "approve"]
    cursors = [int(item["cursor"]) for item in items]
    assert cursors == sorted(set(cursors))
    assert client.get(f"/v1/events?after={cursor}").json == {"data": [], "next_cursor": cursor}
    assert other.get("/v1/events").json["data"] == []
    assert client.get("/v1/events?after=abc").status_code == 422
    assert client.get("/v1/events?limit=0").status_code == 422


def test_concurrent_writers_never_make_a_reader_skip(live: LiveServer) -> None:
    """Readers poll while 4 writers drive lifecycles; what they collect equals the final feed."""

    def get(path: str) -> dict:
        status, body, _ = live.call("GET", path)
        assert status == 200
        return body

    def lifecycle(_: int) -> None:
        status, contract, _ = live.call(
            "POST",
            "/v1/contracts",
            {
                "buyer_id": BUYER,
                "provider_id": PROVIDER,
                "currency": "USD",
                "agreed_amount": 9_000,
                "title": "t",
            },
        )
        assert status == 201
        for _ in range(3):
            status, ms, _ = live.call(
                "POST",
                f"/v1/contracts/{contract['id']}/milestones",
                {"title": "m", "amount": 3_000},
            )
            assert status == 201
            for event, actor in (("fund", BUYER), ("submit", PROVIDER), ("approve", BUYER)):
                assert (
                    live.call("POST", f"/v1/milestones/{ms['id']}/events/{event}", {}, actor)[0]
                    == 200
                )

    collected: list[dict] = []
    done = threading.Event()

    def reader() -> None:
        cursor = "0"
        while True:
            finished = done.is_set()
            page = get(f"/v1/events?after={cursor}&limit=7")
            collected.extend(page["data"])
            cursor = page["next_cursor"]
            if finished and not page["data"]:
                return

    poller = threading.Thread(target=reader)
    poller.start()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lifecycle, range(8)))
    done.set()
    poller.join(timeout=60)
    final, _ = _drain(get, limit=100)
    assert len(final) == 8 * (1 + 3 * 4)
    assert [i["cursor"] for i in collected] == [i["cursor"] for i in final]
    assert len({i["event"]["id"] for i in collected}) == len(collected)


def test_timer_sweeps_reach_the_feed(client: Client, app, clock) -> None:
    """Events written outside the API (here the timer sweep, in a savepoint) are numbered too."""
    milestone = client.milestone(client.contract()["id"])
    client.fire(milestone["id"], "fund", BUYER)
    client.fire(milestone["id"], "submit", PROVIDER)
    clock.advance(timedelta(days=15))
    fired = app.extensions["tranche"].sweep()
    assert [f.event for f in fired] == ["review_period_elapsed"]
    items, _ = _drain(lambda path: client.get(path).json, limit=100)
    assert items[-1]["event"]["type"] == "review_period_elapsed"
    assert items[-1]["event"]["to_state"] == "approved"


def test_every_event_is_in_the_feed_once(client: Client, app) -> None:
    contract = client.contract()
    milestone = client.milestone(contract["id"])
    client.fire(milestone["id"], "fund", BUYER)
    client.post(f"/v1/contracts/{contract['id']}/payments", {"amount": 10}, actor=BUYER)
    asked = client.post(
        f"/v1/contracts/{contract['id']}/payment-requests", {"amount": 5}, actor=PROVIDER
    )
    client.post(f"/v1/payment-requests/{asked.json['id']}/decline", actor=BUYER)
    database = app.extensions["tranche"].database
    assert number_feed(database) == 6
    with database.session() as session:
        events = session.scalars(select(Event.id).order_by(Event.id)).all()
        numbered = session.execute(select(FeedEntry.event_id, FeedEntry.position)).all()
    assert sorted(numbered) == list(zip(events, range(1, 7), strict=True))


def test_a_committed_event_is_numbered_by_the_next_read(client: Client, app) -> None:
    """Commands leave their feed rows unnumbered; GET /v1/events numbers them, then reads."""
    contract = client.contract()
    database = app.extensions["tranche"].database
    with database.session() as session:
        assert session.scalars(select(FeedEntry.position)).all() == [None]
    (item,) = client.get("/v1/events").json["data"]
    assert (item["cursor"], item["event"]["type"]) == ("1", "contract_created")
    client.milestone(contract["id"])
    page = client.get("/v1/events?after=1").json
    assert [(i["cursor"], i["event"]["type"]) for i in page["data"]] == [("2", "milestone_added")]
    with database.session() as session:
        assert session.scalars(select(FeedEntry.position).order_by(FeedEntry.position)).all() == [
            1,
            2,
        ]
    assert number_feed(database) == 0


def test_rolled_back_events_leave_no_feed_row(tranche: Tranche, database: Database) -> None:
    """A command that does not commit, or a savepoint rolled back, leaves nothing to number."""
    contract = tenant_contract(tranche)
    with tranche.unit_of_work() as uow:  # never committed
        add_milestone(uow, contract.id, title="abandoned", amount=10)
        uow.session.flush()
    with tranche.unit_of_work() as uow:
        savepoint = uow.session.begin_nested()
        add_milestone(uow, contract.id, title="undone", amount=10)
        uow.session.flush()
        savepoint.rollback()
        add_milestone(uow, contract.id, title="kept", amount=10)
        uow.commit()
    assert number_feed(database) == 2
    with database.session() as session:
        feed = session.scalars(select(Event.data).join(FeedEntry, FeedEntry.event_id == Event.id))
        assert ["kept" in data for data in feed] == [False, True]
        assert session.scalar(select(func.count()).select_from(Event)) == 2


def test_an_event_written_by_any_program_reaches_the_feed(
    tranche: Tranche, database: Database
) -> None:
    """The feed row comes from a trigger on `events`, not from Tranche's Python code: an
    event inserted by plain SQL (another program, a repair script) gets one too."""
    contract = tenant_contract(tranche)
    columns = [c.name for c in Event.__table__.columns if c.name != "id"]
    copied = ", ".join("seq + 100" if c == "seq" else c for c in columns)
    with database.engine.begin() as connection:
        connection.exec_driver_sql(
            f"INSERT INTO events ({', '.join(columns)}) SELECT {copied} FROM events"
        )
    with database.session() as session:
        feed = session.execute(
            select(FeedEntry.tenant, Event.contract_id).join(Event, Event.id == FeedEntry.event_id)
        ).all()
    assert feed == [(contract.tenant, contract.id)] * 2
    assert number_feed(database) == 2


def test_catching_up_numbers_in_batches(tranche: Tranche, database: Database) -> None:
    """A backlog is numbered a batch per transaction, oldest events first, to the end."""
    for _ in range(5):
        tenant_contract(tranche)
    with tranche.unit_of_work() as uow:
        assert number_pending(uow.session, batch=2) == 2  # one batch, never committed
    with tranche.unit_of_work() as uow:
        assert catch_up(uow, batch=2) == 5
    with database.session() as session:
        rows = session.execute(select(FeedEntry.event_id, FeedEntry.position)).all()
    assert sorted(rows) == [(event, event) for event in range(1, 6)]


def test_concurrent_numbering_never_repeats_a_position(
    tranche: Tranche, database: Database
) -> None:
    """Numberers race each other and the writers: every event gets one position, 1..N
    with no gap, and one delivery per subscription carrying that position."""
    with database.session() as session, session.begin():
        for hook in ("wh_one", "wh_two"):
            session.add(
                WebhookSubscription(
                    id=hook,
                    tenant="t1",
                    url="https://hooks.example.com/",
                    secret_token="never read here",
                    created_at=START,
                )
            )
    writers, numberers, contracts = 2, 4, 8
    start, written = threading.Barrier(writers + numberers), threading.Event()

    def write() -> None:
        start.wait()
        for _ in range(contracts):
            tenant_contract(tranche)

    def number() -> int:
        start.wait()
        counted = 0
        while not written.is_set():
            counted += number_feed(database)
        return counted

    with ThreadPoolExecutor(max_workers=writers + numberers) as pool:
        numbering = [pool.submit(number) for _ in range(numberers)]
        for job in [pool.submit(write) for _ in range(writers)]:
            job.result()
        written.set()
        counted = sum(job.result() for job in numbering)
    counted += number_feed(database)
    total = writers * contracts
    assert counted == total
    with database.session() as session:
        feed = session.execute(
            select(FeedEntry.event_id, FeedEntry.position).order_by(FeedEntry.position)
        ).all()
        deliveries = session.execute(
            select(
                WebhookDelivery.event_id, WebhookDelivery.position, WebhookDelivery.subscription_id
            )
        ).all()
    assert [position for _, position in feed] == list(range(1, total + 1))
    expected = sorted((e, p, hook) for e, p in feed for hook in ("wh_one", "wh_two"))
    assert sorted(deliveries) == expected
