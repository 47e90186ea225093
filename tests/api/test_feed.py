"""The event feed: the tenant's events in commit order, resumable, no gaps or repeats."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select

from api.helpers import BUYER, PROVIDER, Client, LiveServer
from engine.models import Event
from web.api.models import FeedEntry


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
    tranche = app.extensions["tranche"]
    with tranche.unit_of_work() as uow:
        events = uow.session.scalars(select(Event.id)).all()
        numbered = uow.session.scalars(select(FeedEntry.event_id)).all()
    assert sorted(events) == sorted(numbered)
    assert len(events) == 6
