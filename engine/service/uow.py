"""A unit of work: one database transaction; nothing is kept unless `commit` is called."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session

from engine.domain.clock import Clock, SystemClock, effective
from engine.domain.policy.document import Policy
from engine.store.db import Database
from engine.store.policy_store import get_policy
from engine.store.timers import Pending


class UnitOfWork:
    """One transaction; a `read_only` one may only read (see Database.session).

    On SQLite a read-only unit of work stays out of the writers' queue and refuses
    any write; use it wherever the transaction only reads.
    """

    def __init__(
        self, database: Database, clock: Clock | None = None, read_only: bool = False
    ) -> None:
        self.database = database
        self.clock = effective(clock or SystemClock())
        self.read_only = read_only
        self.session: Session
        self.held: list[object] = []
        """Rows a command loaded, kept alive for the unit of work: the session's identity
        map holds objects weakly, so without this a view read after the command would
        SELECT them again."""
        self.pending_timers: dict[str, list[Pending]] = {}
        """The pending timers of each milestone whose state a command here changed: exactly
        those it scheduled (leaving a state cancels its timers), so a view after the
        command knows the next deadline without a query."""

    def __enter__(self) -> UnitOfWork:
        self.session = self.database.session(self.read_only)
        self.held, self.pending_timers = [], {}
        if not self.read_only:  # a read-only session has begun already
            self.session.begin()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed and detaches the objects without
        # expiring them, so views read inside the unit of work stay readable after it.
        self.session.close()
        self.held, self.pending_timers = [], {}

    def commit(self) -> None:
        self.session.commit()

    def policy(self, name: str, version: int) -> Policy:
        """A published policy version, cached per database (versions never change)."""
        return get_policy(self.session, name, version, self.database.policy_cache)
