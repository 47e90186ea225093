"""The milestone's state diagram as inline SVG, drawn from the policy, current state marked.

Columns follow the flow: the initial state, then states by distance from it, and
every final state in the last column. Text is escaped; nothing here comes from a party.
"""

from __future__ import annotations

from collections import deque

from markupsafe import Markup, escape

from engine.domain.policy.document import PREVIOUS, SAME, Policy
from engine.domain.policy.machine import arrows

BOX_W, BOX_H, COL_GAP, ROW_GAP, PAD = 150, 34, 70, 22, 16


def _forward(policy: Policy) -> list[tuple[str, str]]:
    """The machine's arrows between two states, but the returns to a previous state."""
    found = {(a.source, a.target) for a in arrows(policy) if a.spec.target != PREVIOUS}
    return sorted((s, t) for s, t in found if s != t)


def _columns(policy: Policy) -> list[list[str]]:
    edges = _forward(policy)
    level = {policy.initial.name: 0}
    todo = deque([policy.initial.name])
    while todo:
        state = todo.popleft()
        for source, target in edges:
            if source == state and target not in level:
                level[target] = level[state] + 1
                todo.append(target)
    finals = [s.name for s in policy.states if s.final]
    others = [s.name for s in policy.states if not s.final]
    depth = max((level.get(s, 0) for s in others), default=0)
    columns: list[list[str]] = [[] for _ in range(depth + 2)]
    for name in others:
        columns[level.get(name, depth)].append(name)
    columns[-1] = finals
    columns = [c for c in columns if c]
    # One barycentre pass: place each state near the states that lead to it (fewer crossings).
    row: dict[str, float] = {name: j for j, name in enumerate(columns[0])}
    for column in columns[1:]:

        def centre(name: str) -> float:
            sources = [row[s] for s, t in edges if t == name and s in row and s != name]
            return sum(sources) / len(sources) if sources else float(len(row))

        column.sort(key=centre)
        row.update({name: j for j, name in enumerate(column)})
    return columns


def state_diagram(policy: Policy, current: str) -> Markup:
    columns = _columns(policy)
    place: dict[str, tuple[float, float]] = {}
    tallest = max(len(c) for c in columns)
    height = PAD * 2 + tallest * BOX_H + (tallest - 1) * ROW_GAP
    for i, column in enumerate(columns):
        top = (height - (len(column) * BOX_H + (len(column) - 1) * ROW_GAP)) / 2
        for j, name in enumerate(column):
            place[name] = (PAD + i * (BOX_W + COL_GAP), top + j * (BOX_H + ROW_GAP))
    width = PAD * 2 + len(columns) * BOX_W + (len(columns) - 1) * COL_GAP
    parts = [
        f'<svg class="diagram" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="State diagram; current state {escape(current)}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z"/></marker></defs>',
    ]
    for source, target in _forward(policy):
        (x1, y1), (x2, y2) = place[source], place[target]
        sx, sy = x1 + BOX_W, y1 + BOX_H / 2
        tx, ty = x2, y2 + BOX_H / 2
        if x2 <= x1:  # same column or backwards: loop around the right side
            sx, tx = x1 + BOX_W, x2 + BOX_W
            bend = max(sx, tx) + 40
            path = f"M{sx},{sy} C{bend},{sy} {bend},{ty} {tx},{ty}"
        else:
            mid = (sx + tx) / 2
            path = f"M{sx},{sy} C{mid},{sy} {mid},{ty} {tx},{ty}"
        css = "edge live" if source == current else "edge"
        parts.append(f'<path class="{css}" d="{path}" marker-end="url(#arrow)"/>')
    for state in policy.states:
        x, y = place[state.name]
        css = ["node"]
        if state.final:
            css.append("final")
        if state.name == current:
            css.append("current")
        parts.append(
            f'<g class="{" ".join(css)}"><title>{escape(state.description)}</title>'
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8"/>'
            f'<text x="{x + BOX_W / 2}" y="{y + BOX_H / 2 + 4}">'
            f"{escape(state.name.replace('_', ' '))}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def exits(policy: Policy, state: str) -> list[tuple[str, str, str]]:
    """(event, who, where) for the ways out of `state`, for the legend under the diagram."""
    found: list[tuple[str, str, str]] = []
    for spec in policy.transitions_from(state):
        where = {SAME: state, PREVIOUS: "where it was before"}.get(spec.target, spec.target)
        row = (spec.event.replace("_", " "), ", ".join(spec.actors), where.replace("_", " "))
        if row not in found:
            found.append(row)
    return found
