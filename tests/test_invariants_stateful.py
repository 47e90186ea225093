"""The invariants of DESIGN.md, checked after every step of random command sequences.

Hypothesis drives the real service layer (`Tranche` on a migrated SQLite file)
with random commands by random actors: the buyer, the provider, a stranger,
staff, and the system's timers (a sweep after the clock moves on by a random
duration); with random amounts (none, zero, negative, a float, part of the
escrow, exactly the escrow, more than it, absurdly large) and random dispute
splits (summing right, short, over, negative). Each example is a new contract
with several milestones, direct payments and payment requests.

Beside the engine the test keeps its own model, written from DESIGN.md's table
and nothing else: which commands must succeed, where they lead, and what money
moves. After EVERY step it checks:

- money is int (never bool or float) in the summary, the postings and the events;
- every ledger entry balances, and postings already written never change
  (and the database itself refuses UPDATE and DELETE on the append-only tables);
- escrow is never negative, and a milestone in a final state holds none;
- the figures each milestone keeps on its row (escrow, funded, released, refunded,
  fees) equal the sums of its postings and the model's, so a path that posts without
  counting fails here;
- funded = released + refunded + in escrow, paid to date = released + direct,
  remaining = agreed - paid to date, all equal to the model's own figures;
- no unilateral refund: money reaches the buyer only by the provider's own act,
  staff's ruling, an accepted settlement, or a refund deadline the provider was
  notified of and let pass;
- a refused command changes nothing (postings, states, versions, events, timers);
- the contract's event hash chain verifies;
- every open dispute case is its milestone's live case, and a milestone has a live case
  exactly while it is disputed; staff rule only once the respondent's answer period ran
  out (nobody answers here), and a case nobody answered is decided by default.

Commands go through every entry point: the `Tranche` facade, the HTTP API (a party's
events, as an integrator sends them), and the sweeps of timers and dispute deadlines.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from api.helpers import Client
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from arbitration.service import Arbitration
from arbitration.settings import Settings
from conftest import BUYER, PROVIDER, START, STRANGER
from engine.domain.actors import Actor
from engine.domain.clock import FixedClock, as_utc
from engine.domain.decision import EventArgs
from engine.domain.errors import TrancheError
from engine.service.tranche import Tranche
from engine.store.db import Database
from web.api.auth import create_key
from web.app import create_app

STAFF = Actor.staff("staff-1")
ACTORS = {"buyer": BUYER, "provider": PROVIDER, "stranger": STRANGER, "staff": STAFF}
AGREED = 200_000
MAX_AMOUNT = 10**15
REVISION_LIMIT = 3
REVIEW_PERIOD, REFUND_DEADLINE = timedelta(days=14), timedelta(days=7)
ANSWER_PERIOD = timedelta(days=7)  # the other party's time to answer a dispute
FINAL = {"approved", "refunded", "settled", "cancelled"}
# The states with a timer: its event, its period, and where it leads.
TIMERS = {
    "submitted": ("review_period_elapsed", REVIEW_PERIOD, "approved"),
    "refund_requested": ("refund_deadline_passed", REFUND_DEADLINE, "refunded"),
}
SAME, PREVIOUS, SPLIT = "<same>", "<previous>", "<by split>"
CACHED = ("escrow", "funded", "released", "refunded", "fees")  # a milestone row's figures

# DESIGN.md's table: (state, event) -> (who may, where it leads). Timer events are
# fired by sweeps only; a party or staff sending one must be refused.
TABLE: dict[tuple[str, str], tuple[set[str], str]] = {
    ("proposed", "fund"): ({"buyer"}, "funded"),
    ("proposed", "cancel"): ({"buyer", "provider"}, "cancelled"),
    ("funded", "submit"): ({"provider"}, "submitted"),
    ("refund_requested", "submit"): ({"provider"}, "submitted"),
    ("funded", "release"): ({"buyer"}, SAME),
    ("submitted", "release"): ({"buyer"}, SAME),
    ("funded", "approve"): ({"buyer"}, "approved"),
    ("submitted", "approve"): ({"buyer"}, "approved"),
    ("submitted", "request_changes"): ({"buyer"}, "funded"),
    ("funded", "request_refund"): ({"buyer"}, "refund_requested"),
    ("refund_requested", "accept_refund"): ({"provider"}, "refunded"),
    ("refund_requested", "withdraw_refund_request"): ({"buyer"}, "funded"),
    ("funded", "refund"): ({"provider"}, "refunded"),
    ("submitted", "refund"): ({"provider"}, "refunded"),
    ("funded", "dispute"): ({"buyer", "provider"}, "disputed"),
    ("submitted", "dispute"): ({"buyer", "provider"}, "disputed"),
    ("refund_requested", "dispute"): ({"buyer", "provider"}, "disputed"),
    ("disputed", "accept_offer"): ({"buyer", "provider"}, SPLIT),
    ("disputed", "rule"): ({"staff"}, SPLIT),
    ("disputed", "withdraw"): ({"buyer", "provider"}, PREVIOUS),
    ("disputed", "escalate"): ({"buyer", "provider"}, "escalated"),
    ("escalated", "accept_offer"): ({"buyer", "provider"}, SPLIT),
    ("escalated", "rule"): ({"staff"}, SPLIT),
}
DISPUTED = {"disputed", "escalated"}  # the states a dispute case stays open in
EVENTS = sorted({event for _, event in TABLE} | {"review_period_elapsed", "bogus"})
VIA = st.sampled_from(["facade", "facade", "http"])
"""The HTTP API carries a party's events with an amount (never a split, never staff's)."""
# Who may move escrow to the buyer, and by which event (invariant 5).
REFUNDERS = {
    ("refund", "provider"),
    ("accept_refund", "provider"),
    ("accept_offer", "buyer"),
    ("accept_offer", "provider"),
    ("rule", "staff"),
    ("refund_deadline_passed", "system"),
}

TAMPERING = [
    "UPDATE postings SET amount = amount + 1 WHERE contract_id = :c",
    "DELETE FROM postings WHERE contract_id = :c",
    "UPDATE ledger_entries SET memo = 'oops' WHERE contract_id = :c",
    "UPDATE events SET amount = 0 WHERE contract_id = :c",
    "DELETE FROM events WHERE contract_id = :c",
]
AMOUNT_KINDS = st.sampled_from(
    ["none", "zero", "negative", "one", "part", "all_but_one", "all", "all_plus_one"]
    + ["max", "too_large", "float", "text"]
)
SPLIT_KINDS = st.sampled_from(
    ["all_to_provider", "all_to_buyer", "shared", "short", "over", "negative", "missing"]
)
MOVES = st.tuples(
    st.integers(0, 3),  # which milestone still in play
    st.integers(0, 99),  # which of the offered events, and by whom
    st.sampled_from(["part", "one", "all_but_one", "all", "zero"]),
    st.integers(0, 10_000),  # a fraction of the escrow, in basis points
)
DURATIONS = st.sampled_from(
    [timedelta(hours=1), timedelta(days=3), REFUND_DEADLINE - timedelta(seconds=1)]
    + [REFUND_DEADLINE, REVIEW_PERIOD - timedelta(seconds=1), REVIEW_PERIOD, timedelta(days=15)]
)


def resolve_amount(kind: str, base: int, fraction: int) -> Any:
    """A concrete amount of the given kind, relative to `base` (the escrow, say)."""
    return {
        "none": None,
        "zero": 0,
        "negative": -max(1, base),
        "one": 1,
        "part": max(1, base * fraction // 10_000),
        "all_but_one": base - 1,
        "all": base,
        "all_plus_one": base + 1,
        "max": MAX_AMOUNT,
        "too_large": MAX_AMOUNT + 1,
        "float": base / 2 + 0.5,
        "text": str(base),
    }[kind]


def resolve_split(kind: str, escrow: int, fraction: int) -> tuple[Any, Any]:
    part = escrow * fraction // 10_000
    return {
        "all_to_provider": (escrow, 0),
        "all_to_buyer": (0, escrow),
        "shared": (part, escrow - part),
        "short": (part, max(0, escrow - part - 1)),
        "over": (part + 1, escrow - part),
        "negative": (escrow + 1, -1),
        "missing": (escrow, None),
    }[kind]


def is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class MilestoneModel:
    """What the test expects of one milestone, kept from the commands that succeeded."""

    id: str
    amount: int
    state: str = "proposed"
    due: datetime | None = None  # when the current state's timer fires, if it has one
    interrupted: dict[str, timedelta] = field(default_factory=dict)  # timer -> time it had left
    previous: str | None = None
    opener: str | None = None
    revisions: int = 0
    respond_by: datetime | None = None  # while disputed: the respondent's answer deadline
    claim: tuple[int, int] = (0, 0)  # while disputed: the opener's claim (to provider, to buyer)
    funded: int = 0
    released: int = 0
    refunded: int = 0

    @property
    def escrow(self) -> int:
        return self.funded - self.released - self.refunded


@dataclass
class Snapshot:
    """Everything a command could change on one contract."""

    postings: list[tuple[Any, ...]]
    milestones: list[tuple[Any, ...]]
    events: int
    timers: list[tuple[Any, ...]]
    requests: list[tuple[Any, ...]]


@dataclass
class Expected:
    """The outcome the model predicts for one milestone command."""

    ok: bool
    target: str = ""
    released: int = 0
    refunded: int = 0
    why: str = ""


def predict(m: MilestoneModel, event: str, role: str, args: EventArgs, now: datetime) -> Expected:
    """DESIGN.md's answer to: may `role` send `event` with `args` now, and what follows?"""
    allowed = TABLE.get((m.state, event))
    if role not in ("buyer", "provider", "staff") or allowed is None or role not in allowed[0]:
        return Expected(False, why="not in the table for this state and actor")
    if role == "staff" and m.respond_by is not None and now < m.respond_by:
        return Expected(False, why="staff rule only once the respondent was heard")
    target = allowed[1]
    if event == "fund":
        return Expected(True, target)
    if event == "release":
        ok = is_whole(args.amount) and 0 < args.amount < m.escrow
        return Expected(ok, m.state, released=args.amount if ok else 0, why="partial amount")
    if event == "approve":
        return Expected(True, target, released=m.escrow)
    if event in ("refund", "accept_refund"):
        return Expected(True, target, refunded=m.escrow)
    if event == "request_changes":
        return Expected(m.revisions < REVISION_LIMIT, target, why="revision limit")
    if event == "withdraw":
        return Expected(role == m.opener, m.previous or "", why="only the opener withdraws")
    if event == "escalate":
        return Expected(role != m.opener, target, why="only the respondent escalates")
    if event == "dispute" and (args.to_provider, args.to_buyer) != (None, None):
        tp, tb = args.to_provider, args.to_buyer
        ok = is_whole(tp) and is_whole(tb) and tp >= 0 and tb >= 0 and tp + tb == m.escrow
        return Expected(ok, target, why="a claim must sum exactly to the escrow")
    if target == SPLIT:
        tp, tb = args.to_provider, args.to_buyer
        if event == "accept_offer" and args.offer_by not in {"buyer", "provider"} - {role}:
            return Expected(False, why="only an offer by the other party can be accepted")
        if not (is_whole(tp) and is_whole(tb) and tp >= 0 and tb >= 0 and tp + tb == m.escrow):
            return Expected(False, why="a split must sum exactly to the escrow")
        target = "approved" if tb == 0 else "refunded" if tp == 0 else "settled"
        return Expected(True, target, released=tp, refunded=tb)
    return Expected(True, target)


class EscrowStory(RuleBasedStateMachine):
    """One contract per example; each step is a command through `Tranche`, then the checks."""

    database: ClassVar[Database]
    clock: ClassVar[FixedClock]
    http: ClassVar[Client]
    tenant: ClassVar[str]  # the HTTP client's key's tenant: contracts are made in it
    arbitration: ClassVar[Arbitration]
    clock_at: ClassVar[datetime] = START

    def __init__(self) -> None:
        super().__init__()
        # Each example starts where the previous one stopped, so their timers never
        # interleave: an older contract's timer is simply overdue in later sweeps.
        self.clock.set(type(self).clock_at + timedelta(days=1))
        self.tranche = Tranche(self.database, self.clock)
        self.milestones: list[MilestoneModel] = []
        self.direct = 0
        self.requests: list[tuple[str, int, str]] = []  # (id, amount, status)
        self.refused = False
        self.seen_postings: set[tuple[Any, ...]] = set()
        self.before: Snapshot | None = None

    def teardown(self) -> None:
        type(self).clock_at = self.clock.now()

    # set-up --------------------------------------------------------------------------
    @initialize(amounts=st.lists(st.integers(1, 60_000), min_size=2, max_size=3))
    def hire(self, amounts: list[int]) -> None:
        contract = self.tranche.create_contract(
            buyer_id=BUYER.id,
            provider_id=PROVIDER.id,
            currency="USD",
            agreed_amount=AGREED,
            title="Stateful story",
            tenant=self.tenant,
        )
        self.contract_id = contract.id
        for i, amount in enumerate(amounts):
            ms = self.tranche.add_milestone(contract.id, title=f"Part {i + 1}", amount=amount)
            self.milestones.append(MilestoneModel(ms.id, amount))
        self.before = self.snapshot()

    # commands ------------------------------------------------------------------------
    def attempt(self, command: Any, expected_ok: bool, why: str = "") -> tuple[bool, Any]:
        """Run one command as the model expects; a refusal is a TrancheError and changes nothing.

        (That nothing changed is checked by the invariant right after this step.)
        """
        try:
            result = command()
        except TrancheError as exc:
            refusal = exc
        else:
            assert expected_ok, f"accepted, but DESIGN.md refuses it ({why}): {result!r}"
            return True, result
        assert not expected_ok, f"refused, but DESIGN.md allows it: {refusal!r}"
        self.refused = True
        return False, None

    def fire(
        self,
        m: MilestoneModel,
        event: str,
        actor: str,
        args: EventArgs,
        via: str = "facade",
        **options: Any,
    ):
        """Send one event as `actor`; the model predicts success, target state and money."""
        expected = predict(m, event, actor, args, self.clock.now())
        if options.get("expected_version") == -1:  # a stale version: refused, whatever else
            options["expected_version"] = self.version_of(m.id) - 1
            expected.ok = False
        if via == "http" and actor != "staff" and args.to_provider is None:
            ok, target = self.attempt(
                lambda: self.over_http(m.id, event, actor, args, options.get("expected_version")),
                expected.ok,
                expected.why,
            )
        else:
            ok, recorded = self.attempt(
                lambda: self.tranche.fire(m.id, event, ACTORS[actor], args, **options),
                expected.ok,
                expected.why,
            )
            target = recorded.to_state if ok else None
        if not ok:
            return
        assert target == expected.target, (m.state, event, target)
        self.apply(m, expected.target, actor, expected.released, expected.refunded, event)
        if event == "fund":
            m.funded += m.amount
        if event == "request_changes":
            m.revisions += 1
        if event == "dispute":
            everything = (m.escrow, 0) if actor == "provider" else (0, m.escrow)
            claimed = (args.to_provider, args.to_buyer)
            m.claim = everything if claimed == (None, None) else claimed

    def over_http(
        self, milestone_id: str, event: str, actor: str, args: EventArgs, version: int | None
    ) -> str:
        """The event as an integrator sends it; a 4xx is the engine's refusal, as a TrancheError."""
        body = {"amount": args.amount} if event == "release" and args.amount is not None else {}
        headers = {} if version is None else {"If-Match": f'"{version}"'}
        response = self.http.fire(milestone_id, event, ACTORS[actor].id, body=body, headers=headers)
        if 400 <= response.status_code < 500:
            raise TrancheError(f"{response.status_code}: {response.get_data(as_text=True)}")
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.json["state"]

    def apply(self, m, target: str, role: str, released: int, refunded: int, event: str = ""):
        """Book a transition in the model: money, state, and the timer of the state entered.

        Leaving a state cancels its timer; entering one starts it afresh, except on a
        return to the previous state (a withdrawn dispute), which gives the timer back
        the time it had left when it was interrupted (the clock stops meanwhile).
        """
        m.released += released
        m.refunded += refunded
        if target == m.state:
            return
        if m.state in TIMERS and m.due is not None:
            m.interrupted[TIMERS[m.state][0]] = max(m.due - self.clock.now(), timedelta(0))
        m.previous, m.opener, m.state, m.due = m.state, role, target, None
        # The respondent's escalation answers the case: no default outcome after that.
        m.respond_by = self.clock.now() + ANSWER_PERIOD if event == "dispute" else None
        if target in TIMERS:
            timer, period, _ = TIMERS[target]
            m.due = self.clock.now() + period
            if event == "withdraw" and timer in m.interrupted:
                m.due = self.clock.now() + m.interrupted[timer]

    def open_milestone(self, index: int) -> MilestoneModel | None:
        """One of the milestones still in play (so stories go deep), or None."""
        live = [m for m in self.milestones if m.state not in FINAL]
        return live[index % len(live)] if live else None

    @rule(
        index=st.integers(0, 3),
        event=st.sampled_from(EVENTS),
        actor=st.sampled_from(sorted(ACTORS)),
        amount=AMOUNT_KINDS,
        split=SPLIT_KINDS,
        offer_by=st.sampled_from([None, "buyer", "provider", "staff"]),
        fraction=st.integers(0, 10_000),
        version=st.sampled_from([None, None, None, "current", -1]),
        via=VIA,
    )
    def any_command(self, index, event, actor, amount, split, offer_by, fraction, version, via):
        """Anything at all, by anyone, by any entry point: most of it must be refused."""
        m = self.milestones[index % len(self.milestones)]
        tp, tb = resolve_split(split, m.escrow, fraction)
        args = EventArgs(resolve_amount(amount, m.escrow, fraction), tp, tb, offer_by)
        if via == "http" and (split != "missing" or not is_whole(args.amount)):
            args = EventArgs(args.amount if is_whole(args.amount) else None)
        options = {}
        if version is not None:
            options["expected_version"] = -1 if version == -1 else self.version_of(m.id)
        self.fire(m, event, actor, args, via, **options)

    @rule(moves=st.lists(st.one_of(MOVES, DURATIONS), min_size=1, max_size=5), via=VIA)
    def parties_follow_the_policy(
        self, moves: list[tuple[int, int, str, int] | timedelta], via: str
    ):
        """A short story: events DESIGN.md offers the parties now, and time passing.

        Random commands alone rarely get past `proposed`; these carry stories into
        review, refund requests, deadlines and disputes. Every invariant is checked
        after each move. Cancelling ends a story before it starts: picked now and then.
        """
        for move in moves:
            if isinstance(move, timedelta):
                self.time_passes(move)
                self.every_invariant_holds()
                continue
            index, choice, amount, fraction = move
            m = self.open_milestone(index)
            if m is None:
                return
            offered = sorted(
                {event for (state, event) in TABLE if state == m.state}
                - {"rule"}
                - ({"cancel"} if choice % 8 else set())
            )
            event = offered[choice % len(offered)]
            actor = sorted(TABLE[(m.state, event)][0])[choice % 2 - 1]
            if event == "withdraw" and choice % 3:
                actor = m.opener or actor
            other = "provider" if actor == "buyer" else "buyer"
            tp, tb = resolve_split("shared", m.escrow, fraction)
            value = resolve_amount(amount, m.escrow, fraction)
            args = EventArgs(value, tp, tb, offer_by=other)
            if via == "http" and event != "accept_offer":
                args = EventArgs(value if is_whole(value) else None)
            self.fire(m, event, actor, args, via)
            self.every_invariant_holds()

    @precondition(lambda self: any(m.state in DISPUTED for m in self.milestones))
    @rule(
        index=st.integers(0, 3),
        by=st.sampled_from(["staff", "buyer", "provider"]),
        split=SPLIT_KINDS,
        fraction=st.integers(0, 10_000),
    )
    def dispute_is_resolved(self, index, by, split, fraction):
        """Staff rules, or a party accepts the other's offer: a split, right or wrong."""
        disputed = [m for m in self.milestones if m.state in DISPUTED]
        m = disputed[index % len(disputed)]
        tp, tb = resolve_split(split, m.escrow, fraction)
        offer_by = "provider" if by == "buyer" else "buyer"
        event = "rule" if by == "staff" else "accept_offer"
        self.fire(m, event, by, EventArgs(to_provider=tp, to_buyer=tb, offer_by=offer_by))

    @rule(advance=DURATIONS)
    def time_passes(self, advance: timedelta) -> None:
        """The system's timers: auto-approve after review, auto-refund after the deadline."""
        self.clock.advance(advance)
        now = self.clock.now()
        due = {}
        for m in self.milestones:
            if m.due is not None and m.due <= now:
                outcome = TIMERS[m.state][2]
                due[m.id] = (
                    (outcome, m.escrow, 0) if outcome == "approved" else (outcome, 0, m.escrow)
                )
        fired = [f for f in self.tranche.sweep(now) if f.milestone_id in self.ids()]
        assert {f.milestone_id: f.outcome for f in fired} == {k: v[0] for k, v in due.items()}
        for m in self.milestones:
            if m.id in due:
                target, released, refunded = due[m.id]
                self.apply(m, target, "system", released, refunded)
        self.dispute_deadlines_pass(now)

    def dispute_deadlines_pass(self, now: datetime) -> None:
        """Nobody answers a dispute here: at its deadline the opener's claim is granted."""
        lapsed = {
            d.milestone_id
            for d in self.cases("open")
            if d.status == "awaiting_response" and d.respond_by <= now
        }  # an escalated case was answered: its answer period no longer runs
        outcomes = {x.dispute_id: x.outcome for x in self.arbitration.sweep(now)}
        for m in self.milestones:
            if m.id not in lapsed:
                continue
            assert m.respond_by is not None
            assert m.respond_by <= now
            tp, tb = m.claim
            target = "approved" if tb == 0 else "refunded" if tp == 0 else "settled"
            self.apply(m, target, "staff", tp, tb)
        assert set(outcomes.values()) <= {"defaulted"}, outcomes

    @rule(amount=AMOUNT_KINDS, actor=st.sampled_from(sorted(ACTORS)), base=st.integers(1, 9_999))
    def pay_directly(self, amount: str, actor: str, base: int) -> None:
        value = resolve_amount(amount, base, 5_000)
        ok = actor == "buyer" and is_whole(value) and 0 < value <= MAX_AMOUNT
        paid, _ = self.attempt(
            lambda: self.tranche.pay_directly(self.contract_id, actor=ACTORS[actor], amount=value),
            ok,
        )
        self.direct += value if paid else 0

    @rule(amount=AMOUNT_KINDS, actor=st.sampled_from(sorted(ACTORS)), base=st.integers(1, 9_999))
    def request_payment(self, amount: str, actor: str, base: int) -> None:
        value = resolve_amount(amount, base, 5_000)
        ok = actor == "provider" and is_whole(value) and 0 < value <= MAX_AMOUNT
        made, request = self.attempt(
            lambda: self.tranche.request_payment(
                self.contract_id, actor=ACTORS[actor], amount=value
            ),
            ok,
        )
        if made:
            self.requests.append((request.id, value, "requested"))

    @precondition(lambda self: self.requests)
    @rule(index=st.integers(0, 5), actor=st.sampled_from(sorted(ACTORS)), pay=st.booleans())
    def decide_payment_request(self, index: int, actor: str, pay: bool) -> None:
        i = index % len(self.requests)
        request_id, amount, status = self.requests[i]
        ok = actor == "buyer" and status == "requested"
        done, decided = self.attempt(
            lambda: self.tranche.decide_payment_request(request_id, actor=ACTORS[actor], pay=pay),
            ok,
        )
        if done:
            self.requests[i] = (request_id, amount, decided.status)
            self.direct += amount if pay else 0

    @precondition(lambda self: len(self.milestones) < 4)
    @rule(amount=st.integers(-5, 120_000))
    def add_milestone(self, amount: int) -> None:
        committed = sum(m.amount for m in self.milestones if m.state != "cancelled")
        ok = 0 < amount and committed + amount <= AGREED
        done, added = self.attempt(
            lambda: self.tranche.add_milestone(self.contract_id, title="More", amount=amount), ok
        )
        if done:
            self.milestones.append(MilestoneModel(added.id, amount))

    @precondition(lambda self: self.seen_postings)
    @rule(statement=st.sampled_from(TAMPERING))
    def tamper_with_history(self, statement: str) -> None:
        """The database itself refuses to rewrite the ledger or the audit trail (invariant 2)."""
        with self.database.engine.connect() as connection:
            with pytest.raises(DBAPIError, match="append-only"):
                connection.execute(text(statement), {"c": self.contract_id})
            connection.rollback()
        self.refused = True

    # observation ---------------------------------------------------------------------
    def ids(self) -> set[str]:
        return {m.id for m in self.milestones}

    def version_of(self, milestone_id: str) -> int:
        return self.tranche.milestone(milestone_id).version

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with self.database.engine.connect() as connection:
            rows = connection.execute(text(sql), {"c": self.contract_id}).all()
            connection.rollback()
        return [tuple(r) for r in rows]

    def snapshot(self) -> Snapshot:
        of_milestones = "milestone_id IN (SELECT id FROM milestones WHERE contract_id = :c)"
        return Snapshot(
            postings=self.query(
                "SELECT id, entry_id, milestone_id, account, amount, currency FROM postings "
                "WHERE contract_id = :c ORDER BY id"
            ),
            milestones=self.query(
                "SELECT id, state, version, revisions, previous_state, entered_by, escrow, funded, "
                "released, refunded, fees FROM milestones WHERE contract_id = :c ORDER BY position"
            ),
            events=self.query("SELECT count(*) FROM events WHERE contract_id = :c")[0][0],
            timers=self.query(f"SELECT id, status FROM timers WHERE {of_milestones} ORDER BY id"),
            requests=self.query(
                "SELECT id, status FROM payment_requests WHERE contract_id = :c ORDER BY id"
            ),
        )

    @invariant()
    def every_invariant_holds(self) -> None:
        if self.before is None:  # before `hire`
            return
        now = self.snapshot()
        if self.refused:
            assert now == self.before, "a refused command changed something"
            self.refused = False
        self.check_ledger(now)
        self.check_milestones(now)
        self.check_cached_figures(now)
        self.check_summary()
        self.check_refunds_were_consented()
        self.check_live_cases()
        assert self.tranche.verify(self.contract_id) == []
        self.before = now

    def cases(self, which: str) -> list[Any]:
        """This contract's dispute cases that are open (or all of them), from the table."""
        where = " AND status IN ('awaiting_response', 'under_review', 'pending_approval')"
        return [
            Case(*row)
            for row in self.query(
                "SELECT id, milestone_id, status, respond_by FROM disputes WHERE contract_id = :c"
                + (where if which == "open" else "")
            )
        ]

    def check_live_cases(self) -> None:
        """Invariant 8: every open case is its milestone's live case; one exactly while disputed."""
        live = dict(self.query("SELECT id, dispute_id FROM milestones WHERE contract_id = :c"))
        open_cases = self.cases("open")
        assert {c.milestone_id: c.id for c in open_cases} == {
            m: d for m, d in live.items() if d is not None
        }
        assert len(open_cases) == len({c.milestone_id for c in open_cases})
        for m in self.milestones:
            assert (live[m.id] is not None) == (m.state in DISPUTED), (m.state, live[m.id])

    def check_ledger(self, now: Snapshot) -> None:
        """Invariants 1 and 2: integer amounts, balanced entries, history never rewritten."""
        entries: dict[int, int] = {}
        for posting in now.postings:
            assert is_whole(posting[4]), posting
            entries[posting[1]] = entries.get(posting[1], 0) + posting[4]
        assert all(total == 0 for total in entries.values()), entries
        rows = set(now.postings)
        assert self.seen_postings <= rows, "a posting was changed or removed"
        self.seen_postings = rows

    def check_milestones(self, now: Snapshot) -> None:
        """Invariant 3 and the model: states agree, escrow >= 0, a final state holds none."""
        escrow: dict[str, int] = {}
        for _, _, milestone_id, account, amount, _ in now.postings:
            if account == "escrow":
                escrow[milestone_id] = escrow.get(milestone_id, 0) + amount
        states = {row[0]: row[1] for row in now.milestones}
        for m in self.milestones:
            assert states[m.id] == m.state, (m.id, states[m.id], m.state)
            assert escrow.get(m.id, 0) == m.escrow >= 0
            if m.state in FINAL:
                assert m.escrow == 0, (m.state, m.escrow)

    def check_cached_figures(self, now: Snapshot) -> None:
        """Each milestone row's figures are its postings' sums, and the model's figures."""
        ledger = {m.id: dict.fromkeys(CACHED, 0) for m in self.milestones}
        for milestone_id, account, kind, total in self.query(
            "SELECT p.milestone_id, p.account, e.kind, SUM(p.amount) FROM postings p "
            "JOIN ledger_entries e ON e.id = p.entry_id "
            "WHERE p.contract_id = :c AND p.milestone_id IS NOT NULL "
            "GROUP BY p.milestone_id, p.account, e.kind"
        ):
            sums = ledger[milestone_id]
            if account == "escrow":
                sums["escrow"] += total
                moved = {"hold": "funded", "release": "released", "refund": "refunded"}[kind]
                sums[moved] += total if kind == "hold" else -total
            elif account == "platform_fees":
                sums["fees"] += total
        rows = {row[0]: dict(zip(CACHED, row[6:], strict=True)) for row in now.milestones}
        for m in self.milestones:
            cached, sums = rows[m.id], ledger[m.id]
            assert cached == sums, (m.id, cached, sums)
            assert all(is_whole(v) for v in cached.values()), cached
            assert (m.escrow, m.funded, m.released, m.refunded) == (
                sums["escrow"],
                sums["funded"],
                sums["released"],
                sums["refunded"],
            )

    def check_summary(self) -> None:
        """Invariant 4, against the engine's own summary and against the model."""
        s = self.tranche.summary(self.contract_id)
        assert all(is_whole(v) for k, v in s.as_dict().items() if k != "currency")
        assert s.funded == s.released + s.refunded + s.in_escrow
        assert s.paid_to_date == s.released + s.direct_payments
        assert s.remaining == s.agreed - s.paid_to_date
        released = sum(m.released for m in self.milestones)
        expected = (
            sum(m.funded for m in self.milestones),
            released,
            sum(m.refunded for m in self.milestones),
            sum(m.escrow for m in self.milestones),
            self.direct,
            AGREED - released - self.direct,
        )
        actual = (s.funded, s.released, s.refunded, s.in_escrow, s.direct_payments, s.remaining)
        assert actual == expected

    def check_refunds_were_consented(self) -> None:
        """Invariant 5: each move of escrow to the buyer has a party's consent or due notice."""
        events = self.tranche.events_of(self.contract_id)
        notified_at: dict[str, datetime] = {}  # milestone -> when the provider heard of it
        for event in events:
            assert event.amount is None or is_whole(event.amount)
            data = json.loads(event.data)
            if event.type == "refund_deadline_passed":
                waited = event.created_at - notified_at[event.milestone_id]
                assert waited >= REFUND_DEADLINE, waited
            if event.type == "request_refund":
                assert "provider" in data["notify"], "the provider must hear of a refund request"
                notified_at[event.milestone_id] = event.created_at
            refunds = [mv for mv in data.get("movements", []) if mv["kind"] == "refund"]
            if refunds:
                assert (event.type, event.actor_role) in REFUNDERS, (event.type, event.actor_role)


@dataclass
class Case:
    id: str
    milestone_id: str
    status: str
    respond_by: Any

    def __post_init__(self) -> None:
        if isinstance(self.respond_by, str):  # SQLite hands back text
            self.respond_by = as_utc(datetime.fromisoformat(self.respond_by))


EXAMPLES = min(settings().max_examples, 300)
"""300 stories of 25 steps at most: at CI's 500 this one test took three of the suite's
fifteen minutes."""


def test_invariants_hold_after_every_step(sqlite_template: Path, tmp_path: Path) -> None:
    path = tmp_path / "stateful.db"
    shutil.copy(sqlite_template, path)
    database = EscrowStory.database = Database(f"sqlite:///{path}")
    clock = EscrowStory.clock = FixedClock(START)
    app = create_app({"DATABASE_URL": database.url, "AUTO_UPGRADE": False}, clock)
    key, plain = create_key(database, "stateful story")
    EscrowStory.http, EscrowStory.tenant = Client(app, plain), key.tenant
    settings_ = Settings(evidence_dir=tmp_path / "evidence")
    EscrowStory.arbitration = Arbitration(database, clock, settings_)
    try:
        run_state_machine_as_test(
            EscrowStory, settings=settings(stateful_step_count=25, max_examples=EXAMPLES)
        )
    finally:
        EscrowStory.database.dispose()
