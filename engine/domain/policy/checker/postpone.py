"""Notes for authors: deadlines that the party who loses by them can restart alone.

Not a violation by itself (the game of game.py decides whether a restart lets one
party hold the other's money forever), but a way to postpone a default outcome.
"""

from __future__ import annotations

from collections import deque

from engine.domain.policy.checker.results import Violation, line, trace
from engine.domain.policy.document import PREVIOUS
from engine.domain.policy.explorer import SYSTEM, Config, Edge, Graph
from engine.domain.policy.vocabulary import REFUND, RELEASE


def _alone(edge: Edge, party: str) -> bool:
    """The party's own step, not an acceptance of the other party's offer."""
    return edge.step.actor == party and dict(edge.step.args).get("offer_by") in (None, party)


def postponements(graph: Graph) -> list[Violation]:
    found: dict[tuple, Violation] = {}
    for config, edges in graph.edges.items():
        for timer in edges:
            if timer.step.actor != SYSTEM or not timer.leaves:
                continue
            kinds = {m.kind for m in timer.movements}
            for winner in [p for k, p in ((RELEASE, "provider"), (REFUND, "buyer")) if k in kinds]:
                loser = "buyer" if winner == "provider" else "provider"
                key = (config.state, timer.step.event, loser)
                cycle = None if key in found else _restart(graph, config, loser)
                if cycle:
                    how = ", ".join(str(e.step) for e in cycle)
                    message = (
                        f"the {loser} alone can restart the {timer.step.event!r} deadline "
                        f"of {config.state!r} ({how}) again and again, postponing what it "
                        f"gives the {winner}"
                    )
                    lines = trace(graph, config) + tuple(line(e) for e in cycle)
                    found[key] = Violation("postponement", message, config.state, lines)
    return list(found.values())


def _restart(graph: Graph, start: Config, party: str) -> list[Edge] | None:
    """The shortest run of `party`'s own steps that leaves `start`'s state and re-enters it."""
    queue: deque[tuple[Config, list[Edge]]] = deque([(start, [])])
    seen = {start}
    while queue:
        config, path = queue.popleft()
        for e in graph.edges[config]:
            if e.target is None or not _alone(e, party):
                continue
            if e.target.state == start.state:
                # A return to the previous state resumes its deadlines (engine/timers.py).
                if e.leaves and not (e.spec is not None and e.spec.target == PREVIOUS):
                    return [*path, e]
            elif e.target not in seen:
                seen.add(e.target)
                queue.append((e.target, [*path, e]))
    return None
