"""Races: conflicting commands on one milestone at the same instant; exactly one wins.

Threads, and separate processes with their own connections (on SQLite they queue on
engine/sqlite_queue.py's lock file), are released together by a barrier and send
commands that exclude one another: once any of them has applied, the policy refuses
all the others. Whatever the timing, exactly one wins; every loser gets a clear
TrancheError (ConflictError or ForbiddenEventError) and writes nothing; the ledger
balances; a milestone that ended holds no escrow; the event chain verifies. Each race
is repeated so an unlucky interleaving has a chance to show up.

Timer and dispute-deadline sweeps race too: several sweepers over many due timers or
overdue cases act on each exactly once (PostgreSQL claims with FOR UPDATE SKIP LOCKED;
SQLite serialises writers), and a late answer racing the sweep either wins or is refused.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest
from arb_helpers import arbitration_for, funded

from arbitration.errors import DisputeClosedError
from arbitration.service import Arbitration
from conftest import BUYER, PROVIDER, START
from engine.domain.actors import Actor
from engine.domain.clock import FixedClock
from engine.domain.decision import DEFAULTED, UNDER_REVIEW, EventArgs
from engine.domain.errors import ConflictError, ForbiddenEventError, TrancheError
from engine.service.tranche import Tranche
from engine.store.db import Database

ROUNDS = 4
LATER = START + timedelta(days=8)  # past the 7-day refund deadline, inside the review period
LOSING_CODES = {ConflictError.code, ForbiddenEventError.code, "precondition_failed", "no_timer"}
WON = "won"


def _sweep(tranche: Tranche, milestone_id: str) -> None:
    fired = [f for f in tranche.sweep() if f.milestone_id == milestone_id]
    if not fired or fired[0].outcome.startswith("void"):
        raise _NoTimer
    assert len(fired) == 1, fired


class _NoTimer(Exception):
    """The sweep found nothing of this milestone's to fire: it lost the race."""


def _fire(event: str, actor: Actor, **args: object) -> Callable[[Tranche, str], object]:
    return lambda tranche, ms: tranche.fire(ms, event, actor, EventArgs(**args))


STAFF = Actor.staff("staff-1")
COMMANDS: dict[str, Callable[[Tranche, str], object]] = {
    "approve": _fire("approve", BUYER),
    "refund": _fire("refund", PROVIDER),
    "buyer_disputes": _fire("dispute", BUYER),
    "provider_disputes": _fire("dispute", PROVIDER),
    "request_refund": _fire("request_refund", BUYER),
    "accept_refund": _fire("accept_refund", PROVIDER),
    "refund_timer": _sweep,
    "staff_rules_half": lambda t, ms: t.fire(
        ms, "rule", STAFF, EventArgs(to_provider=500, to_buyer=500)
    ),
    "buyer_accepts_offer": _fire(
        "accept_offer", BUYER, to_provider=1_000, to_buyer=0, offer_by="provider"
    ),
    "opener_withdraws": _fire("withdraw", BUYER),
}
WHERE_IT_LEADS = {
    "approve": "approved",
    "refund": "refunded",
    "buyer_disputes": "disputed",
    "provider_disputes": "disputed",
    "request_refund": "refund_requested",
    "accept_refund": "refunded",
    "refund_timer": "refunded",
    "staff_rules_half": "settled",
    "buyer_accepts_offer": "approved",
    "opener_withdraws": "funded",
}
# Each race: the state the milestone is brought to, and commands that exclude one another.
RACES = {
    "funded": ["approve", "approve", "refund", "buyer_disputes", "provider_disputes"],
    "funded, refund asked": ["approve", "refund", "request_refund", "approve"],
    "refund_requested": ["accept_refund", "provider_disputes", "refund_timer", "refund_timer"],
    "disputed": ["staff_rules_half", "buyer_accepts_offer", "opener_withdraws", "staff_rules_half"],
}
SETUP = {
    "funded": [],
    "funded, refund asked": [],
    "refund_requested": [("request_refund", BUYER)],
    "disputed": [("dispute", BUYER)],
}


def outcome(tranche: Tranche, name: str, milestone_id: str) -> str:
    """WON, or the code of the refusal; anything else is reported as unexpected."""
    try:
        COMMANDS[name](tranche, milestone_id)
    except TrancheError as exc:
        return exc.code
    except _NoTimer:
        return "no_timer"
    except Exception as exc:  # noqa: BLE001 - reported, and fails the test below
        return f"unexpected {exc!r}"
    return WON


def prepare(tranche: Tranche, race: str) -> str:
    """A fresh contract with one milestone of 10.00 brought to the race's starting state."""
    contract = tranche.create_contract(
        buyer_id=BUYER.id,
        provider_id=PROVIDER.id,
        currency="USD",
        agreed_amount=1_000,
        title="Race",
    )
    milestone = tranche.add_milestone(contract.id, title="Contested", amount=1_000)
    tranche.fire(milestone.id, "fund", BUYER)
    for event, actor in SETUP[race]:
        tranche.fire(milestone.id, event, actor)
    return milestone.id


def check_one_winner(tranche: Tranche, race: str, milestone_id: str, results: list[str]) -> None:
    names = RACES[race]
    assert results.count(WON) == 1, dict(zip(names, results, strict=True))
    assert set(results) - {WON} <= LOSING_CODES, results
    winner = names[results.index(WON)]
    view = tranche.milestone(milestone_id)
    assert view.state == WHERE_IT_LEADS[winner]
    events = tranche.history(milestone_id)
    assert len(events) == 2 + len(SETUP[race]) + 1, "added, funded, set up, and ONE winner"
    s = view.summary
    assert s.funded == s.released + s.refunded + s.in_escrow == 1_000
    if view.final:
        assert s.in_escrow == 0
    assert tranche.unbalanced_entries() == []
    assert tranche.verify() == []


def _race(*steps: Callable[[], Any]) -> tuple[list[Any], list[BaseException]]:
    """Run `steps` at once on their own threads (and connections); what each returned, and
    every error raised."""
    barrier = threading.Barrier(len(steps))
    results: list[Any] = [None] * len(steps)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait(timeout=30)
        try:
            results[i] = steps[i]()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(steps))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


def race_threads(database: Database, clock: FixedClock, names: list[str], ms: str) -> list[str]:
    """Run the commands at once, one thread each; return their outcomes in order."""
    racers = [partial(outcome, Tranche(database, clock), name, ms) for name in names]
    results, errors = _race(*racers)
    assert errors == []
    return [str(result) for result in results]


@pytest.mark.parametrize("race", sorted(RACES))
def test_threads_racing_on_one_milestone_one_wins(database, race):
    clock = FixedClock(START)
    tranche = Tranche(database, clock)
    for _ in range(ROUNDS):
        clock.set(START)
        milestone_id = prepare(tranche, race)
        clock.set(LATER)
        results = race_threads(database, clock, RACES[race], milestone_id)
        check_one_winner(tranche, race, milestone_id, results)


def process_racer(
    url: str, index: int, name: str, rounds: list[tuple[str, datetime]], barrier, queue
):
    """One competitor in its own process and connection pool, for every round."""
    database = Database(url)
    clock = FixedClock(START)
    tranche = Tranche(database, clock)
    try:
        for milestone_id, now in rounds:
            clock.set(now)
            barrier.wait(timeout=60)
            queue.put((milestone_id, index, outcome(tranche, name, milestone_id)))
    finally:
        database.dispose()


@pytest.mark.parametrize("race", ["funded", "refund_requested"])
def test_processes_racing_on_one_milestone_one_wins(database, race):
    clock = FixedClock(START)
    tranche = Tranche(database, clock)
    rounds = []
    for r in range(ROUNDS):  # round r's timers fall due only after round r-1 raced
        clock.set(START + r * timedelta(days=10))
        rounds.append((prepare(tranche, race), clock.now() + (LATER - START)))
    milestone_ids = [milestone_id for milestone_id, _ in rounds]
    names = RACES[race]
    spawn = multiprocessing.get_context("spawn")
    barrier, queue = spawn.Barrier(len(names)), spawn.Queue()
    url = database.url
    racers = [
        spawn.Process(target=process_racer, args=(url, i, n, rounds, barrier, queue))
        for i, n in enumerate(names)
    ]
    for racer in racers:
        racer.start()
    reports = {}
    for _ in range(len(names) * ROUNDS):
        milestone_id, index, result = queue.get(timeout=120)
        reports[milestone_id, index] = result
    for racer in racers:
        racer.join(timeout=30)
        assert racer.exitcode == 0
    for milestone_id in milestone_ids:
        results = [reports[milestone_id, i] for i in range(len(names))]
        check_one_winner(tranche, race, milestone_id, results)


def due_review_timers(tranche: Tranche, count: int) -> list[str]:
    """`count` submitted milestones (over a few contracts) whose review period has ended."""
    milestone_ids = []
    for c in range(3):
        contract = tranche.create_contract(
            buyer_id=BUYER.id,
            provider_id=PROVIDER.id,
            currency="USD",
            agreed_amount=100_000,
            title=f"Sweep {c}",
        )
        for i in range(c, count, 3):
            ms = tranche.add_milestone(contract.id, title=f"Part {i}", amount=1_000)
            tranche.fire(ms.id, "fund", BUYER)
            tranche.fire(ms.id, "submit", PROVIDER)
            milestone_ids.append(ms.id)
    return milestone_ids


def test_concurrent_sweeps_fire_each_timer_exactly_once(database):
    clock = FixedClock(START)
    tranche = Tranche(database, clock)
    milestone_ids = due_review_timers(tranche, 24)
    now: datetime = START + timedelta(days=15)
    fired, errors = _race(*[partial(Tranche(database, clock).sweep, now) for _ in range(4)])
    assert errors == []
    all_fired = [f for batch in fired for f in batch]
    assert Counter(f.milestone_id for f in all_fired) == Counter(milestone_ids)
    assert {f.outcome for f in all_fired} == {"approved"}
    assert tranche.sweep(now) == []
    for milestone_id in milestone_ids:
        history = [e.type for e in tranche.history(milestone_id)]
        assert history.count("review_period_elapsed") == 1
        assert tranche.milestone(milestone_id).summary.in_escrow == 0
    assert tranche.unbalanced_entries() == []
    assert tranche.verify() == []


def overdue_cases(tranche: Tranche, arbitration: Arbitration, count: int) -> list[str]:
    """`count` disputes the provider opened and the buyer left unanswered past respond_by."""
    contract = tranche.create_contract(
        buyer_id=BUYER.id,
        provider_id=PROVIDER.id,
        currency="USD",
        agreed_amount=count * 1_000,
        title="Silent buyer",
    )
    cases = [
        arbitration.open(funded(tranche, contract, amount=1_000), PROVIDER, "Delivered, unpaid.")
        for _ in range(count)
    ]
    tranche.clock.advance(timedelta(days=8))  # past the 7-day deadline to answer
    return [case.id for case in cases]


def test_concurrent_deadline_sweeps_decide_each_overdue_case_exactly_once(database, tmp_path):
    tranche = Tranche(database, FixedClock(START))
    cases = overdue_cases(tranche, arbitration_for(tranche, tmp_path), 12)
    sweeps, errors = _race(*[arbitration_for(tranche, tmp_path).sweep for _ in range(4)])
    assert errors == []
    lapsed = [each for batch in sweeps for each in batch]
    assert Counter(each.dispute_id for each in lapsed) == Counter(cases)
    assert {each.outcome for each in lapsed} == {DEFAULTED}
    assert arbitration_for(tranche, tmp_path).sweep() == []
    assert tranche.unbalanced_entries() == []
    assert tranche.verify() == []


def test_a_late_answer_and_the_deadline_sweep_race_and_exactly_one_decides(database, tmp_path):
    tranche = Tranche(database, FixedClock(START))
    arbitration = arbitration_for(tranche, tmp_path)
    for _ in range(ROUNDS):
        (case,) = overdue_cases(tranche, arbitration, 1)
        answer = partial(arbitration.statement, case, BUYER, "It was not delivered.")
        (lapsed, _), errors = _race(arbitration_for(tranche, tmp_path).sweep, answer)
        status = arbitration.party_view(case, BUYER)["status"]
        if lapsed:  # the sweep won: the answer came too late and changed nothing
            assert [(x.dispute_id, x.outcome) for x in lapsed] == [(case, DEFAULTED)]
            assert [type(e) for e in errors] == [DisputeClosedError]
            assert status == DEFAULTED
        else:  # the answer won: the case waits for staff
            assert errors == []
            assert status == UNDER_REVIEW
    assert tranche.unbalanced_entries() == []
    assert tranche.verify() == []
