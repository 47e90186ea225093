"""Ids sort by when they were made (so B-trees on them grow at one edge) and stay
unguessable (64 random bits after the time)."""

from __future__ import annotations

import time

from engine.store.models import new_id


def test_ids_made_later_sort_later_and_never_repeat() -> None:
    made = []
    for _ in range(5):
        made.append(new_id("ms"))
        time.sleep(0.002)
    assert made == sorted(made)
    burst = {new_id("ms") for _ in range(10_000)}
    assert len(burst) == 10_000


def test_an_id_is_its_kind_then_time_then_chance() -> None:
    before = time.time_ns() // 1_000_000
    kind, _, rest = new_id("ct").partition("_")
    after = time.time_ns() // 1_000_000
    assert kind == "ct"
    assert len(rest) == 28
    assert set(rest) <= set("0123456789abcdef")
    assert before <= int(rest[:12], 16) <= after
