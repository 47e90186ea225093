"""No stranded money, even against a hostile counterparty: a two-player game.

From every configuration holding escrow, each party P must be able to force a final
state or a staff ruling whatever its opponent O does. The game is played on the
configuration graph under these fairness assumptions (README, "What the checker
proves"):

- a party acts only through the policy's transitions, at any moment it likes; O wins
  every race, so O may chain moves instantly (withdraw a dispute and open a new one)
  before P can answer;
- time passes only while someone waits. P can act in any configuration where O waits,
  and O must wait somewhere again and again: it cannot act infinitely often in no time;
- a timer fires when its state was entered and nobody acted for its whole period; a
  state left and entered again starts its deadlines afresh, except on a return to
  `previous`, which resumes them (engine/timers.py), and a step that stays in the state
  leaves them running;
- staff rule a dispute that stays open past its answer period, and only in a dispute
  that passes due process (see consent.hearing_fault);
- giving the money away is no way out: P's own steps that pay O do not count, and a
  deadline that pays O is a loss for P (it means P's objection was worthless); accepting
  O's settlement offer needs O to offer, so it is O's choice, not P's.

Positions are (configuration, turn): O to act (instantly, or wait), P to act while O
waits (or wait too), and O again once both waited (leave, or let a fair move happen:
a timer or a ruling, O choosing which, or nothing at all if the state has none). O wins
a play that never reaches a final state or a ruling and in which O waits infinitely
often: a Büchi objective, solved by the standard nested fixpoint
νZ. μY. CPre_O(Y) ∪ (Waits ∩ CPre_O(Z)), each μ an attractor computed backwards in
time linear in the game. O's winning strategy is read off the attractors.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from engine.domain.policy.checker.consent import hearing_fault, other, paid_away, rules
from engine.domain.policy.document import PREVIOUS
from engine.domain.policy.explorer import SYSTEM, Config, Edge, Graph

WIN = -1
"""A final state or a staff ruling: P's goal, a position with no successor."""
O_TURN, P_TURN, WAITED = range(3)
Key = tuple[Config, int, str | None]


@dataclass(frozen=True, slots=True)
class Trap:
    """Where P loses: the losing configuration, O's instant moves to where it waits, the cycle."""

    start: Config
    approach: tuple[Edge, ...]
    rest: Config
    cycle: tuple[str, ...]
    """O's strategy from `rest` on, in words."""
    loop: tuple[Edge, ...]
    """The steps of O's strategy after it first waits, until it repeats itself."""
    options: tuple[str, ...]
    """P's moves where O waits; every one of them is answered."""


class Game:
    """The game of one party P (whose escrow is at stake) against its opponent O.

    A position is (configuration, turn, paused): turn is O to act, P to act while O
    waits, or both having waited (the state's deadlines running); `paused` names the
    state whose running deadlines O interrupted by stepping out, which a return to
    `previous` resumes (engine/timers.py) instead of restarting. Position 0 is O
    waiting forever (or a deadline paying O); WIN is P's goal.
    """

    def __init__(self, graph: Graph, party: str) -> None:
        self.graph, self.party, self.foe = graph, party, other(party)
        finals = {s.name for s in graph.policy.states if s.final}
        self.timed = {t.state for t in graph.policy.timers}
        self.configs = list(graph.edges)
        self.done = {c for c in self.configs if c.state in finals or c.escrow == 0}
        self.conceding: set[Config] = set()
        """Where P could pay O: no way out, but worth saying so."""
        self.lose = 0
        self.keys: list[Key | None] = [None]
        self.ids: dict[Key, int] = {}
        self.succ: list[dict[int, Edge | None]] = [{self.lose: None}]
        self.todo: list[Key] = []
        for config in self.configs:
            self.pos(config)
        while self.todo:
            self._expand(self.todo.pop())

    def pos(self, config: Config, turn: int = O_TURN, paused: str | None = None) -> int:
        if config in self.done:
            return WIN
        key = (config, turn, paused)
        if key not in self.ids:
            self.ids[key] = len(self.keys)
            self.keys.append(key)
            self.succ.append({})
            self.todo.append(key)
        return self.ids[key]

    def _after(self, e: Edge, paused: str | None, waited: bool) -> int:
        """Where a step leads; `waited`: it interrupts running deadlines of its source."""
        target = e.target
        assert target is not None
        if target.state == paused:
            if e.spec is not None and e.spec.target == PREVIOUS:
                return self.pos(target, WAITED)  # the deadlines resume, P having waited
            paused = None  # entered afresh: the deadlines start again
        if waited and not e.leaves:
            return self.pos(target, WAITED, paused)  # a step within the state: still running
        if waited and e.source.state in self.timed:
            paused = e.source.state
        return self.pos(target, O_TURN, paused)

    def _expand(self, key: Key) -> None:
        """The successors of one position."""
        config, turn, paused = key
        here = self.succ[self.ids[key]]
        fair: dict[int, Edge | None] = {}
        heard = hearing_fault(self.graph, config) is None
        for e in self.graph.edges[config]:
            if e.target is None:
                continue
            actor, offer_by = e.step.actor, dict(e.step.args).get("offer_by")
            if actor == self.foe and turn != P_TURN:
                here.setdefault(self._after(e, paused, turn == WAITED), e)
            elif actor == self.party and offer_by != self.foe and turn == P_TURN:
                if paid_away(e, self.party):
                    self.conceding.add(config)
                else:
                    here.setdefault(self._after(e, paused, False), e)
            elif actor == SYSTEM and turn == WAITED:
                lost = e.target in self.done and paid_away(e, self.party)
                fair.setdefault(self.lose if lost else self._after(e, paused, False), e)
            elif heard and rules(e) and turn == WAITED:
                fair.setdefault(WIN, e)
        if turn == WAITED:
            for target, how in (fair or {self.lose: None}).items():
                here.setdefault(target, how)
        else:
            here[self.pos(config, turn + 1, paused)] = None  # wait

    def _foe_owns(self, position: int) -> bool:
        key = self.keys[position]
        return key is None or key[1] != P_TURN

    def solve(self) -> tuple[set[int], dict[int, int]]:
        """O's winning positions and O's strategy on them."""
        pred: list[list[int]] = [[] for _ in self.succ]
        for source, targets in enumerate(self.succ):
            for target in targets:
                if target != WIN:
                    pred[target].append(source)
        waits = [q for q in range(len(self.succ)) if not self._foe_owns(q)] + [self.lose]
        zone = set(range(len(self.succ)))
        while True:
            goal = {q for q in waits if q in zone and self._cpre(q, zone)}
            attracted, choice = self._attract(goal, pred)
            if attracted == zone:
                return zone, choice
            zone = attracted

    def _cpre(self, q: int, zone: set[int]) -> bool:
        if self._foe_owns(q):
            return any(t in zone for t in self.succ[q])
        return all(t in zone for t in self.succ[q])

    def _attract(self, goal: set[int], pred: list[list[int]]) -> tuple[set[int], dict[int, int]]:
        attracted = set(goal)
        choice = {q: next(t for t in self.succ[q] if t in goal) for q in goal if self._foe_owns(q)}
        left = {q: len(self.succ[q]) for q in range(len(self.succ)) if not self._foe_owns(q)}
        queue = deque(goal)
        while queue:
            target = queue.popleft()
            for source in pred[target]:
                if source in attracted:
                    continue
                if self._foe_owns(source):
                    choice[source] = target
                else:
                    left[source] -= 1
                    if left[source]:
                        continue
                attracted.add(source)
                queue.append(source)
        return attracted, choice

    def traps(self) -> list[Trap]:
        """The first configuration holding escrow (breadth-first) from which P loses."""
        zone, choice = self.solve()
        for config in self.configs:  # breadth-first order
            if config.escrow > 0 and self.pos(config) in zone:
                return [self._trap(config, choice)]
        return []

    def _trap(self, start: Config, choice: dict[int, int]) -> Trap:
        said, edges, resting = self._walk(self.pos(start), choice, None)
        assert resting is not None
        rest = self._config(resting)
        cut = edges.index(None) if None in edges else len(edges)
        approach, loop = edges[:cut], [e for e in edges[cut:] if e is not None]
        options = tuple(
            f"{e.step} (answer: {'; '.join(self._walk(target, choice, rest)[0])})"
            for target, e in self.succ[resting].items()
            if e is not None
        )
        steps = tuple(e for e in approach if e)
        return Trap(start, steps, rest, tuple(said[len(steps) :]), tuple(loop), options)

    def _config(self, position: int) -> Config:
        key = self.keys[position]
        assert key is not None
        return key[0]

    def _walk(
        self, position: int, choice: dict[int, int], back: Config | None
    ) -> tuple[list[str], list[Edge | None], int | None]:
        """Follow O's strategy while P waits: what happens, O's steps (None where O first
        waits) and the position where O first waits. Ends on a repetition, on the loss,
        or (with `back`) on returning to that configuration."""
        said: list[str] = []
        edges: list[Edge | None] = []
        seen: set[int] = set()
        resting: int | None = None
        while position not in seen:
            seen.add(position)
            key = self.keys[position]
            if key is None:  # the loss
                break
            config, turn, _ = key
            if back is not None and config == back and said:
                return [*said, f"back in {back.state!r}"], edges, resting
            if turn == P_TURN:
                position = next(t for t, e in self.succ[position].items() if e is None)
                continue
            nxt = choice[position]
            edge = self.succ[position][nxt]
            if edge is None and nxt != self.lose:
                said.append(f"the {self.foe} waits in {config.state!r}")
                edges.append(None)
                resting = resting or nxt
            elif edge is None:
                said.append(f"nothing ever moves the milestone out of {config.state!r}")
            elif nxt == self.lose:
                said.append(f"{edge.step} fires and pays the {self.foe}")
            elif edge.step.actor == self.foe:
                late = turn == WAITED and edge.leaves
                said.append(f"{edge.step}" + (" before its deadlines run out" if late else ""))
                edges.append(edge)
            else:
                said.append(f"{edge.step} fires")
                edges.append(edge)
            position = nxt
        else:
            said.append("and so on")
        return said, edges, resting
