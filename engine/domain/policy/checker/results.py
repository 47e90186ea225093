"""What the checker answers: the properties, violations and their counterexamples."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.domain.policy.explorer import Config, Edge, Graph, Step, level

PROPERTIES = {
    "no_unilateral_refund": "no unilateral refund after funding",
    "no_unilateral_release": "no unilateral release to the provider",
    "no_stranded_money": "no stranded money, even against a hostile counterparty",
    "due_process": "due process before staff move money",
    "conservation": "conservation of money",
    "structure": "structure",
}


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


def line(edge: Edge) -> TraceLine:
    return TraceLine(
        step=edge.step,
        source=edge.source.state,
        target=edge.target.state if edge.target else (edge.spec.target if edge.spec else None),
        escrow_before=level(edge.source.escrow),
        escrow_after=level(edge.target.escrow) if edge.target else None,
        movements=tuple((m.kind, m.amount) for m in edge.movements),
    )


def trace(graph: Graph, config: Config, *last: Edge) -> tuple[TraceLine, ...]:
    """The shortest path to `config`, then the given steps."""
    lines = []
    for source, step in graph.path(config):
        edge = next(e for e in graph.edges[source] if e.step == step)
        lines.append(line(edge))
    return (*lines, *(line(e) for e in last))


@dataclass(frozen=True, slots=True)
class Violation:
    """One invariant broken, where, and the shortest sequence of steps that shows it.

    For a hostile counterparty, `trace` leads to where the opponent waits, and
    `strategy` is the opponent's winning answer to everything the party can do there.
    """

    property: str
    message: str
    state: str | None = None
    trace: tuple[TraceLine, ...] = ()
    strategy: tuple[str, ...] = ()
    loop: tuple[TraceLine, ...] = ()
    """The steps the opponent then repeats (with the timers they let fire), after `trace`."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "property": self.property,
            "message": self.message,
            "state": self.state,
            "counterexample": [t.as_dict() for t in self.trace],
            "strategy": list(self.strategy),
            "loop": [t.as_dict() for t in self.loop],
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
