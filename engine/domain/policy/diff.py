"""What changed between two versions of a policy, line by line (+ added, - removed, ~ changed).

Transitions are compared per (event, source, target), so splitting one transition's
`from` list or reordering the document shows no spurious change.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from engine.domain.policy.document import EffectRef, Policy
from engine.domain.policy.machine import arrows


def duration_text(after: timedelta) -> str:
    minutes = int(after.total_seconds() // 60)
    for unit, size in (("d", 1440), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def effect_text(ref: EffectRef) -> str:
    return ref.name + (f"({', '.join(f'{k}={v}' for k, v in ref.params)})" if ref.params else "")


def _states(policy: Policy) -> dict[str, str]:
    return {
        s.name: "initial" if s.initial else "final" if s.final else "intermediate"
        for s in policy.states
    }


def _transitions(policy: Policy) -> dict[tuple[str, str, str], dict[str, Any]]:
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for arrow in arrows(policy):
        spec = arrow.spec
        found[(spec.event, arrow.source, arrow.target)] = {
            "actors": list(spec.actors),
            "guards": list(spec.guards),
            "effects": [effect_text(e) for e in spec.effects],
            "notify": list(spec.notify),
        }
    return found


def _timers(policy: Policy) -> dict[tuple[str, str], str]:
    return {(t.state, t.event): duration_text(t.after) for t in policy.timers}


def _compare(title: str, old: dict, new: dict, show) -> list[str]:
    lines = []
    for key in new.keys() - old.keys():
        lines.append(f"  + {title} {show(key, new[key])}")
    for key in old.keys() - new.keys():
        lines.append(f"  - {title} {show(key, old[key])}")
    for key in old.keys() & new.keys():
        if old[key] != new[key]:
            if isinstance(old[key], dict):
                for part in old[key]:
                    if old[key][part] != new[key][part]:
                        lines.append(
                            f"  ~ {title} {show(key, None)}: {part} "
                            f"{old[key][part]} -> {new[key][part]}"
                        )
            else:
                lines.append(f"  ~ {title} {show(key, None)}: {old[key]} -> {new[key]}")
    return sorted(lines, key=lambda line: line[4:])


def _show_transition(key: tuple[str, str, str], value: dict | None) -> str:
    event, source, target = key
    text = f"{event}: {source} -> {target}"
    if value is not None:
        details = [f"by {', '.join(value['actors'])}"]
        details += [f"{k} {', '.join(value[k])}" for k in ("guards", "effects") if value[k]]
        text += f" ({'; '.join(details)})"
    return text


def diff_policies(old: Policy, new: Policy) -> list[str]:
    """Readable differences from `old` to `new`; empty when they behave the same."""
    lines: list[str] = []
    for label, attr in (("revision limit", "revision_limit"), ("platform fee", "platform_fee_bps")):
        before, after = getattr(old, attr), getattr(new, attr)
        if before != after:
            unit = " bps" if attr == "platform_fee_bps" else ""
            lines.append(f"  ~ {label}: {before}{unit} -> {after}{unit}")
    lines += _compare(
        "state",
        _states(old),
        _states(new),
        lambda k, v: k + (f" ({v})" if v and v != "intermediate" else ""),
    )
    lines += _compare("transition", _transitions(old), _transitions(new), _show_transition)
    lines += _compare(
        "timer",
        _timers(old),
        _timers(new),
        lambda k, v: f"{k[1]} in {k[0]}" + (f" after {v}" if v else ""),
    )
    return lines
