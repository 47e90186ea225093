"""Prove a policy safe, or refute it with the shortest counterexample.

The checker explores every reachable configuration of a milestone under the
policy (see policies/model.py) and checks the invariants of DESIGN.md on the
resulting graph, one module per kind of property:

- consent.py: **no unilateral refund** and its mirror **no unilateral release**
  (escrow reaches a party only by the other party's own act, a staff ruling, an
  accepted settlement, or a deadline the other party was told of and could object
  to), and **due process** (staff move money only in a dispute that one party's
  event opened, that told both parties, and in which the respondent can act);
- game.py: **no stranded money, even against a hostile counterparty**: from every
  configuration holding escrow, each party can force a final state or a staff
  ruling whatever the other does (a two-player game under stated fairness rules);
- here: **conservation** (every movement balances, fees included; nothing moves
  more than the escrow holds; escrow never exceeds the milestone amount; final
  states hold zero) and **structure** (every state reachable, no transition or
  timer into an undefined state, never two transitions enabled by one event for
  one actor, every timer leaves its state, no system transition no timer fires);
- postpone.py: notes (not violations) about deadlines one party can restart.

Exploration is breadth first, so each counterexample is a shortest one.
"""

from __future__ import annotations

import time

from engine.domain.policy.checker import consent
from engine.domain.policy.checker.game import Game
from engine.domain.policy.checker.postpone import postponements
from engine.domain.policy.checker.results import (
    PROPERTIES,
    CheckResult,
    TraceLine,
    Violation,
    line,
    trace,
)
from engine.domain.policy.document import PREVIOUS, SAME, Policy
from engine.domain.policy.explorer import SYSTEM, Config, Edge, Graph, explore

__all__ = ["PROPERTIES", "CheckResult", "TraceLine", "Violation", "check_policy"]


def check_policy(policy: Policy) -> CheckResult:
    """Explore the policy and check every invariant; never raises for an unsafe policy."""
    started = time.perf_counter()
    graph = explore(policy)
    violations = _Checker(graph).run()
    return CheckResult(
        policy=policy.name,
        version=policy.version,
        source=policy.source,
        configurations=len(graph.edges),
        steps=graph.steps,
        seconds=time.perf_counter() - started,
        violations=violations,
        warnings=postponements(graph),
    )


class _Checker:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.policy = graph.policy
        self.found: dict[tuple, Violation] = {}

    def run(self) -> list[Violation]:
        for config, edges in self.graph.edges.items():  # breadth-first order
            for edge in edges:
                self._edge(edge)
                consent.check_edge(self.graph, edge, self._add)
            self._timers(config, edges)
        for party in ("buyer", "provider"):
            self._stranded(party)
        self._static()
        return list(self.found.values())

    def _add(
        self,
        key: tuple,
        prop: str,
        message: str,
        config: Config | None,
        last: Edge | None = None,
    ) -> None:
        if key in self.found:
            return
        lines = () if config is None else trace(self.graph, config, *([last] if last else []))
        state = config.state if config is not None else None
        self.found[key] = Violation(prop, message, state, lines)

    def _edge(self, edge: Edge) -> None:
        where = (edge.source.state, edge.step.event, edge.step.actor)
        for problem in edge.problems:
            prop = "conservation" if problem.rule == "conservation" else "structure"
            message = f"{edge.step} from {edge.source.describe()}: {problem.message}"
            self._add((problem.rule, *where), prop, message, edge.source, edge)

    def _timers(self, config: Config, edges: list[Edge]) -> None:
        for edge in edges:
            if edge.step.actor == SYSTEM and not edge.leaves and not edge.problems:
                message = (
                    f"the timer {edge.step.event!r} of {config.state!r} does not leave it "
                    f"from {config.describe()}: the deadline passes and nothing happens"
                )
                self._add(("timer", config.state, edge.step.event), "structure", message, config)

    def _stranded(self, party: str) -> None:
        foe = consent.other(party)
        game = Game(self.graph, party)
        for trap in game.traps():
            answered = (
                f"each move the {party} has there is answered: {', '.join(trap.options)}"
                if trap.options
                else f"the {party} can do nothing there but give the escrow away"
                if trap.rest in game.conceding
                else f"the {party} can do nothing there"
            )
            message = (
                f"from {trap.start.describe()} the {foe} can keep the escrow in "
                f"{trap.rest.state!r} forever: the {party} has no way to a final state or a "
                f"staff ruling whatever the {foe} does ({answered})"
            )
            self.found[("stranded", party)] = Violation(
                "no_stranded_money",
                message,
                trap.rest.state,
                trace(self.graph, trap.start, *trap.approach),
                trap.cycle,
                tuple(line(e) for e in trap.loop),
            )

    def _static(self) -> None:
        """Problems visible in the document itself, whether or not a path reaches them."""
        defined = [s.name for s in self.policy.states]
        reached = {c.state for c in self.graph.edges}
        for name in defined:
            if name not in reached:
                message = f"state {name!r} is never reached from {self.policy.initial.name!r}"
                self._add(("unreachable", name), "structure", message, None)
        for spec in self.policy.transitions:
            if spec.target not in (*defined, SAME, PREVIOUS):
                key = ("defined", spec.sources[0], spec.event)
                message = (
                    f"transition #{spec.index} ({spec.event} from {', '.join(spec.sources)}) "
                    f"goes to undefined state {spec.target!r}"
                )
                if not any(k[0] == "defined" and k[2] == spec.event for k in self.found):
                    self._add(key, "structure", message, None)
        timed = {(t.state, t.event) for t in self.policy.timers}
        for spec in self.policy.transitions:
            for source in spec.sources:
                if SYSTEM in spec.actors and (source, spec.event) not in timed:
                    message = (
                        f"transition #{spec.index} lets the system send {spec.event!r} from "
                        f"{source!r}, but no timer of {source!r} fires it: a dead rule"
                    )
                    self._add(("dead", source, spec.event), "structure", message, None)
        for timer in self.policy.timers:
            if timer.state not in defined:
                message = f"timer {timer.event!r} belongs to undefined state {timer.state!r}"
                self._add(("timer_state", timer.state), "structure", message, None)
