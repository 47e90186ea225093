"""Compile a policy into a python-statemachine class, and ask it what an event does.

The class is built once per policy version and cached. Who may act and the policy's
guards are its `cond`s, so `enabled_events` answers "what may this actor do now";
amount rules are validators that raise precise errors and leave the state unchanged.
The strict `StateMachine` base makes an event with no transition, or a failing
callback, loud. Commands and reads ask the same conditions, in the machine's order,
without the library's event loop (`choose`, `allowed_events`); property tests hold
both to the library's own answers (`apply`, `enabled_events`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from statemachine import State, StateMachine
from statemachine.exceptions import TransitionNotAllowed

from engine.domain.errors import ForbiddenEventError, UnknownEventError
from engine.domain.policy.document import PREVIOUS, SAME, Policy, TransitionSpec
from engine.domain.policy.vocabulary import DISPUTE, EFFECTS, GUARDS, PARTIES, Facts


@dataclass(slots=True)
class Command:
    """What one `send` carries to the guards and callbacks."""

    facts: Facts
    previous_state: str | None = None
    listing: bool = False
    """True when asking what is open to the actor: guards on arguments are not judged."""
    fired: list[tuple[TransitionSpec, str]] = field(default_factory=list)


def actor_allowed(actors: tuple[str, ...], role: str, opener: str | None) -> bool:
    if role in actors:
        return True
    if role not in PARTIES:
        return False
    return ("opener" in actors and role == opener) or (
        "other_party" in actors and opener in PARTIES and role != opener
    )


def _applies(spec: TransitionSpec, target: str) -> Callable[[Command], bool]:
    guards = [GUARDS[name] for name in spec.guards]
    back = spec.target == PREVIOUS

    def applies(cmd: Command) -> bool:
        facts = cmd.facts
        return (
            actor_allowed(spec.actors, facts.actor_role, facts.opener_role)
            and (not back or cmd.previous_state == target)
            and all(g.test(facts) for g in guards if not (cmd.listing and g.on_arguments))
        )

    return applies


Cond = Callable[..., bool]
Applies = tuple["Arrow", Callable[[Command], bool]]
Offers = dict[str, list[tuple[str, Cond]]]
"""Per source state, in the order the machine holds them: each transition's event and cond."""


def _transition(
    states: dict[str, State], spec: TransitionSpec, source: str, target: str
) -> tuple[Any, Cond]:
    applies = _applies(spec, target)
    checks = [(EFFECTS[e.name].check, e.kwargs) for e in spec.effects]

    def cond(cmd: Command | None = None) -> bool:
        return cmd is not None and applies(cmd)

    def validate(cmd: Command | None = None) -> None:
        # Validators run even for transitions whose cond is false: check only our own.
        if cmd is not None and applies(cmd):
            for check, params in checks:
                check(cmd.facts, params)

    def record(cmd: Command | None = None) -> None:
        assert cmd is not None
        cmd.fired.append((spec, target))

    cond.__name__ = f"may_{spec.event}_{spec.index}_{source}"
    origin = states[source]
    kwargs = {"cond": [cond], "validators": [validate], "on": [record], "event": spec.event}
    if source == target:
        return origin.to.itself(**kwargs), cond
    return origin.to(states[target], **kwargs), cond


def _predecessors(policy: Policy, state: str) -> list[str]:
    """States a milestone can have come from into `state`: where `previous` may lead."""
    found: dict[str, None] = {}
    for spec in policy.transitions:
        if spec.target == state:
            found.update(dict.fromkeys(s for s in spec.sources if s != state))
    return list(found)


@dataclass(frozen=True, slots=True)
class Arrow:
    """One concrete step a transition allows: from a state to a state (`same` and `previous`
    resolved; `previous` to every state the milestone can have come from)."""

    source: str
    target: str
    spec: TransitionSpec


def arrows(policy: Policy) -> list[Arrow]:
    """Every arrow of the policy, in the policy's order: what the machine, the drawings and
    the diff all read."""
    found = []
    for spec in policy.transitions:
        for source in spec.sources:
            if spec.target == PREVIOUS:
                targets = _predecessors(policy, source)
            else:
                targets = [source if spec.target == SAME else spec.target]
            found += [Arrow(source, target, spec) for target in targets]
    return found


_CONDS: dict[tuple[str, int, str], dict[tuple[str, str], list[Applies]]] = {}


def enabled(
    policy: Policy, state: str, previous: str | None, event: str, facts: Facts
) -> list[Arrow]:
    """Every arrow `event` could take from `state` with these facts, in the machine's order:
    the machine takes the first, and the checker calls more than one a nondeterminism.

    The same conditions the compiled machine holds, so the checker can ask them of a
    policy even where it is broken (an arrow into a state the policy never defines).
    """
    key = (policy.name, policy.version, policy.digest)
    conds = _CONDS.get(key)
    if conds is None:
        conds = _CONDS[key] = {}
        for arrow in arrows(policy):  # by source and event, in the policy's order
            conds.setdefault((arrow.source, arrow.spec.event), []).append(
                (arrow, _applies(arrow.spec, arrow.target))
            )
    cmd = Command(facts, previous)
    return [a for a, applies in conds.get((state, event), ()) if applies(cmd)]


_CASE_STATES: dict[tuple[str, int, str], frozenset[str]] = {}


def case_states(policy: Policy) -> frozenset[str]:
    """The states a dispute case stays open in: those a `dispute` event enters, and any other
    non-final state reached only from them (an escalation); leaving them closes the case."""
    key = (policy.name, policy.version, policy.digest)
    cached = _CASE_STATES.get(key)
    if cached is None:
        cached = _CASE_STATES[key] = _case_states(policy)
    return cached


def _case_states(policy: Policy) -> frozenset[str]:
    found = {t.target for t in policy.transitions if t.event == DISPUTE}
    finals = {s.name for s in policy.states if s.final or s.initial}
    into: dict[str, set[str]] = {}
    for arrow in arrows(policy):
        if arrow.source != arrow.target:
            into.setdefault(arrow.target, set()).add(arrow.source)
    grew = True
    while grew:
        grew = False
        for state, sources in into.items():
            if state not in found and state not in finals and sources <= found:
                found.add(state)
                grew = True
    return frozenset(found)


def build_machine_class(policy: Policy) -> tuple[type[StateMachine], Offers]:
    """The policy's machine class, and its conds by source state (see `allowed_events`).

    The policy's final states are not final to the library: an instance is an evaluator
    shared by every milestone of the policy (creating one costs ~10 ms), and the library
    stops an instance for good once it enters a final state. The library's checks of the
    graph (dead ends, reachability) are off for the same reason, and because the policy
    checker must explore a broken policy to refuse it with its story: it proves that
    final states are dead ends holding no escrow, every state is reached, and every other
    state has a way out, in the policy's own words.
    """
    states = {s.name: State(s.name, value=s.name, initial=s.initial) for s in policy.states}
    by_event: dict[str, list[Any]] = {}
    offers: Offers = {name: [] for name in states}
    for arrow in arrows(policy):
        if arrow.target not in states:  # a broken policy: the checker reports the arrow
            continue
        transition, cond = _transition(states, arrow.spec, arrow.source, arrow.target)
        by_event.setdefault(arrow.spec.event, []).append(transition)
        offers[arrow.source].append((arrow.spec.event, cond))
    attrs: dict[str, Any] = dict(states)
    for event, transitions in by_event.items():
        attrs[event] = reduce(lambda a, b: a | b, transitions)
    attrs["validate_trap_states"] = False
    attrs["validate_final_reachability"] = False
    attrs["validate_disconnected_states"] = False
    name = "Policy_" + "".join(c if c.isalnum() else "_" for c in f"{policy.name}_{policy.version}")
    return type(name, (StateMachine,), attrs), offers


_CLASSES: dict[tuple[str, int, str], tuple[type[StateMachine], Offers]] = {}


def compiled(policy: Policy) -> tuple[type[StateMachine], Offers]:
    """The compiled class for a policy version and its offers, built on first use."""
    key = (policy.name, policy.version, policy.digest)
    built = _CLASSES.get(key)
    if built is None:
        built = _CLASSES[key] = build_machine_class(policy)
    return built


def machine_class(policy: Policy) -> type[StateMachine]:
    return compiled(policy)[0]


class _Slot:
    """The machine's model: only the state string of the milestone being decided."""

    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


_LOCAL = threading.local()


def _pooled(policy: Policy) -> tuple[StateMachine, _Slot]:
    """One machine instance per policy version and thread, re-pointed for each command.

    The machine reads its state from the model on each use, so pointing a cached
    instance at another milestone's state is exact, and saves building one per command.
    """
    pool: dict[tuple[str, int, str], tuple[StateMachine, _Slot]] = _LOCAL.__dict__.setdefault(
        "machines", {}
    )
    key = (policy.name, policy.version, policy.digest)
    entry = pool.get(key)
    if entry is None:
        slot = _Slot(policy.initial.name)
        entry = pool[key] = (machine_class(policy)(model=slot, state_field="state"), slot)
    return entry


class MilestoneMachine:
    """A policy's machine at one milestone's state: which events are open, which one fires."""

    def __init__(self, policy: Policy, state: str, previous_state: str | None = None) -> None:
        if state not in machine_class(policy).states_map:
            raise ForbiddenEventError(
                f"milestone is in state {state!r}, unknown to policy "
                f"{policy.name} v{policy.version}",
                state=state,
            )
        self.policy = policy
        self.state = state
        self.previous_state = previous_state

    def library(self) -> StateMachine:
        """The library's instance of the policy's machine, at this milestone's state."""
        sm, slot = _pooled(self.policy)
        slot.state = self.state
        return sm

    def allowed_events(self, facts: Facts) -> list[str]:
        """The events this actor could send now, given suitable arguments (amounts, a split).

        What the machine's `enabled_events` answers, from the same conds in the same
        order, without its callback dispatch (a quarter of a transition's machine time,
        and every read of a milestone pays it); tests/test_machine_offers.py holds the
        two equal over every policy, state, role and set of facts.
        """
        cmd = Command(facts, self.previous_state, listing=True)
        enabled: dict[str, None] = {}
        for event, cond in compiled(self.policy)[1][self.state]:
            if event not in enabled and cond(cmd):
                enabled[event] = None
        return list(enabled)

    def apply(self, event: str, facts: Facts) -> tuple[TransitionSpec, str]:
        """The transition `event` takes and its target, or raise with what is allowed: the
        library's own answer (its `send`), the reference `choose` is held to."""
        self._known(event, facts)
        cmd = Command(facts, self.previous_state)
        try:
            self.library().send(event, cmd=cmd)
        except TransitionNotAllowed:
            raise self._refusal(event, facts) from None
        return cmd.fired[-1]

    def choose(self, event: str, facts: Facts) -> tuple[TransitionSpec, str]:
        """What `apply` answers, from the same conditions and checks without the library's
        event loop (about 0.3 ms a send): the first enabled arrow, its effects' checks run.

        What every command and the checker decide with; tests/test_machine_offers.py
        holds the two answers equal over every policy, state, event, role and set of facts.
        """
        self._known(event, facts)
        chosen = enabled(self.policy, self.state, self.previous_state, event, facts)
        if not chosen:
            raise self._refusal(event, facts)
        first = chosen[0]
        for ref in first.spec.effects:
            EFFECTS[ref.name].check(facts, ref.kwargs)
        return first.spec, first.target

    def _refusal(self, event: str, facts: Facts) -> ForbiddenEventError:
        return ForbiddenEventError(
            f"{facts.actor_role} may not {event} a milestone that is {self.state}",
            event=event,
            state=self.state,
            actor=facts.actor_role,
            allowed_events=self.allowed_events(facts),
        )

    def _known(self, event: str, facts: Facts) -> None:
        if event not in self.policy.events:
            raise UnknownEventError(
                f"policy {self.policy.name} v{self.policy.version} has no event {event!r}",
                event=event,
                state=self.state,
                actor=facts.actor_role,
                allowed_events=self.allowed_events(facts),
                known_events=list(self.policy.events),
            )
