"""The checker's abstract milestone behaves like the real one.

For every state, escrow level and revision budget (left or spent) the checker
reaches under a policy, its shortest path replayed on the engine (SQLite) reaches the
same. Amounts are replayed by their meaning (part or all of the escrow *then*), since
the checker represents "part of the escrow" by one amount. If the model drifted from
the engine, the checker's proofs would be about some other machine.

Every counterexample of the unsafe library (tests/policies/) replays too, with the
opponent's strategy repeated twice: the engine takes each step to the same state and
escrow, and moves the same kinds of money.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import BUYER, PROVIDER
from engine.domain.actors import Actor
from engine.domain.decision import EventArgs
from engine.domain.errors import ForbiddenEventError
from engine.domain.policy.checker import TraceLine, check_policy
from engine.domain.policy.explorer import AMOUNT, PART, explore, level
from engine.domain.policy.loader import load_policy_file
from engine.domain.policy.machine import case_states
from engine.domain.policy.vocabulary import HOLD, REFUND, RELEASE
from engine.service.tranche import Tranche
from engine.store.models import PolicyVersion

ACTORS = {"buyer": BUYER, "provider": PROVIDER, "staff": Actor.staff("staff-1")}
UNSAFE = sorted((Path(__file__).parent / "policies").glob("*.yaml"))
ABSTRACT = {"none": 0, "part": PART, "all": AMOUNT}


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


def _store_unchecked(database, policy) -> None:
    """Store a version the way one stored before the checker guarded publishing."""
    with database.session() as session, session.begin():
        session.add(
            PolicyVersion(
                name=policy.name,
                version=policy.version,
                digest=policy.digest,
                document=policy.text,
                published_at=datetime.now(UTC),
            )
        )


def _moved(summary) -> tuple[int, int, int]:
    return summary.funded, summary.released, summary.refunded


def _replay(tranche: Tranche, milestone_id: str, line: TraceLine) -> None:
    before = tranche.milestone(milestone_id).summary
    args = {k: _real(v, ABSTRACT[line.escrow_before], before.in_escrow) for k, v in line.step.args}
    actor = ACTORS.get(line.step.actor) or Actor.system()
    tranche.fire(milestone_id, line.step.event, actor, EventArgs(**args))
    view = tranche.milestone(milestone_id)
    assert (view.state, level(view.summary.in_escrow)) == (line.target, line.escrow_after), line
    deltas = zip(_moved(view.summary), _moved(before), strict=True)
    kinds = {kind for kind, (a, b) in zip((HOLD, RELEASE, REFUND), deltas, strict=True) if a > b}
    assert kinds == {kind for kind, _ in line.movements}, line


@pytest.mark.parametrize("path", UNSAFE, ids=lambda p: p.stem)
def test_every_counterexample_of_the_unsafe_library_replays(sqlite_database, clock, path) -> None:
    policy = load_policy_file(path)
    result = check_policy(policy)
    assert not result.ok
    _store_unchecked(sqlite_database, policy)
    tranche = Tranche(sqlite_database, clock)
    stories = [v.trace + v.loop * 2 for v in result.violations if v.trace]
    contract = tranche.create_contract(
        buyer_id=BUYER.id,
        provider_id=PROVIDER.id,
        currency="USD",
        agreed_amount=AMOUNT * len(stories),
        title="Counterexamples",
        policy=policy.name,
    )
    cases = case_states(policy)
    for story in stories:
        milestone = tranche.add_milestone(contract.id, title=path.stem, amount=AMOUNT)
        for line in story:
            if line.step.actor == "staff" and line.movements:
                # Staff rule once the respondent's answer period ran out (the checker's
                # fairness assumption); outside any dispute the engine refuses them too.
                clock.advance(policy.dispute_response or timedelta(0))
                if line.source not in cases:
                    with pytest.raises(ForbiddenEventError, match="only in an open dispute"):
                        _replay(tranche, milestone.id, line)
                    break
            _replay(tranche, milestone.id, line)
