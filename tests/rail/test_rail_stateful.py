"""The rail's invariants after every step of random sequences of rail commands.

Hypothesis drives `Tranche` (a migrated SQLite file; the policy holds each payment to
the provider for two days) through fundings confirmed first or two-phase, confirmed
with the right or a wrong charge, failed, expired; releases and refunds; payouts and
refunds recorded for any amount, paid, failed, reversed, settled twice; chargebacks of
any size before and after payout, won or lost; and time passing through the holds and
funding deadlines. Beside it a small model says which commands must succeed. After
EVERY step:

- every entry balances; every milestone's cached figures and every party's balance
  equal the ledger; the payouts in flight and paid out are exactly those recorded;
  pending money is on the ledger exactly while its funding is pending (the audit);
- funded = released + refunded + in escrow for every milestone, pending funding outside;
- owed = paid out + available + pending + in flight for every party;
- a debt never silently disappears: it shrinks only when the party was credited;
- a refused command changes nothing.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import text

from conftest import START
from engine.domain.actors import Actor
from engine.domain.clock import FixedClock
from engine.domain.errors import TrancheError
from engine.domain.rail import PartyBalance
from engine.service.fundings import Charge
from engine.service.tranche import Tranche
from engine.store.db import Database
from rail.conftest import publish_variant

HOLD = timedelta(days=2)
MILESTONE = st.integers(0, 2)
FRACTION = st.sampled_from([0, 1, 33, 50, 99, 100, 101, 250])
"""A share of the amount in play, in percent (0 and over 100 must be refused)."""


@dataclass
class Part:
    id: str
    amount: int
    state: str = "proposed"
    funding: str | None = None  # the pending funding's id
    reference: str | None = None  # the rail reference that funded it
    charged_back: int = 0


class RailStory(RuleBasedStateMachine):
    template: ClassVar[Path]  # a migrated database with the policy published
    policy: ClassVar[str]
    counter: ClassVar[int] = 0

    def __init__(self) -> None:
        super().__init__()
        # A database of its own per example: the audit after every step reads it whole,
        # so a database shared by every example would make each step slower than the last.
        type(self).counter += 1
        path = self.template.with_name(f"example-{self.counter}.db")
        shutil.copy(self.template, path)
        self.path, self.database = path, Database(f"sqlite:///{path}")
        self.clock = FixedClock(START)
        self.tranche = Tranche(self.database, self.clock)
        self.payouts: list[list[Any]] = []  # [id, status, party]
        self.chargebacks: list[list[Any]] = []  # [id, status]
        self.owed_before = self.debt_before = 0

    def teardown(self) -> None:
        self.database.dispose()
        self.path.unlink()

    @initialize(amounts=st.lists(st.integers(1, 50_000), min_size=3, max_size=3))
    def hire(self, amounts: list[int]) -> None:
        # Parties of their own per example: balances are per party across contracts.
        type(self).counter += 1
        self.buyer, self.provider = f"buyer-{self.counter}", f"provider-{self.counter}"
        contract = self.tranche.create_contract(
            buyer_id=self.buyer,
            provider_id=self.provider,
            currency="USD",
            agreed_amount=sum(amounts),
            title="Rail story",
            policy=self.policy,
        )
        self.contract_id = contract.id
        self.parts = [
            Part(self.tranche.add_milestone(contract.id, title=f"P{i}", amount=a).id, a)
            for i, a in enumerate(amounts)
        ]
        self.remember()

    def reference(self) -> str:
        type(self).counter += 1
        return f"ref_{self.counter}"

    def attempt(self, expected_ok: bool, command: Any) -> Any:
        before = self.fingerprint()
        try:
            result = command()
        except TrancheError as exc:
            refusal = exc
        else:
            assert expected_ok, f"accepted, but the model refuses it: {result!r}"
            return result
        assert not expected_ok, f"refused, but the model allows it: {refusal!r}"
        assert self.fingerprint() == before, "a refused command changed something"
        return None

    # fundings ------------------------------------------------------------------------
    @rule(i=MILESTONE, two_phase=st.booleans())
    def fund(self, i: int, two_phase: bool) -> None:
        part, actor = self.parts[i], Actor(self.buyer)
        ok = part.state == "proposed"
        if two_phase:
            found = self.attempt(ok, lambda: self.tranche.open_funding(part.id, "fund", actor))
            if found:
                part.state, part.funding = "pending", found.id
        else:
            ref = self.reference()
            charge = Charge(ref, part.amount, "USD")
            if self.attempt(
                ok, lambda: self.tranche.fund_confirmed(part.id, "fund", actor, charge)
            ):
                part.state, part.reference = "funded", ref

    @rule(i=MILESTONE, right=st.booleans())
    def confirm(self, i: int, right: bool) -> None:
        part = self.parts[i]
        if part.funding is None:
            return
        ref = self.reference()
        charge = Charge(ref, part.amount if right else part.amount + 1, "USD")
        ok = part.state == "pending" and right
        if self.attempt(ok, lambda: self.tranche.confirm_funding(part.funding, charge)):
            part.state, part.reference = "funded", ref

    @rule(i=MILESTONE)
    def fail(self, i: int) -> None:
        part = self.parts[i]
        if part.funding is not None:
            ok = part.state == "pending"
            if self.attempt(ok, lambda: self.tranche.fail_funding(part.funding, "declined")):
                part.state = "proposed"

    @rule(days=st.integers(0, 3))
    def time_passes(self, days: int) -> None:
        self.clock.advance(timedelta(days=days, seconds=1))
        expired, _ = self.tranche.settle_rail()
        for part in self.parts:
            if part.funding in expired:
                part.state = "proposed"

    # the milestone's own money -----------------------------------------------------------
    @rule(i=MILESTONE, release=st.booleans())
    def settle_milestone(self, i: int, release: bool) -> None:
        part = self.parts[i]
        if part.state != "funded":
            return
        buyer, provider = Actor(self.buyer), Actor(self.provider)
        steps = [("submit", provider), ("approve", buyer)]
        if not release:
            steps = [("request_refund", buyer), ("accept_refund", provider)]
        for event, actor in steps:
            self.tranche.fire(part.id, event, actor)
        part.state = "approved" if release else "refunded"

    # payouts ---------------------------------------------------------------------------
    @rule(to_provider=st.booleans(), fraction=FRACTION)
    def pay_out(self, to_provider: bool, fraction: int) -> None:
        party = self.provider if to_provider else self.buyer
        due = self.balance(party).due
        amount = due * fraction // 100 if due else fraction
        ok = 0 < amount <= due
        found = self.attempt(
            ok,
            lambda: self.tranche.record_payout(
                tenant="default",
                contract_id=self.contract_id,
                party_id=party,
                amount=amount,
                currency="USD",
                reference=self.reference(),
            ),
        )
        if found:
            self.payouts.append([found.id, "in_flight", party])

    @rule(index=st.integers(0, 5), paid=st.booleans())
    def settle_payout(self, index: int, paid: bool) -> None:
        if index < len(self.payouts):
            payout = self.payouts[index]
            ok = payout[1] == "in_flight"
            if self.attempt(ok, lambda: self.tranche.settle_payout(payout[0], paid)):
                payout[1] = "paid" if paid else "failed"

    @rule(index=st.integers(0, 5))
    def reverse_payout(self, index: int) -> None:
        if index < len(self.payouts):
            payout = self.payouts[index]
            ok = payout[1] in ("in_flight", "paid")
            if self.attempt(ok, lambda: self.tranche.reverse_payout(payout[0], 10**12)):
                payout[1] = "failed" if payout[1] == "in_flight" else "reversed"

    # chargebacks -------------------------------------------------------------------------
    @rule(i=MILESTONE, fraction=FRACTION)
    def charge_back(self, i: int, fraction: int) -> None:
        part = self.parts[i]
        if part.reference is None:
            return
        left = part.amount - part.charged_back
        amount = left * fraction // 100 if left else fraction
        ok = 0 < amount <= left
        found = self.attempt(
            ok,
            lambda: self.tranche.report_chargeback(
                tenant="default",
                funding_reference=part.reference,
                reference=self.reference(),
                amount=amount,
                currency="USD",
            ),
        )
        if found:
            part.charged_back += amount
            self.chargebacks.append([found.id, "booked", part, amount])

    @rule(index=st.integers(0, 5), won=st.booleans())
    def close_chargeback(self, index: int, won: bool) -> None:
        if index < len(self.chargebacks):
            chargeback = self.chargebacks[index]
            ok = chargeback[1] == "booked"
            if self.attempt(ok, lambda: self.tranche.close_chargeback(chargeback[0], won)):
                chargeback[1] = "won" if won else "lost"
                if won:
                    chargeback[2].charged_back -= chargeback[3]

    # invariants ------------------------------------------------------------------------
    def balance(self, party: str) -> PartyBalance:
        found = self.tranche.balances("default", party)
        return found[0] if found else PartyBalance(party, "USD")

    def fingerprint(self) -> tuple[Any, ...]:
        with self.database.engine.connect() as connection:
            return tuple(
                connection.execute(text(sql)).all()
                for sql in (
                    "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM postings",
                    "SELECT * FROM party_balances ORDER BY 1, 2, 3",
                    "SELECT id, status FROM fundings ORDER BY id",
                    "SELECT id, status FROM payouts ORDER BY id",
                    "SELECT id, status FROM chargebacks ORDER BY id",
                    "SELECT id, state, version FROM milestones ORDER BY id",
                )
            )

    def remember(self) -> None:
        provider = self.balance(self.provider)
        self.owed_before, self.debt_before = provider.owed, provider.debt

    @invariant()
    def books_match(self) -> None:
        if not hasattr(self, "parts"):
            return
        assert self.tranche.unbalanced_entries() == []
        assert self.tranche.cached_mismatches() == []
        assert self.tranche.rail_findings() == []
        for part in self.parts:
            figures = self.tranche.milestone(part.id).summary
            assert figures.funded == figures.released + figures.refunded + figures.in_escrow
            assert figures.in_escrow >= 0
            assert figures.pending_funding == (part.amount if part.state == "pending" else 0)
            assert figures.charged_back == part.charged_back
        for party in (self.buyer, self.provider):
            owed = self.balance(party)
            assert owed.owed == owed.paid_out + owed.available + owed.pending + owed.in_flight
        provider = self.balance(self.provider)
        repaid = self.debt_before - provider.debt
        assert repaid <= max(0, provider.owed - self.owed_before), "a debt vanished uncredited"
        self.remember()


def test_rail_invariants_hold_after_every_step(tmp_path: Path, sqlite_template: Path) -> None:
    template = RailStory.template = tmp_path / "rail.db"
    shutil.copy(sqlite_template, template)
    database = Database(f"sqlite:///{template}")
    RailStory.policy = publish_variant(database, "held-two-days", "  payout_hold: 2d\n")
    database.dispose()
    # 40 examples of 30 steps, each step followed by the whole audit: about 25 s (the CI
    # profile's 500 would take five minutes, a third of the suite's budget).
    run_state_machine_as_test(RailStory, settings=settings(stateful_step_count=30, max_examples=40))
