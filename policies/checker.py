"""Prove a policy safe, or refute it with the shortest counterexample.

The checker explores every reachable configuration of a milestone under the
policy (see policies/model.py) and checks the invariants of DESIGN.md on the
resulting graph:

- **no unilateral refund**: escrow reaches the buyer only by the provider's own
  act, a staff ruling, an accepted settlement (a transition guarded by
  `offer_from_other_party`), or a system timer in a state whose entry notified
  the provider and from which the provider could object (leave the state
  without refunding: submit, dispute...);
- **no stranded money**: from every configuration holding escrow, the buyer
  alone and the provider alone can each reach a final state, counting system
  timers and staff rulings (which a dispute asks for), but not accepting a
  settlement (that needs the other party's offer);
- **conservation**: every movement balances, fees included; no movement takes
  more than the escrow holds; escrow never exceeds the milestone amount; every
  final state holds zero escrow;
- **structure**: every state reachable, no transition or timer into an
  undefined state, never two transitions enabled by one event for one actor,
  every timer leaves its state, no system transition that no timer fires (the
  system acts only through timers, as `Tranche.sweep` does).

Exploration is breadth first, so each counterexample is a shortest one.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from engine.rules import REFUND, RELEASE
from policies.document import PREVIOUS, SAME, Policy
from policies.model import SYSTEM, Config, Edge, Graph, Step, explore, level

PROPERTIES = {
    "no_unilateral_refund": "no unilateral refund after funding",
    "no_stranded_money": "no stranded money",
    "conservation": "conservation of money",
    "structure": "structure",
}
SETTLEMENT_GUARD = "offer_from_other_party"


@dataclass(frozen=True, slots=True)
class TraceLine:
    """One step of a counterexample and what it did to the milestone."""

    step: Step
    source: str
    target: str | None
    escrow_before: str
    escrow_after: str | None
    movements: tuple[tuple[str, int], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.step.as_dict(),
            "from": self.source,
            "to": self.target,
            "escrow_before": self.escrow_before,
            "escrow_after": self.escrow_after,
            "movements": [{"kind": k, "amount": a} for k, a in self.movements],
        }


@dataclass(frozen=True, slots=True)
class Violation:
    """One invariant broken, where, and the shortest sequence of steps that shows it."""

    property: str
    message: str
    state: str | None = None
    trace: tuple[TraceLine, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "property": self.property,
            "message": self.message,
            "state": self.state,
            "counterexample": [line.as_dict() for line in self.trace],
        }


@dataclass(slots=True)
class CheckResult:
    policy: str
    version: int
    source: str
    configurations: int
    steps: int
    seconds: float
    violations: list[Violation] = field(default_factory=list)
    warnings: list[Violation] = field(default_factory=list)
    """Not unsafe, but worth an author's attention (deadlines one party can postpone)."""

    @property
    def ok(self) -> bool:
        return not self.violations

    def of(self, prop: str) -> list[Violation]:
        return [v for v in self.violations if v.property == prop]

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.source,
            "policy": self.policy,
            "version": self.version,
            "ok": self.ok,
            "configurations": self.configurations,
            "steps": self.steps,
            "seconds": round(self.seconds, 4),
            "properties": {
                name: {"ok": not self.of(name), "title": title}
                for name, title in PROPERTIES.items()
            },
            "violations": [v.as_dict() for v in self.violations],
            "warnings": [v.as_dict() for v in self.warnings],
        }


def check_policy(policy: Policy) -> CheckResult:
    """Explore the policy and check every invariant; never raises for an unsafe policy."""
    started = time.perf_counter()
    graph = explore(policy)
    checker = _Checker(graph)
    violations = checker.run()
    return CheckResult(
        policy=policy.name,
        version=policy.version,
        source=policy.source,
        configurations=len(graph.edges),
        steps=graph.steps,
        seconds=time.perf_counter() - started,
        violations=violations,
        warnings=checker.postponements(),
    )


def _line(edge: Edge) -> TraceLine:
    return TraceLine(
        step=edge.step,
        source=edge.source.state,
        target=edge.target.state if edge.target else (edge.spec.target if edge.spec else None),
        escrow_before=level(edge.source.escrow),
        escrow_after=level(edge.target.escrow) if edge.target else None,
        movements=tuple((m.kind, m.amount) for m in edge.movements),
    )


def _alone(step: Step, party: str) -> bool:
    """Could `party` take this step without the other party: by itself, a timer or staff?

    Accepting a settlement offered by the other party needs that party, so it does not count.
    """
    offer_by = dict(step.args).get("offer_by")
    return step.actor in (party, SYSTEM, "staff") and offer_by in (None, party)


class _Checker:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.policy = graph.policy
        self.found: dict[tuple, Violation] = {}

    def run(self) -> list[Violation]:
        for config, edges in self.graph.edges.items():  # breadth-first order
            for edge in edges:
                self._edge(edge)
            self._timers(config, edges)
        for party in ("buyer", "provider"):
            self._stranded(party)
        self._static()
        return list(self.found.values())

    def _trace(self, config: Config, last: Edge | None = None) -> tuple[TraceLine, ...]:
        lines = []
        for source, step in self.graph.path(config):
            edge = next(e for e in self.graph.edges[source] if e.step == step)
            lines.append(_line(edge))
        if last is not None:
            lines.append(_line(last))
        return tuple(lines)

    def _add(self, key: tuple, prop: str, message: str, config: Config | None, last=None) -> None:
        if key in self.found:
            return
        trace = self._trace(config, last) if config is not None else ()
        state = config.state if config is not None else None
        self.found[key] = Violation(prop, message, state, trace)

    def _edge(self, edge: Edge) -> None:
        where = (edge.source.state, edge.step.event, edge.step.actor)
        for problem in edge.problems:
            prop = "conservation" if problem.rule == "conservation" else "structure"
            message = f"{edge.step} from {edge.source.describe()}: {problem.message}"
            self._add((problem.rule, *where), prop, message, edge.source, edge)
        if edge.refunds and not self._consented(edge):
            message = (
                f"'{edge.step.actor} {edge.step.event}' sends {edge.refunds} of escrow back to "
                f"the buyer from {edge.source.state!r} without the provider's consent, a "
                "settlement, a staff ruling, or a deadline the provider was told of and could "
                "object to"
            )
            self._add(("refund", *where), "no_unilateral_refund", message, edge.source, edge)

    def _consented(self, edge: Edge) -> bool:
        actor = edge.step.actor
        if actor in ("provider", "staff"):
            return True
        if edge.spec is not None and SETTLEMENT_GUARD in edge.spec.guards:
            return True
        return actor == SYSTEM and edge.source.notified and self._can_object(edge.source)

    def _can_object(self, config: Config) -> bool:
        """The provider can leave this configuration without giving the escrow back."""
        return any(
            e.step.actor == "provider" and e.leaves and not e.refunds
            for e in self.graph.edges[config]
        )

    def _timers(self, config: Config, edges: list[Edge]) -> None:
        for edge in edges:
            if edge.step.actor == SYSTEM and not edge.leaves and not edge.problems:
                message = (
                    f"the timer {edge.step.event!r} of {config.state!r} does not leave it "
                    f"from {config.describe()}: the deadline passes and nothing happens"
                )
                self._add(("timer", config.state, edge.step.event), "structure", message, config)

    def _reach_final(self, party: str) -> set[Config]:
        """Configurations from which `party` alone (with timers and staff) reaches a final one."""
        finals = {s.name for s in self.policy.states if s.final}
        into: dict[Config, list[Config]] = {}
        for config, edges in self.graph.edges.items():
            for e in edges:
                if e.target is not None and _alone(e.step, party):
                    into.setdefault(e.target, []).append(config)
        good = {c for c in self.graph.edges if c.state in finals}
        queue = deque(good)
        while queue:
            for before in into.get(queue.popleft(), []):
                if before not in good:
                    good.add(before)
                    queue.append(before)
        return good

    def _stranded(self, party: str) -> None:
        good = self._reach_final(party)
        for config in self.graph.edges:
            if config.escrow > 0 and config not in good:
                moves = sorted(
                    {
                        f"{e.step.event} -> {e.target.state}"
                        for e in self.graph.edges[config]
                        if e.target is not None
                        and _alone(e.step, party)
                        and e.step.actor != "staff"
                    }
                )
                message = (
                    f"from {config.describe()} the {party} alone can never reach a final "
                    f"state: the escrow is stranded (the {party}'s moves there: "
                    f"{', '.join(moves) or 'none'})"
                )
                self._add(("stranded", party, config.state), "no_stranded_money", message, config)

    def postponements(self) -> list[Violation]:
        """Deadlines the party who loses by them can restart alone, by leaving and coming back.

        Not a broken invariant (someone must keep acting, and a dispute stays open to
        the other party), but a way to postpone the other party's default outcome.
        """
        found: dict[tuple, Violation] = {}
        for config, edges in self.graph.edges.items():
            for timer in edges:
                if timer.step.actor != SYSTEM or not timer.leaves:
                    continue
                kinds = {m.kind for m in timer.movements}
                for winner in [
                    p for k, p in ((RELEASE, "provider"), (REFUND, "buyer")) if k in kinds
                ]:
                    loser = "buyer" if winner == "provider" else "provider"
                    key = (config.state, timer.step.event, loser)
                    cycle = None if key in found else self._restart(config, loser)
                    if cycle:
                        how = ", ".join(str(e.step) for e in cycle)
                        message = (
                            f"the {loser} alone can restart the {timer.step.event!r} deadline "
                            f"of {config.state!r} ({how}) again and again, postponing what it "
                            f"gives the {winner}"
                        )
                        trace = self._trace(config) + tuple(_line(e) for e in cycle)
                        found[key] = Violation("postponement", message, config.state, trace)
        return list(found.values())

    def _restart(self, start: Config, party: str) -> list[Edge] | None:
        """The shortest run of `party`'s own steps that leaves `start`'s state and re-enters it."""
        queue: deque[tuple[Config, list[Edge]]] = deque([(start, [])])
        seen = {start}
        while queue:
            config, path = queue.popleft()
            for e in self.graph.edges[config]:
                if e.target is None or e.step.actor != party or not _alone(e.step, party):
                    continue
                if e.target.state == start.state:
                    # A return to the previous state resumes its deadlines (engine/timers.py).
                    if e.leaves and not (e.spec is not None and e.spec.target == PREVIOUS):
                        return [*path, e]
                elif e.target not in seen:
                    seen.add(e.target)
                    queue.append((e.target, [*path, e]))
        return None

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
