"""The shape of a policy document, and its cross-references.

Marshmallow checks types and required keys; `cross_reference` then checks that
every name points at something real (states, guards, effects, actors, timers).
Both report problems as (place, message), the place spelled like
`transitions[3].to`, so the loader can add the file and the line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from marshmallow import RAISE, Schema, fields, validate
from marshmallow import ValidationError as SchemaError
from statemachine import StateMachine

from engine.domain.policy.document import CHARGEBACK_SOURCES, PREVIOUS, SAME
from engine.domain.policy.vocabulary import ACTORS, EFFECTS, GUARDS, PARTIES, check_effect_params

NAME = r"^[a-z][a-z0-9_]*$"
_DURATION = re.compile(r"^(\d+)([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
RESERVED = {
    SAME,
    PREVIOUS,
    "model",
    "state",
    *(n for n in dir(StateMachine) if not n.startswith("_")),
}
"""Names a state or event may not take: our reserved targets and the machine's own attributes."""


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    if match is None:
        raise SchemaError("a duration is a whole number and a unit d, h or m, like 14d")
    try:
        return timedelta(**{_UNITS[match[2]]: int(match[1])})
    except OverflowError:
        raise SchemaError(f"{text} is longer than any clock can count") from None


class Duration(fields.Field):
    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> timedelta:
        if not isinstance(value, str):
            raise SchemaError("a duration is a string like 14d, 12h or 30m")
        return parse_duration(value)


class EffectField(fields.Field):
    """`release_rest`, or `{release_share: {basis_points: 2000}}` for an effect with parameters."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> tuple:
        if isinstance(value, str):
            return (value, {})
        if isinstance(value, dict) and len(value) == 1:
            ((name, params),) = value.items()
            if isinstance(name, str) and isinstance(params, dict):
                return (name, params)
        raise SchemaError("an effect is a name, or a mapping of one name to its parameters")


def _names(**kw: Any) -> fields.List:
    return fields.List(
        fields.String(validate=validate.Regexp(NAME)), validate=validate.Length(min=1), **kw
    )


class StateSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Regexp(NAME))
    initial = fields.Boolean(load_default=False)
    final = fields.Boolean(load_default=False)
    description = fields.String(load_default="")


class TransitionSchema(Schema):
    class Meta:
        unknown = RAISE

    event = fields.String(required=True, validate=validate.Regexp(NAME))
    from_ = _names(required=True, data_key="from")
    to = fields.String(required=True, validate=validate.Regexp(NAME))
    actors = fields.List(
        fields.String(validate=validate.OneOf(ACTORS)),
        required=True,
        validate=validate.Length(min=1),
    )
    guards = fields.List(fields.String(), load_default=list)
    effects = fields.List(EffectField(), load_default=list)
    notify = fields.List(fields.String(validate=validate.OneOf(PARTIES)), load_default=list)
    description = fields.String(load_default="")


class TimerSchema(Schema):
    class Meta:
        unknown = RAISE

    state = fields.String(required=True)
    after = Duration(required=True)
    event = fields.String(required=True, validate=validate.Regexp(NAME))
    description = fields.String(load_default="")


def _distinct(values: list[str]) -> None:
    if len(set(values)) != len(values):
        raise SchemaError("names each source at most once")


class ParametersSchema(Schema):
    class Meta:
        unknown = RAISE

    revision_limit = fields.Integer(strict=True, load_default=0, validate=validate.Range(min=0))
    platform_fee_bps = fields.Integer(
        strict=True, load_default=0, validate=validate.Range(min=0, max=10_000)
    )
    # Arbitration: how long the other party has to answer a dispute, and what happens if
    # they stay silent (`opener_claim`: the opener's claim is granted; `staff`: staff decide).
    dispute_response = Duration(load_default=None)
    dispute_default_outcome = fields.String(
        load_default="staff", validate=validate.OneOf(["opener_claim", "staff"])
    )
    # The rail: how long a release is held before it can be paid out (a security hold),
    # and who bears a chargeback after the escrow is spent (engine.domain.rail).
    payout_hold = Duration(load_default=None)
    chargeback_order = fields.List(
        fields.String(validate=validate.OneOf(CHARGEBACK_SOURCES)),
        load_default=lambda: list(CHARGEBACK_SOURCES),
        validate=[validate.Length(min=1, max=len(CHARGEBACK_SOURCES)), _distinct],
    )


class PolicySchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9-]*$"))
    version = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))
    description = fields.String(load_default="")
    parameters = fields.Nested(ParametersSchema, load_default=dict)
    states = fields.List(fields.Nested(StateSchema), required=True, validate=validate.Length(min=2))
    transitions = fields.List(
        fields.Nested(TransitionSchema), required=True, validate=validate.Length(min=1)
    )
    timers = fields.List(fields.Nested(TimerSchema), load_default=list)


def flatten(messages: Any, place: str = "") -> Iterator[tuple[str, str]]:
    """Turn marshmallow's nested error dict into (place, message) pairs."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            if isinstance(key, int):
                sub = f"{place}[{key}]"
            elif key == "_schema":
                sub = place
            else:
                sub = f"{place}.{key}" if place else str(key)
            yield from flatten(value, sub)
    elif isinstance(messages, list):
        for message in messages:
            yield from flatten(message, place)
    else:
        yield place or "(document)", str(messages)


def cross_reference(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """Problems with the names a valid-shaped document uses, as (place, message)."""
    problems: list[tuple[str, str]] = []
    states = [s["name"] for s in doc["states"]]
    known = set(states)
    finals = {s["name"] for s in doc["states"] if s["final"]}
    seen: set[str] = set()
    for i, name in enumerate(states):
        if name in seen:
            problems.append((f"states[{i}].name", f"state {name!r} is defined twice"))
        if name in RESERVED:
            problems.append((f"states[{i}].name", f"{name!r} is a reserved word"))
        seen.add(name)
    initials = [s["name"] for s in doc["states"] if s["initial"]]
    if len(initials) != 1:
        problems.append(("states", f"exactly one state must be initial, found {len(initials)}"))
    events = {t["event"] for t in doc["transitions"]}
    for i, t in enumerate(doc["transitions"]):
        at = f"transitions[{i}]"
        if t["event"] in known or t["event"] in RESERVED:
            problems.append((f"{at}.event", f"{t['event']!r} is a state name or reserved word"))
        for j, source in enumerate(t["from_"]):
            if source not in known:
                problems.append((f"{at}.from[{j}]", f"unknown state {source!r}"))
            elif source in finals:
                problems.append((f"{at}.from[{j}]", f"{source!r} is final: nothing leaves it"))
        if t["to"] not in known | {SAME, PREVIOUS}:
            problems.append((f"{at}.to", f"unknown state {t['to']!r}"))
        for j, guard in enumerate(t["guards"]):
            if guard not in GUARDS:
                problems.append((f"{at}.guards[{j}]", f"unknown guard {guard!r}"))
        for j, (effect, params) in enumerate(t["effects"]):
            if effect not in EFFECTS:
                problems.append((f"{at}.effects[{j}]", f"unknown effect {effect!r}"))
                continue
            problems.extend((f"{at}.effects[{j}]", m) for m in check_effect_params(effect, params))
    for i, timer in enumerate(doc["timers"]):
        at = f"timers[{i}]"
        if timer["state"] not in known:
            problems.append((f"{at}.state", f"unknown state {timer['state']!r}"))
        if timer["event"] not in events:
            problems.append((f"{at}.event", f"no transition handles event {timer['event']!r}"))
        elif not any(
            t["event"] == timer["event"]
            and timer["state"] in t["from_"]
            and "system" in t["actors"]
            for t in doc["transitions"]
        ):
            problems.append(
                (
                    f"{at}.event",
                    f"no transition lets the system fire {timer['event']!r} "
                    f"from {timer['state']!r}",
                )
            )
    return problems
