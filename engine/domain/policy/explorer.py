"""The abstract milestone a policy is checked on: every configuration, every step.

A *configuration* is what the engine's rules can see of a milestone: its state,
its escrow (none, part or all of the milestone amount), the revisions counter
(saturating at the policy's limit), and, only where the policy can tell them
apart, the state before this one (for `previous` targets), the role that entered
it (for `opener` / `other_party`, and in states where staff may move money, for due
process) and which parties that entry notified (in states with timers or staff moves).

A *step* is one event sent by one actor with representative arguments: amounts
of none, part and all of the escrow, and the splits 0/all, all/0 and part/part
offered by either party. The system acts only through the timers of the current
state, as `Tranche.sweep` does.

Each step is evaluated with the engine's own pieces: `actor_allowed` from
engine.domain.policy.machine, the guards and effects of its vocabulary on a `Facts`, and
`legs_for` of the ledger, so the checker and the engine cannot drift apart.
`explore` walks every reachable configuration breadth first, so the first path
found to anything is a shortest one.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from engine.domain.decision import EventArgs, Snapshot, decide
from engine.domain.errors import LedgerError, TrancheError
from engine.domain.ledger_legs import legs_for
from engine.domain.policy.document import PREVIOUS, Policy, TransitionSpec
from engine.domain.policy.machine import actor_allowed, enabled
from engine.domain.policy.vocabulary import (
    HOLD,
    PARTIES,
    REFUND,
    RELEASE,
    Facts,
    Movement,
)

NOW = datetime(2000, 1, 1, tzinfo=UTC)
"""The moment every step is decided at: the rules a policy gives never read the clock."""
AMOUNT = 10_000
"""The milestone amount the checker works with: divisible enough for basis points."""
PART = AMOUNT // 2
"""The representative of 'part of the escrow': any amount strictly between none and all."""
ROLES = ("buyer", "provider", "staff")
SYSTEM = "system"
KINDS = (HOLD, RELEASE, REFUND)


@dataclass(frozen=True, slots=True)
class Config:
    state: str
    escrow: int = 0
    revisions: int = 0
    previous: str | None = None
    opener: str | None = None
    notified: tuple[str, ...] = ()
    """The parties the entering transition notified (tracked where deadlines or staff act)."""

    def describe(self) -> str:
        return f"{self.state} (escrow {level(self.escrow)})"


def level(escrow: int) -> str:
    if escrow == 0:
        return "none"
    if escrow == AMOUNT:
        return "all"
    return "part" if 0 < escrow < AMOUNT else str(escrow)


@dataclass(frozen=True, slots=True)
class Step:
    """One event by one actor with its arguments: a line of a counterexample."""

    actor: str
    event: str
    args: tuple[tuple[str, Any], ...] = ()

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.args)
        return f"{self.actor} {self.event}" + (f" ({args})" if args else "")

    def as_dict(self) -> dict[str, Any]:
        return {"actor": self.actor, "event": self.event, "args": dict(self.args)}


@dataclass(frozen=True, slots=True)
class Fault:
    """A broken rule found while taking one step (conservation or determinism)."""

    rule: str
    message: str


@dataclass(slots=True)
class Edge:
    """A step taken from a configuration, and what it did."""

    source: Config
    step: Step
    spec: TransitionSpec | None
    target: Config | None
    movements: list[Movement] = field(default_factory=list)
    problems: list[Fault] = field(default_factory=list)

    @property
    def refunds(self) -> int:
        return sum(m.amount for m in self.movements if m.kind == REFUND)

    @property
    def releases(self) -> int:
        return sum(m.amount for m in self.movements if m.kind == RELEASE)

    @property
    def leaves(self) -> bool:
        return self.target is not None and self.target.state != self.source.state


@dataclass(slots=True)
class Graph:
    """Every reachable configuration, the steps out of each, and a shortest path to each."""

    policy: Policy
    initial: Config
    edges: dict[Config, list[Edge]] = field(default_factory=dict)
    parent: dict[Config, tuple[Config, Step] | None] = field(default_factory=dict)

    def path(self, config: Config) -> list[tuple[Config, Step]]:
        """The shortest sequence of (configuration before, step) that reaches `config`."""
        steps: list[tuple[Config, Step]] = []
        link = self.parent[config]
        while link is not None:
            steps.append(link)
            link = self.parent[link[0]]
        return steps[::-1]

    @property
    def steps(self) -> int:
        return sum(len(edges) for edges in self.edges.values())


def argument_sets(escrow: int) -> list[tuple[tuple[str, Any], ...]]:
    """Representative arguments: nothing; part or all of the escrow; the three splits."""
    found: dict[tuple[tuple[str, Any], ...], None] = {(): None}
    part = escrow // 2
    for amount in (part, escrow):
        if amount > 0:
            found[(("amount", amount),)] = None
    splits = {(0, escrow), (escrow, 0), (part, escrow - part)}
    for to_provider, to_buyer in sorted(splits):
        for offer_by in PARTIES:
            found[
                (("to_provider", to_provider), ("to_buyer", to_buyer), ("offer_by", offer_by))
            ] = None
    return list(found)


class Explorer:
    """Evaluates steps on configurations of one policy with the engine's own rules."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        specs = policy.transitions
        self.uses_previous = any(s.target == PREVIOUS for s in specs)
        self.uses_opener = any({"opener", "other_party"} & set(s.actors) for s in specs)
        self.timed = {t.state for t in policy.timers}
        self.staffed = {src for s in specs if "staff" in s.actors for src in s.sources}
        self.watched = self.timed | self.staffed
        """States whose entry matters: who entered them and whom the entry notified."""
        self.finals = {s.name for s in policy.states if s.final}
        self.defined = {s.name for s in policy.states}
        self.by_state: dict[str, dict[str, list[TransitionSpec]]] = {}
        for spec in specs:
            for source in spec.sources:
                self.by_state.setdefault(source, {}).setdefault(spec.event, []).append(spec)

    def initial(self) -> Config:
        return Config(self.policy.initial.name)

    def steps_from(self, config: Config) -> list[Edge]:
        """Every step any actor can take from `config` (refused ones are left out)."""
        edges: list[Edge] = []
        events = self.by_state.get(config.state, {})
        for role in ROLES:
            for event, specs in events.items():
                mine = [s for s in specs if actor_allowed(s.actors, role, config.opener)]
                if not mine:
                    continue
                for args in argument_sets(config.escrow):
                    edge = self.take(config, Step(role, event, args), mine)
                    if edge is not None:
                        edges.append(edge)
        for timer in self.policy.timers_for(config.state):
            specs = events.get(timer.event, [])
            edge = self.take(config, Step(SYSTEM, timer.event), specs)
            edges.append(edge or Edge(config, Step(SYSTEM, timer.event), None, None))
        return edges

    def facts(self, config: Config, step: Step) -> Facts:
        return Facts(
            milestone_amount=AMOUNT,
            escrow=config.escrow,
            actor_role=step.actor,
            revisions=config.revisions,
            revision_limit=self.policy.revision_limit,
            opener_role=config.opener,
            **dict(step.args),
        )

    def take(self, config: Config, step: Step, specs: list[TransitionSpec]) -> Edge | None:
        """The edge for `step`, or None when the policy refuses it: asked of `decide`, the
        function every command runs, on an abstract milestone of this configuration."""
        facts = self.facts(config, step)
        chosen = [
            a
            for a in enabled(self.policy, config.state, config.previous, step.event, facts)
            if a.spec in specs
        ]
        if not chosen:
            return None
        edge = Edge(config, step, chosen[0].spec, None)
        if len(chosen) > 1:
            others = ", ".join(f"#{a.spec.index} to {a.target}" for a in chosen)
            edge.problems.append(
                Fault("deterministic", f"{len(chosen)} transitions are enabled: {others}")
            )
        target = chosen[0].target
        if target not in self.defined:
            edge.problems.append(Fault("defined", f"fires into undefined state {target!r}"))
            return edge
        snapshot = Snapshot(
            state=config.state,
            amount=AMOUNT,
            escrow=config.escrow,
            revisions=config.revisions,
            previous_state=config.previous,
            entered_by=config.opener,
        )
        args = EventArgs(case_id="case", **dict(step.args))
        try:
            decision = decide(self.policy, snapshot, step.event, step.actor, args, NOW, True)
        except LedgerError as exc:  # a final state that would keep escrow
            edge.movements = [Movement(kind, amount) for kind, amount in exc.fields["movements"]]
            self._move(edge, config.escrow)  # how the escrow went wrong, if it did
            final = f"final state {exc.fields['state']!r} would hold {exc.fields['escrow']}"
            edge.problems.append(Fault("conservation", f"{final} in escrow"))
            return edge
        except TrancheError:
            return None
        edge.movements = decision.movements
        revisions = min(decision.revisions, self.policy.revision_limit)
        escrow = self._move(edge, config.escrow)
        if any(p.rule == "conservation" for p in edge.problems):
            return edge
        edge.target = self._next(config, step, decision.spec, decision.target, escrow, revisions)
        return edge

    def _move(self, edge: Edge, escrow: int) -> int:
        """Apply the movements to the escrow, recording every way they break conservation."""
        fee_bps = self.policy.platform_fee_bps
        for m in edge.movements:
            if m.kind not in KINDS or isinstance(m.amount, bool) or not isinstance(m.amount, int):
                edge.problems.append(Fault("conservation", f"unknown movement {m!r}"))
                continue
            if m.amount < 0:
                edge.problems.append(Fault("conservation", f"a negative {m.kind} of {m.amount}"))
            legs = legs_for(m, fee_bps)
            if sum(leg.amount for leg in legs) != 0:
                edge.problems.append(Fault("conservation", f"the {m.kind} legs do not balance"))
            if any(leg.amount < 0 for leg in legs[1:]):
                edge.problems.append(
                    Fault("conservation", f"the fee on a {m.kind} of {m.amount} exceeds it")
                )
            if m.kind == HOLD:
                escrow += m.amount
            elif m.amount > escrow:
                edge.problems.append(
                    Fault(
                        "conservation",
                        f"a {m.kind} of {m.amount} out of an escrow of {escrow} "
                        f"creates {m.amount - escrow} from nothing",
                    )
                )
                escrow -= m.amount
            else:
                escrow -= m.amount
        if escrow > AMOUNT:
            edge.problems.append(
                Fault(
                    "conservation",
                    f"escrow would hold {escrow}, more than the milestone amount {AMOUNT}: "
                    "the buyer is charged twice",
                )
            )
        return escrow

    def _next(
        self,
        config: Config,
        step: Step,
        spec: TransitionSpec,
        target: str,
        escrow: int,
        revisions: int,
    ) -> Config:
        escrow = escrow if escrow in (0, AMOUNT) else PART
        if target == config.state:
            return replace(config, escrow=escrow, revisions=revisions)
        return Config(
            state=target,
            escrow=escrow,
            revisions=revisions,
            previous=config.state if self.uses_previous else None,
            opener=step.actor if self.uses_opener or target in self.staffed else None,
            notified=tuple(p for p in PARTIES if p in spec.notify)
            if target in self.watched
            else (),
        )


def explore(policy: Policy) -> Graph:
    """Every configuration reachable from the initial one, breadth first."""
    explorer = Explorer(policy)
    start = explorer.initial()
    graph = Graph(policy, start, parent={start: None})
    queue = deque([start])
    while queue:
        config = queue.popleft()
        edges = graph.edges[config] = explorer.steps_from(config)
        for edge in edges:
            if edge.target is not None and edge.target not in graph.parent:
                graph.parent[edge.target] = (config, edge.step)
                queue.append(edge.target)
    return graph
