"""Advances of one sandbox's clock sent at once by real clients (at once on PostgreSQL): each
moves the clock from where the one before left it, and what fell due fires once."""

from __future__ import annotations

from datetime import datetime, timedelta

from racing import race

from api.helpers import BUYER, PROVIDER, LiveServer
from web.api.auth import create_key

CLIENTS = 6


def test_advances_at_once_add_up_and_fire_each_timer_once(app, live):
    sandbox = LiveServer(
        live.base, create_key(app.extensions["tranche"].database, "t", test=True)[1]
    )
    _, contract, _ = sandbox.call(
        "POST",
        "/v1/contracts",
        {
            "buyer_id": BUYER,
            "provider_id": PROVIDER,
            "currency": "EUR",
            "agreed_amount": 900,
            "title": "Race",
            "milestones": [{"title": "m", "amount": 900}],
        },
    )
    milestone = contract["milestones"][0]["id"]
    for actor, event in ((BUYER, "fund"), (PROVIDER, "submit")):
        status, body, _ = sandbox.call(
            "POST", f"/v1/milestones/{milestone}/events/{event}", actor=actor
        )
        assert status == 200, body
    started = datetime.fromisoformat(sandbox.call("GET", "/v1/test-clock")[1]["now"])
    answers: list[dict] = []

    def advance() -> None:
        status, body, _ = sandbox.call("POST", "/v1/test-clock/advance", {"by": "3d"})
        assert status == 200, body
        answers.append(body)

    assert race([advance] * CLIENTS) == ["won"] * CLIENTS
    now = datetime.fromisoformat(sandbox.call("GET", "/v1/test-clock")[1]["now"])
    assert now == started + timedelta(days=3 * CLIENTS)
    previous = sorted(datetime.fromisoformat(a["previous"]) for a in answers)
    assert previous == [started + timedelta(days=3 * i) for i in range(CLIENTS)]
    fired = [t for a in answers for t in a["timers"]]
    assert fired == [
        {"milestone_id": milestone, "event": "review_period_elapsed", "outcome": "approved"}
    ]
    history = sandbox.call("GET", f"/v1/milestones/{milestone}/history")[1]["data"]
    assert [e["type"] for e in history].count("review_period_elapsed") == 1
