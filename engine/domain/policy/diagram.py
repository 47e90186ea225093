"""Draw a policy as a state diagram (DOT text, or SVG/PNG through Graphviz's `dot`).

`render(policy, current_state=None, format="svg")` is the one entry point for the
CLI, the API and the console: it marks a milestone's current state when given, and
the steps of a counterexample (`marked`, as (from, event, to)) in red.
engine.service.drawings wraps it around the database; `MEDIA_TYPES` gives each
format's type.
The DOT text is generated here (no extra dependency); only SVG and PNG need the
`dot` program (Debian package `graphviz`).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Collection

from engine.domain.errors import TrancheError, ValidationError
from engine.domain.policy.diff import duration_text, effect_text
from engine.domain.policy.document import Policy
from engine.domain.policy.machine import arrows

FORMATS = ("svg", "png", "dot")
MEDIA_TYPES = {"svg": "image/svg+xml", "png": "image/png", "dot": "text/vnd.graphviz"}


class DiagramError(TrancheError):
    """The drawing program is missing or failed: the policy itself is fine."""

    code = "diagram_unavailable"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


MARK = 'color="#d32f2f", fontcolor="#d32f2f", penwidth=2.5'


def to_dot(
    policy: Policy,
    current_state: str | None = None,
    marked: Collection[tuple[str, str, str]] = (),
) -> str:
    """The policy as Graphviz DOT; `current_state` is filled and drawn bold, `marked` red."""
    names = [s.name for s in policy.states]
    if current_state is not None and current_state not in names:
        raise ValidationError(
            f"policy {policy.name} v{policy.version} has no state {current_state!r}",
            field="current_state",
            states=names,
        )
    lines = [
        f"digraph {_quote(f'{policy.name} v{policy.version}')} {{",
        "  rankdir=LR;",
        f"  label={_quote(f'{policy.name} v{policy.version}')}; labelloc=t;",
        '  node [shape=box, style="rounded", fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    for state in policy.states:
        attrs = []
        if state.final:
            attrs.append("peripheries=2")
        if state.initial:
            attrs.append("penwidth=2")
        if state.name == current_state:
            attrs += ['style="rounded,filled,bold"', 'fillcolor="#ffd54f"', "penwidth=3"]
            attrs.append(f"xlabel={_quote('current')}")
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {_quote(state.name)}{suffix};")
    timed = {(t.state, t.event): duration_text(t.after) for t in policy.timers}
    for arrow in arrows(policy):
        spec, source = arrow.spec, arrow.source
        text = [spec.event, f"by {', '.join(spec.actors)}"]
        if spec.guards:
            text.append(f"if {', '.join(spec.guards)}")
        if spec.effects:
            text.append(", ".join(effect_text(e) for e in spec.effects))
        after = timed.get((source, spec.event))
        text += [f"after {after}"] if after else []
        style = ", style=dashed" if "system" in spec.actors else ""
        if (source, spec.event, arrow.target) in marked:
            style += f", {MARK}"
        lines.append(
            f"  {_quote(source)} -> {_quote(arrow.target)} [label={_quote(chr(10).join(text))}"
            f"{style}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(
    policy: Policy,
    current_state: str | None = None,
    format: str = "svg",
    marked: Collection[tuple[str, str, str]] = (),
) -> bytes:
    """The drawing in `format` (svg, png or dot), marking `current_state` and `marked`."""
    if format not in FORMATS:
        raise ValidationError(
            f"format must be one of {', '.join(FORMATS)}, not {format!r}", field="format"
        )
    dot = to_dot(policy, current_state, marked)
    if format == "dot":
        return dot.encode()
    program = shutil.which("dot")
    if program is None:
        raise DiagramError("Graphviz is not installed: the `dot` program is needed for svg/png")
    done = subprocess.run(
        [program, f"-T{format}"], input=dot.encode(), capture_output=True, timeout=30
    )
    if done.returncode != 0:
        raise DiagramError(f"dot failed: {done.stderr.decode(errors='replace').strip()[:500]}")
    return done.stdout
