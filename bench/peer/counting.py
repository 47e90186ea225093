"""Statements per request of a lifecycle, counted alike on both sides of the peer benchmark.

Standard library only: bench/peer_django.py runs it against Tranche in its own process
(as `bench.peer.counting`), and the peer's `count_statements` command against Django in
the peer's virtualenv (as `counting`, from bench/peer where manage.py runs). Each side
hooks its framework's statements and counts them with `Tally.count`.
"""

from __future__ import annotations

import collections
import secrets
from collections.abc import Callable
from typing import Any

Post = Callable[[str, dict[str, Any], dict[str, str]], tuple[int, Any]]
"""POST a path with a JSON body and headers; the answer's status and its parsed body."""


class Tally:
    """Statements by their first words, into the kind of request being sent right now."""

    def __init__(self) -> None:
        self.counts = {"transitions": collections.Counter(), "creations": collections.Counter()}
        self.into: collections.Counter[str] | None = None

    def count(self, sql: str) -> None:
        if self.into is not None:
            self.into[" ".join(sql.split()[:3])[:60]] += 1

    def lifecycles(self, post: Post, lifecycles: int, warm: int = 5) -> dict[str, Any]:
        """`warm` lifecycles uncounted (caches), then `lifecycles` counted: a contract with
        its milestone, then fund, submit and approve with an Idempotency-Key each. Returns
        the statements of each kind per transition and per creation."""
        for n in range(warm + lifecycles):
            counted = n >= warm
            body = {
                "buyer_id": f"b{n}",
                "provider_id": f"p{n}",
                "currency": "USD",
                "agreed_amount": 10_000,
                "title": "count",
                "milestones": [{"title": "m", "amount": 10_000}],
            }
            self.into = self.counts["creations"] if counted else None
            status, created = post("/v1/contracts", body, {})
            assert status == 201, created
            milestone = created["milestones"][0]["id"]
            self.into = self.counts["transitions"] if counted else None
            for event, actor in (("fund", f"b{n}"), ("submit", f"p{n}"), ("approve", f"b{n}")):
                headers = {"Tranche-Actor": actor, "Idempotency-Key": secrets.token_hex(8)}
                status, answer = post(f"/v1/milestones/{milestone}/events/{event}", {}, headers)
                assert status == 200, answer
            self.into = None
        per = {"transitions": 3 * lifecycles, "creations": lifecycles}
        return {
            name: {kind: n / per[name] for kind, n in counts.items()}
            for name, counts in self.counts.items()
        }
