"""The service layer's front door: one method per command, one transaction per call.

Each method opens a unit of work, runs one command from `contracts` or
`milestones`, and commits. Callers that must add their own rows to the same
transaction (the HTTP layer's idempotency records) use those functions directly
inside `unit_of_work()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from engine.domain.actors import Actor
from engine.domain.clock import Clock, SystemClock
from engine.domain.decision import EventArgs
from engine.domain.errors import ConflictError, TrancheError
from engine.domain.liability import Aging, Liability
from engine.domain.rail import PartyBalance
from engine.domain.statement import Statement
from engine.domain.summary import Mismatch, Summary
from engine.service import (
    chargebacks,
    contracts,
    fundings,
    milestones,
    payouts,
    reports,
    statements,
)
from engine.service.fundings import Charge
from engine.service.milestones import MilestoneView
from engine.service.uow import UnitOfWork
from engine.store.db import Database, is_unavailable
from engine.store.events import ChainBreak, verify_chain
from engine.store.ledger import unbalanced_entries
from engine.store.models import (
    Chargeback,
    Contract,
    Event,
    Funding,
    Milestone,
    PaymentRequest,
    Payout,
)
from engine.store.rail_audit import rail_findings
from engine.store.summaries import cached_mismatches, contract_summary
from engine.store.timers import DONE, VOID, Fired, claim_due

T = TypeVar("T")


@contextmanager
def conflicts_as_errors() -> Iterator[None]:
    """A lost race surfaces from the database in several shapes; all mean ConflictError.

    A database that is unreachable is no race: that error goes up as it is.
    """
    try:
        yield
    except (StaleDataError, IntegrityError, OperationalError) as exc:
        if isinstance(exc, OperationalError) and is_unavailable(exc):
            raise
        raise ConflictError(
            "another command changed this record first; nothing was applied; "
            "read it again and retry",
            cause=type(exc).__name__,
        ) from exc


class Service:
    """One transaction per call: `write` commits its command, `read` only reads.

    The engine's `Tranche` and arbitration's `Arbitration` are both built on it.
    """

    def __init__(self, database: Database, clock: Clock | None = None) -> None:
        self.database = database
        self.clock = clock or SystemClock()

    def unit_of_work(self, read_only: bool = False) -> UnitOfWork:
        return UnitOfWork(self.database, self.clock, read_only)

    def reading(self) -> UnitOfWork:
        """A unit of work that only reads: on SQLite it never waits for a writer."""
        return self.unit_of_work(read_only=True)

    def write(self, command: Callable[[UnitOfWork], T]) -> T:
        with conflicts_as_errors(), self.unit_of_work() as uow:
            result = command(uow)
            uow.commit()
            return result

    def read(self, query: Callable[[UnitOfWork], T]) -> T:
        with self.reading() as uow:
            result = query(uow)
            # Detach what was loaded before the closing rollback, which would expire it.
            uow.session.expunge_all()
            return result


class Tranche(Service):
    """The engine as one object: built from a Database and a Clock, nothing global."""

    # contracts -----------------------------------------------------------------------
    def create_contract(self, **fields: Any) -> Contract:
        return self.write(lambda uow: contracts.create_contract(uow, **fields))

    def add_milestone(self, contract_id: str, **fields: Any) -> Milestone:
        return self.write(lambda uow: contracts.add_milestone(uow, contract_id, **fields))

    def pay_directly(self, contract_id: str, **fields: Any) -> None:
        self.write(lambda uow: contracts.pay_directly(uow, contract_id, **fields))

    def request_payment(self, contract_id: str, **fields: Any) -> PaymentRequest:
        return self.write(lambda uow: contracts.request_payment(uow, contract_id, **fields))

    def decide_payment_request(self, request_id: str, **fields: Any) -> PaymentRequest:
        return self.write(lambda uow: contracts.decide_payment_request(uow, request_id, **fields))

    def contract(self, contract_id: str, tenant: str | None = None) -> Contract:
        return self.read(lambda uow: contracts.get_contract(uow, contract_id, tenant))

    def summary(self, contract_id: str, tenant: str | None = None) -> Summary:
        return self.read(
            lambda uow: contract_summary(
                uow.session, contracts.get_contract(uow, contract_id, tenant)
            )
        )

    def statement(
        self, contract_id: str, tenant: str | None = None, party: str | None = None
    ) -> Statement:
        """Every movement of the contract in order, with the running balances after each."""
        return self.read(lambda uow: statements.statement(uow, contract_id, tenant, party))

    def milestones_of(self, contract_id: str, tenant: str | None = None) -> list[Milestone]:
        def query(uow: UnitOfWork) -> list[Milestone]:
            contracts.get_contract(uow, contract_id, tenant)
            return list(
                uow.session.scalars(
                    select(Milestone)
                    .where(Milestone.contract_id == contract_id)
                    .order_by(Milestone.position)
                )
            )

        return self.read(query)

    # milestones ----------------------------------------------------------------------
    def fire(
        self,
        milestone_id: str,
        event: str,
        actor: Actor,
        args: EventArgs | None = None,
        **options: Any,
    ) -> Event:
        return self.write(
            lambda uow: milestones.fire_event(uow, milestone_id, event, actor, args, **options)
        )

    def milestone(
        self, milestone_id: str, actor: Actor | None = None, tenant: str | None = None
    ) -> MilestoneView:
        return self.read(lambda uow: milestones.view_milestone(uow, milestone_id, actor, tenant))

    def history(self, milestone_id: str, tenant: str | None = None) -> list[Event]:
        return self.read(lambda uow: milestones.history(uow, milestone_id, tenant))

    # money at the rail ---------------------------------------------------------------
    def fund_confirmed(
        self, milestone_id: str, event: str, actor: Actor, charge: Charge, **options: Any
    ) -> Funding:
        return self.write(
            lambda uow: fundings.fund_confirmed(uow, milestone_id, event, actor, charge, **options)
        )

    def open_funding(self, milestone_id: str, event: str, actor: Actor, **options: Any) -> Funding:
        return self.write(
            lambda uow: fundings.open_funding(uow, milestone_id, event, actor, **options)
        )

    def confirm_funding(self, funding_id: str, charge: Charge, **options: Any) -> Funding:
        return self.write(lambda uow: fundings.confirm_funding(uow, funding_id, charge, **options))

    def fail_funding(self, funding_id: str, reason: str, **options: Any) -> Funding:
        return self.write(lambda uow: fundings.fail_funding(uow, funding_id, reason, **options))

    def record_payout(self, **fields: Any) -> Payout:
        return self.write(lambda uow: payouts.record_payout(uow, **fields))

    def settle_payout(self, payout_id: str, paid: bool, **options: Any) -> Payout:
        return self.write(lambda uow: payouts.settle_payout(uow, payout_id, paid, **options))

    def reverse_payout(self, payout_id: str, reversed_total: int, **options: Any) -> Payout:
        return self.write(
            lambda uow: payouts.reverse_payout(uow, payout_id, reversed_total, **options)
        )

    def report_chargeback(self, **fields: Any) -> Chargeback:
        return self.write(lambda uow: chargebacks.report_chargeback(uow, **fields))

    def close_chargeback(self, chargeback_id: str, won: bool, **options: Any) -> Chargeback:
        return self.write(
            lambda uow: chargebacks.close_chargeback(uow, chargeback_id, won, **options)
        )

    def balances(self, tenant: str, party_id: str) -> list[PartyBalance]:
        return self.read(lambda uow: payouts.balances_of(uow, tenant, party_id))

    def due_now(self, tenant: str, currency: str | None = None) -> list[PartyBalance]:
        return self.read(lambda uow: payouts.due_now(uow, tenant, currency))

    def liability(self, as_of: str | None, tenant: str | None) -> reports.Report[Liability]:
        return self.read(lambda uow: reports.liability(uow, as_of, tenant))

    def aging(self, as_of: str | None, tenant: str | None) -> reports.Report[Aging]:
        return self.read(lambda uow: reports.aging(uow, as_of, tenant))

    def settle_rail(
        self, now: datetime | None = None, tenant: str | None = None
    ) -> tuple[list[str], list[int]]:
        """Expire the pending fundings past their deadline and make the credits whose hold
        ran out available, each in its own transaction (for live tenants, or one sandbox
        tenant); return what was done."""
        now = now or self.clock.now()
        expired = [
            funding_id
            for funding_id in self.read(lambda uow: fundings.expiring(uow, now, tenant))
            if self._quietly(partial(fundings.expire, funding_id=funding_id))
        ]
        matured = [
            hold_id
            for hold_id in self.read(lambda uow: payouts.maturing(uow, now, tenant))
            if self._quietly(partial(payouts.mature, hold_id=hold_id, now=now))
        ]
        return expired, matured

    def _quietly(self, command: Callable[[UnitOfWork], Any]) -> bool:
        """Run a sweep step; one that lost a race (settled by someone else first) is skipped."""
        try:
            return self.write(command) is not False
        except ConflictError:
            return False

    # timers and audit ----------------------------------------------------------------
    def sweep(
        self, now: datetime | None = None, limit: int | None = None, tenant: str | None = None
    ) -> list[Fired]:
        """Fire every timer due at `now`, one per transaction; safe beside other sweepers.
        Live tenants' timers, or those of one sandbox tenant (`tenant`, by its test clock).

        A timer whose milestone is busy (a command or another sweeper holds it), or
        whose transaction loses a race, is passed over in this round, never lost: it
        stays pending for the next sweep.
        """
        now = now or self.clock.now()
        fired: list[Fired] = []
        passed: set[int] = set()
        while limit is None or len(fired) < limit:
            try:
                with conflicts_as_errors(), self.unit_of_work() as uow:
                    timer = claim_due(uow.session, now, passed, tenant)
                    if timer is None:
                        return fired
                    passed.add(timer.id)
                    try:
                        with uow.session.begin_nested():
                            event = milestones.fire_event(
                                uow, timer.milestone_id, timer.event, Actor.system(), now=now
                            )
                        outcome, timer.status = str(event.to_state), DONE
                    except ConflictError:
                        raise
                    except TrancheError as exc:
                        outcome, timer.status = f"void: {exc.message}", VOID
                    timer.finished_at = now
                    uow.commit()
                    fired.append(Fired(timer.id, timer.milestone_id, timer.event, outcome))
            except ConflictError:
                continue  # lost to a concurrent command: still pending, next round
        return fired

    def verify(self, contract_id: str | None = None) -> list[ChainBreak]:
        return self.read(lambda uow: verify_chain(uow.session, contract_id))

    def unbalanced_entries(self) -> list[int]:
        return self.read(lambda uow: unbalanced_entries(uow.session))

    def cached_mismatches(self) -> list[Mismatch]:
        return self.read(lambda uow: cached_mismatches(uow.session))

    def rail_findings(self) -> list[str]:
        return self.read(lambda uow: rail_findings(uow.session))

    def events_of(self, contract_id: str) -> list[Event]:
        return self.read(
            lambda uow: list(
                uow.session.scalars(
                    select(Event).where(Event.contract_id == contract_id).order_by(Event.seq)
                )
            )
        )
