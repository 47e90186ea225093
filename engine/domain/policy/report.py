"""Render checker results for a person (one screen, verdict first) or for tools (JSON)."""

from __future__ import annotations

import json
from collections.abc import Iterable

from engine.domain.policy.checker import PROPERTIES, CheckResult, TraceLine


def _movement(kind: str, amount: int) -> str:
    return {"hold": f"hold {amount}", "release": f"{amount} to provider"}.get(
        kind, f"{amount} to buyer" if kind == "refund" else f"{kind} {amount}"
    )


def trace_line(n: int, line: TraceLine) -> str:
    where = f"{line.source} -> {line.target or '?'}"
    money = ""
    if line.escrow_after is not None and line.escrow_after != line.escrow_before:
        money = f", escrow {line.escrow_before} -> {line.escrow_after}"
    moves = ", ".join(_movement(k, a) for k, a in line.movements)
    return f"{'':9}{n}. {line.step}: {where}{money}" + (f" [{moves}]" if moves else "")


def render_text(result: CheckResult) -> str:
    head = f"{result.source}: {result.policy} v{result.version}: "
    if result.ok:
        head += "SAFE"
    else:
        count = len(result.violations)
        head += f"UNSAFE ({count} problem{'s' if count > 1 else ''})"
    lines = [head]
    for name, title in PROPERTIES.items():
        found = result.of(name)
        lines.append(f"  {'ok  ' if not found else 'FAIL'} {title}")
        for violation in found:
            lines.append(f"       - {violation.message}")
            if violation.trace:
                lines.append("         shortest counterexample:")
                lines += [trace_line(i, t) for i, t in enumerate(violation.trace, 1)]
            if violation.strategy:
                lines.append("         the other party's strategy from there:")
                lines += [f"{'':9}- {move}" for move in violation.strategy]
    for warning in result.warnings:
        lines.append(f"  note {warning.message}")
        lines += [trace_line(i, t) for i, t in enumerate(warning.trace, 1)]
    lines.append(
        f"  ({result.configurations} configurations, {result.steps} steps, {result.seconds:.2f} s)"
    )
    return "\n".join(lines)


def render_json(results: Iterable[CheckResult], problems: Iterable[dict] = ()) -> str:
    """All results, plus schema problems of files that never reached the checker."""
    return json.dumps(
        {"results": [r.as_dict() for r in results], "schema_problems": list(problems)}, indent=2
    )
