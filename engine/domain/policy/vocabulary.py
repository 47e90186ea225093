"""The vetted vocabulary a policy may combine: guards and money effects.

A policy file names these entries; it can never carry code. Each entry is a pure
function of `Facts`, so the engine runs it against a milestone row and the policy
checker runs it against abstract amounts (none, part, all of the escrow).

Guards are conditions: they decide whether an event is available at all and
therefore shape "what may this actor do now". Effects say which money moves;
their `check` refuses bad amounts with a precise error before anything moves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from engine.domain.errors import InsufficientEscrowError, InvalidAmountError
from engine.domain.money import positive_amount, share

HOLD, RELEASE, REFUND = "hold", "release", "refund"
"""Movement kinds: buyer -> escrow, escrow -> provider, escrow -> buyer."""

DISPUTE = "dispute"
"""The event that opens a dispute case (see engine.decision)."""
PARTIES = ("buyer", "provider")
ACTORS = ("buyer", "provider", "staff", "system", "opener", "other_party")
"""Who a transition may name. `opener` is the party whose event entered the current
state (the one who opened a dispute); `other_party` is the party who did not."""


@dataclass(frozen=True, slots=True)
class Facts:
    """What a guard or effect may look at: the milestone and the command's arguments."""

    milestone_amount: int
    escrow: int
    actor_role: str
    revisions: int = 0
    revision_limit: int = 0
    opener_role: str | None = None
    amount: int | None = None
    to_provider: int | None = None
    to_buyer: int | None = None
    offer_by: str | None = None


@dataclass(frozen=True, slots=True)
class Movement:
    kind: str
    amount: int


@dataclass(frozen=True, slots=True)
class Guard:
    """A condition. `on_arguments` guards judge the command's arguments (a split, an offer):
    they decide which transition an event takes, not whether the event is open to the actor,
    so "what may this actor do now" ignores them."""

    description: str
    test: Callable[[Facts], bool]
    on_arguments: bool = False


@dataclass(frozen=True, slots=True)
class Effect:
    description: str
    moves: Callable[[Facts, Mapping[str, Any]], list[Movement]]
    check: Callable[[Facts, Mapping[str, Any]], None] = lambda facts, params: None
    params: Mapping[str, str] = field(default_factory=dict)
    counts_revision: bool = False


def _split_shape(facts: Facts) -> tuple[int, int] | None:
    if facts.to_provider is None or facts.to_buyer is None:
        return None
    return facts.to_provider, facts.to_buyer


GUARDS: dict[str, Guard] = {
    "within_revision_limit": Guard(
        "the buyer has asked for changes fewer times than the policy's revision_limit",
        lambda f: f.revisions < f.revision_limit,
    ),
    "offer_from_other_party": Guard(
        "the settlement offer being accepted was made by the other party",
        lambda f: f.offer_by in PARTIES and f.offer_by != f.actor_role,
        on_arguments=True,
    ),
    "split_all_to_provider": Guard(
        "the split gives the whole escrow to the provider",
        lambda f: (s := _split_shape(f)) is not None and s[1] == 0 and s[0] > 0,
        on_arguments=True,
    ),
    "split_all_to_buyer": Guard(
        "the split gives the whole escrow to the buyer",
        lambda f: (s := _split_shape(f)) is not None and s[0] == 0 and s[1] > 0,
        on_arguments=True,
    ),
    "split_shared": Guard(
        "the split gives each party a part of the escrow",
        lambda f: (s := _split_shape(f)) is not None and s[0] > 0 and s[1] > 0,
        on_arguments=True,
    ),
}


def _check_partial(facts: Facts, params: Mapping[str, Any]) -> None:
    amount = positive_amount(facts.amount)
    if amount >= facts.escrow:
        raise InsufficientEscrowError(
            f"a partial release must be less than the escrow of {facts.escrow}; "
            "approve releases all of it",
            amount=amount,
            escrow=facts.escrow,
        )


def check_split(to_provider: object, to_buyer: object, escrow: int) -> tuple[int, int]:
    """Two whole amounts >= 0 that sum exactly to the escrow: a claim, an offer, a ruling."""
    for name, value in (("to_provider", to_provider), ("to_buyer", to_buyer)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidAmountError(f"{name} must be a whole amount >= 0", field=name)
    assert isinstance(to_provider, int)
    assert isinstance(to_buyer, int)
    if to_provider + to_buyer != escrow:
        raise InvalidAmountError(
            f"a split must sum exactly to the escrow of {escrow}, "
            f"got {to_provider} + {to_buyer} = {to_provider + to_buyer}",
            escrow=escrow,
            to_provider=to_provider,
            to_buyer=to_buyer,
        )
    return to_provider, to_buyer


def _check_split(facts: Facts, params: Mapping[str, Any]) -> None:
    check_split(facts.to_provider, facts.to_buyer, facts.escrow)


def _share(facts: Facts, params: Mapping[str, Any]) -> list[Movement]:
    amount = min(facts.escrow, share(facts.milestone_amount, int(params["basis_points"])))
    return [Movement(RELEASE, amount)] if amount > 0 else []


def _nonzero(*moves: Movement) -> list[Movement]:
    return [m for m in moves if m.amount > 0]


EFFECTS: dict[str, Effect] = {
    "hold": Effect(
        "the buyer's money for the whole milestone amount goes into this milestone's escrow",
        lambda f, p: [Movement(HOLD, f.milestone_amount)],
    ),
    "release_amount": Effect(
        "the given amount (positive, less than the escrow) goes from escrow to the provider",
        lambda f, p: [Movement(RELEASE, f.amount or 0)],
        check=_check_partial,
    ),
    "release_rest": Effect(
        "everything left in escrow goes to the provider",
        lambda f, p: _nonzero(Movement(RELEASE, f.escrow)),
    ),
    "refund_rest": Effect(
        "everything left in escrow goes back to the buyer",
        lambda f, p: _nonzero(Movement(REFUND, f.escrow)),
    ),
    "split": Effect(
        "escrow is divided: to_provider to the provider, to_buyer to the buyer; "
        "the two sum exactly to the escrow",
        lambda f, p: _nonzero(
            Movement(RELEASE, f.to_provider or 0), Movement(REFUND, f.to_buyer or 0)
        ),
        check=_check_split,
    ),
    "release_share": Effect(
        "basis_points/10,000 of the milestone amount goes from escrow to the provider",
        _share,
        params={"basis_points": "an integer from 1 to 10000"},
    ),
    "count_revision": Effect(
        "no money moves; the milestone counts one more request for changes",
        lambda f, p: [],
        counts_revision=True,
    ),
}


def apply_effects(
    effects: Iterable[tuple[str, Mapping[str, Any]]], facts: Facts
) -> tuple[list[Movement], int]:
    """The movements of a transition's effects, in order, and how many revisions they count.

    Each effect sees the escrow the ones before it left, so `[hold, release_share]`
    releases a deposit out of the money just held (not out of the empty escrow before).
    """
    movements: list[Movement] = []
    revisions = 0
    escrow = facts.escrow
    for name, params in effects:
        effect = EFFECTS[name]
        moved = effect.moves(replace(facts, escrow=escrow), params)
        for movement in moved:
            escrow += movement.amount if movement.kind == HOLD else -movement.amount
        movements += moved
        revisions += int(effect.counts_revision)
    return movements, revisions


def check_effect_params(name: str, params: Mapping[str, Any]) -> list[str]:
    """Problems with an effect's parameters, as messages; empty when they are fine."""
    effect = EFFECTS[name]
    problems = [f"unknown parameter {key!r}" for key in params if key not in effect.params]
    for key in effect.params:
        if key not in params:
            problems.append(f"missing parameter {key!r} ({effect.params[key]})")
    if "basis_points" in params:
        bps = params["basis_points"]
        if isinstance(bps, bool) or not isinstance(bps, int) or not 1 <= bps <= 10_000:
            problems.append("basis_points must be an integer from 1 to 10000")
    return problems
