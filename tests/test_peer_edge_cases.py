"""Tranche's side of the peer benchmark's edge cases (bench/peer/edge_cases.py) stays true.

bench/peer_django.py runs the same table against Tranche and its Django peer before it
times them; here Tranche answers it alone, in process, so the table cannot drift from
what Tranche does. Django is not needed.
"""

from __future__ import annotations

from typing import Any

from bench.peer import edge_cases
from engine.domain.clock import FixedClock
from engine.store.db import Database
from web.api.auth import create_key
from web.app import create_app


def test_tranche_answers_the_edge_cases_as_the_table_says(
    database: Database, clock: FixedClock
) -> None:
    app = create_app({"DATABASE_URL": database.url, "AUTO_UPGRADE": False}, clock)
    keys = {"valid": create_key(database, "peer")[1], "other": create_key(database, "other")[1]}
    http = app.test_client()

    def send(path: str, headers: dict[str, str], body: bytes | None) -> tuple[Any, ...]:
        answer = http.post(path, headers=headers, data=body)
        return answer.status_code, {k.lower(): v for k, v in answer.headers.items()}, answer.data

    differences = edge_cases.differences({"Tranche": edge_cases.run_all(send, keys)})
    assert not differences, "\n".join(differences)


def test_the_table_covers_what_the_benchmark_promises() -> None:
    """The cases the peer benchmark's brief names are in the table, with Tranche's answers."""
    answers = {(call.status, call.problem) for case in edge_cases.CASES for call in case.calls}
    for answer in [
        (403, "not_a_party"),
        (404, "not_found"),
        (401, "unauthorized"),
        (409, "forbidden_event"),
        (422, "idempotency_mismatch"),
        (400, "malformed_request"),
        (422, "validation"),
        (422, "exceeds_agreed"),
    ]:
        assert answer in answers
    assert any(call.replays is not None for case in edge_cases.CASES for call in case.calls)
