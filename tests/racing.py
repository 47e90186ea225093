"""Commands lined up behind a barrier, one thread (and so one connection) each.

Each thread builds its own service object, so each command opens its own session on
its own pooled connection: on PostgreSQL they really run at once, on SQLite they
queue for the writer. The outcome of each is WON or the code of its refusal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from engine.domain.errors import TrancheError

WON = "won"


def outcome(command: Callable[[], object]) -> str:
    """WON, or the refusal's code; anything else is reported so the test fails on it."""
    try:
        command()
    except TrancheError as exc:
        return exc.code
    except Exception as exc:  # noqa: BLE001 - reported, and fails the test that reads it
        return f"unexpected {exc!r}"
    return WON


def race(commands: list[Callable[[], object]]) -> list[str]:
    """Run the commands at once, one thread each; their outcomes, in order."""
    barrier = threading.Barrier(len(commands))
    results = [""] * len(commands)

    def run(i: int, command: Callable[[], object]) -> None:
        barrier.wait(timeout=30)
        results[i] = outcome(command)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(commands)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results
