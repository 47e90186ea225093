"""The checker's abstract milestone behaves like the real one.

For every state, escrow level and revision budget (left or spent) the checker
reaches under a policy, its shortest path replayed on the engine (SQLite) reaches the
same. Amounts are replayed by their meaning (part or all of the escrow *then*), since
the checker represents "part of the escrow" by one amount. If the model drifted from
the engine, the checker's proofs would be about some other machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import BUYER, PROVIDER
from engine.domain.actors import Actor
from engine.domain.decision import EventArgs
from engine.service.tranche import Tranche
from policies.loader import load_policy_file
from policies.model import AMOUNT, explore, level

ACTORS = {"buyer": BUYER, "provider": PROVIDER, "staff": Actor.staff("staff-1")}


def _real(value, abstract: int, escrow: int):
    """The amount that plays the same part of the real escrow as `value` of the abstract one."""
    if not isinstance(value, int) or value == 0:
        return value
    if value == abstract:
        return escrow
    return escrow // 2 if value == abstract // 2 else escrow - escrow // 2


@pytest.mark.parametrize("name", ["fixed-price", "deposit-upfront"])
def test_every_shortest_path_replays_on_the_engine(sqlite_database, clock, name: str) -> None:
    policy = load_policy_file(Path("policies") / f"{name}.yaml")
    graph = explore(policy)
    tranche = Tranche(sqlite_database, clock)
    configs = list(
        {(c.state, level(c.escrow), c.revisions): c for c in reversed(graph.edges)}.values()
    )
    contract = tranche.create_contract(
        buyer_id=BUYER.id,
        provider_id=PROVIDER.id,
        currency="USD",
        agreed_amount=AMOUNT * len(configs),
        title="Replay",
        policy=name,
    )
    for config in configs:
        milestone = tranche.add_milestone(contract.id, title=str(config), amount=AMOUNT)
        for before, step in graph.path(config):
            escrow = tranche.milestone(milestone.id).summary.in_escrow
            args = {k: _real(v, before.escrow, escrow) for k, v in step.args}
            actor = ACTORS.get(step.actor) or Actor.system()
            tranche.fire(milestone.id, step.event, actor, EventArgs(**args))
        view = tranche.milestone(milestone.id)
        assert (view.state, level(view.summary.in_escrow), view.revisions) == (
            config.state,
            level(config.escrow),
            config.revisions,
        ), graph.path(config)
