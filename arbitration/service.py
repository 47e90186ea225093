"""Arbitration as one object: one transaction per call, like `engine.service.Tranche`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from arbitration import audit, deadlines, disputes, quota, rulings, sessions, staff, throttle, views
from arbitration.errors import LoginRefusedError
from arbitration.evidence import EvidenceStore
from arbitration.models import Staff
from arbitration.settings import Settings
from engine.domain.clock import Clock
from engine.domain.errors import ValidationError
from engine.service.tranche import Service, conflicts_as_errors
from engine.service.uow import UnitOfWork
from engine.store.db import Database


class Arbitration(Service):
    def __init__(
        self, database: Database, clock: Clock | None = None, settings: Settings | None = None
    ) -> None:
        super().__init__(database, clock)
        self.settings = settings or Settings()
        self.store = EvidenceStore(self.settings)

    # parties ---------------------------------------------------------------------------
    def open(self, milestone_id: str, actor: Any, reason: str, **claim: Any) -> Any:
        return self.write(
            lambda u: disputes.open_dispute(u, milestone_id, actor, reason, self.settings, **claim)
        )

    def statement(self, dispute_id: str, actor: Any, body: str) -> Any:
        return self.write(
            lambda u: disputes.add_statement(u, dispute_id, actor, body, self.settings)
        )

    def evidence(self, dispute_id: str, actor: Any, **kw: Any) -> Any:
        return self.write(lambda u: quota.add_evidence(u, dispute_id, actor, self.settings, **kw))

    def offer(self, dispute_id: str, actor: Any, to_provider: int, to_buyer: int, note: str = ""):
        return self.write(
            lambda u: disputes.make_offer(
                u, dispute_id, actor, to_provider, to_buyer, self.settings, note
            )
        )

    def accept(self, dispute_id: str, offer_id: str, actor: Any) -> Any:
        return self.write(lambda u: disputes.accept_offer(u, dispute_id, offer_id, actor))

    def reject(self, dispute_id: str, offer_id: str, actor: Any) -> Any:
        return self.write(
            lambda u: disputes.reject_offer(u, dispute_id, offer_id, actor, self.settings)
        )

    def withdraw(self, dispute_id: str, actor: Any) -> Any:
        return self.write(lambda u: disputes.withdraw(u, dispute_id, actor))

    def party_view(self, dispute_id: str, actor: Any) -> dict[str, Any]:
        return self.read(lambda u: views.party_view(u, dispute_id, actor))

    # staff -----------------------------------------------------------------------------
    def create_staff(self, email: str, role: str, password: str) -> Staff:
        return self.write(lambda u: staff.create_staff(u, email, role, password))

    def login(self, email: str, password: str, address: str) -> Staff:
        """Failed attempts are committed too: they count towards the throttle."""
        with conflicts_as_errors(), self.unit_of_work() as uow:
            try:
                found = staff.authenticate(uow, email, password, address, self.settings)
            except LoginRefusedError:
                uow.commit()
                raise
            uow.commit()
            return found

    def staff(self, staff_id: str | None) -> Staff | None:
        return self.read(lambda u: staff.get_staff(u, staff_id))

    def start_session(self, who: Staff, address: str, lifetime: timedelta) -> str:
        """A console session for `who`; the token for the cookie."""
        return self.write(lambda u: sessions.start(u, who, address, lifetime))

    def session_staff(self, token: object) -> Staff | None:
        return self.read(lambda u: sessions.staff_of(u, token))

    def end_session(self, token: object, who: Staff, address: str) -> None:
        def command(u: UnitOfWork) -> None:
            sessions.end(u, token)
            audit.record(u.session, who.id, "logout", address, u.clock.now())

        self.write(command)

    # staff upkeep (the operator's `tranche staff ...`) -------------------------------------
    def reset_password(self, email: str, password: str) -> Staff:
        return self.write(lambda u: staff.reset_password(u, email, password))

    def unlock(self, email: str) -> Staff:
        return self.write(lambda u: staff.unlock(u, email))

    def deactivate(self, email: str) -> Staff:
        return self.write(lambda u: staff.deactivate(u, email))

    def set_role(self, email: str, role: str) -> Staff:
        return self.write(lambda u: staff.set_role(u, email, role))

    def claim(self, dispute_id: str, who: Staff, address: str, **expect: Any) -> Any:
        """`expected_version=`, `take_over_from=`: see `rulings.claim`."""
        return self.write(
            lambda u: rulings.claim(u, dispute_id, staff.acting(u, who), address, **expect)
        )

    def assign(self, dispute_id: str, who: Staff, assignee_id: str | None, address: str) -> Any:
        def command(u: UnitOfWork) -> Any:
            senior = staff.acting(u, who)
            assignee = staff.get_staff(u, assignee_id, lock=True) if assignee_id else None
            if assignee_id and assignee is None:
                raise ValidationError("no active staff member with that id", field="assignee")
            return rulings.assign(u, dispute_id, senior, assignee, address)

        return self.write(command)

    def note(self, dispute_id: str, who: Staff, body: str, address: str) -> Any:
        return self.write(
            lambda u: rulings.add_note(u, dispute_id, staff.acting(u, who), body, address)
        )

    def rule(
        self,
        dispute_id: str,
        who: Staff,
        to_provider: int,
        to_buyer: int,
        rationale: str,
        address: str,
        expected_version: int | None = None,
    ) -> Any:
        return self.write(
            lambda u: rulings.rule(
                u,
                dispute_id,
                staff.acting(u, who),
                to_provider,
                to_buyer,
                rationale,
                address,
                self.settings,
                expected_version,
            )
        )

    def approve(
        self, ruling_id: str, who: Staff, address: str, expected_version: int | None = None
    ) -> Any:
        return self.write(
            lambda u: rulings.approve(u, ruling_id, staff.acting(u, who), address, expected_version)
        )

    def decline(
        self,
        ruling_id: str,
        who: Staff,
        note: str,
        address: str,
        expected_version: int | None = None,
    ) -> Any:
        return self.write(
            lambda u: rulings.decline(
                u, ruling_id, staff.acting(u, who), note, address, expected_version
            )
        )

    def sweep(
        self, now: datetime | None = None, tenant: str | None = None
    ) -> list[deadlines.Lapsed]:
        """Disputes past their deadlines (of live tenants, or of one sandbox tenant); and,
        on the wall clock's sweep, forget stale sign-in counts and staff sessions."""
        if tenant is None:
            self.write(lambda u: (throttle.purge(u, self.settings), sessions.purge(u)))
        now = now or self.clock.now()
        return deadlines.sweep(self.database, self.settings, now, tenant=tenant)
