"""A policy once loaded: plain, immutable data the engine compiles into a machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

SAME, PREVIOUS = "same", "previous"
"""Reserved targets: stay in the source state; go back to the state before this one."""
PROVIDER_UNPAID, PROVIDER_DEBT, PLATFORM = "provider_unpaid", "provider_debt", "platform"
CHARGEBACK_SOURCES = (PROVIDER_UNPAID, PROVIDER_DEBT, PLATFORM)
"""Who bears a chargeback once the escrow still held for the funding is spent: the
provider's not-yet-paid-out balance from it, then a debt of the provider, then the
platform (a policy's `chargeback_order` may change the order or leave the debt out)."""


@dataclass(frozen=True, slots=True)
class StateSpec:
    name: str
    initial: bool = False
    final: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class EffectRef:
    name: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)


@dataclass(frozen=True, slots=True)
class TransitionSpec:
    index: int
    event: str
    sources: tuple[str, ...]
    target: str
    actors: tuple[str, ...]
    guards: tuple[str, ...] = ()
    effects: tuple[EffectRef, ...] = ()
    notify: tuple[str, ...] = ()
    description: str = ""

    def target_from(self, source: str) -> str:
        """The concrete target from one source; `previous` is resolved at run time."""
        return source if self.target == SAME else self.target


@dataclass(frozen=True, slots=True)
class TimerSpec:
    state: str
    after: timedelta
    event: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    version: int
    description: str
    states: tuple[StateSpec, ...]
    transitions: tuple[TransitionSpec, ...]
    timers: tuple[TimerSpec, ...] = ()
    revision_limit: int = 0
    platform_fee_bps: int = 0
    dispute_response: timedelta | None = None
    dispute_default_outcome: str = "staff"
    payout_hold: timedelta | None = None
    chargeback_order: tuple[str, ...] = CHARGEBACK_SOURCES
    source: str = "<memory>"
    text: str = field(default="", compare=False, repr=False)
    digest: str = ""

    @property
    def key(self) -> tuple[str, int]:
        return (self.name, self.version)

    @property
    def initial(self) -> StateSpec:
        return next(s for s in self.states if s.initial)

    @property
    def events(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.event for t in self.transitions))

    def state(self, name: str) -> StateSpec:
        return next(s for s in self.states if s.name == name)

    def timers_for(self, state: str) -> tuple[TimerSpec, ...]:
        return tuple(t for t in self.timers if t.state == state)

    def transitions_from(self, state: str) -> tuple[TransitionSpec, ...]:
        return tuple(t for t in self.transitions if state in t.sources)
