"""`tranche policy ...`: check, publish, diff and draw policy documents.

Schema problems come first (file:line: place: message); a document that loads is
then model-checked. Nothing is published unless the checker proves it safe.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from engine.domain.errors import PolicyError, UnsafePolicyError
from engine.domain.policy.checker import CheckResult, check_policy
from engine.domain.policy.diagram import FORMATS, render
from engine.domain.policy.diff import diff_policies
from engine.domain.policy.document import Policy
from engine.domain.policy.loader import load_policy_file
from engine.domain.policy.report import render_json, render_text
from engine.domain.policy.vocabulary import EFFECTS, GUARDS
from engine.service.drawings import policy_diagram
from engine.store.db import Database
from engine.store.policy_store import get_policy, publish


@click.group()
def policy() -> None:
    """Check, publish, compare and draw policy documents."""


def _database(ctx: click.Context) -> Database:
    return Database((ctx.find_root().obj or {}).get("url"))


def _load(path: str) -> tuple[Policy | None, list[dict]]:
    try:
        return load_policy_file(path), []
    except PolicyError as exc:
        problems = exc.problems or [exc.message]
        return None, [
            {"file": path, "line": getattr(p, "line", None), "place": getattr(p, "place", None)}
            | {"message": getattr(p, "message", str(p)), "text": str(p)}
            for p in problems
        ]


@policy.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--draw",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the diagram (.svg, .png or .dot) with the counterexamples marked in red.",
)
def policy_check(files: tuple[str, ...], as_json: bool, draw: str | None) -> None:
    """Validate policy files, then prove their safety; exit 1 on any problem.

    The report goes to stdout (so `> report.txt` keeps it); a failure also says so
    in one line on stderr.
    """
    if draw is not None and (len(files) != 1 or Path(draw).suffix[1:] not in FORMATS):
        raise click.UsageError("--draw takes one policy file and a .svg, .png or .dot path")
    results: list[CheckResult] = []
    problems: list[dict] = []
    for path in files:
        loaded, found = _load(path)
        problems += found
        if loaded is None:
            if not as_json:
                click.echo("\n".join(p["text"] for p in found))
            continue
        result = check_policy(loaded)
        results.append(result)
        if not as_json:
            click.echo(render_text(result))
        if draw is not None:
            marked = {
                (t.source, t.step.event, t.target)
                for v in result.violations
                for t in (*v.trace, *v.loop)
                if t.target is not None
            }
            Path(draw).write_bytes(render(loaded, format=Path(draw).suffix[1:], marked=marked))
    if as_json:
        click.echo(render_json(results, problems))
    failures = [f"{r.policy} v{r.version} is UNSAFE" for r in results if not r.ok]
    if problems:
        failures.append(f"{len(problems)} schema problem{'s' if len(problems) > 1 else ''}")
    if failures:
        click.echo(f"policy check failed: {'; '.join(failures)}", err=True)
        sys.exit(1)


@policy.command("publish")
@click.argument("file", type=click.Path(dir_okay=False))
@click.pass_context
def policy_publish(ctx: click.Context, file: str) -> None:
    """Store a checked policy version; a published version never changes."""
    loaded, found = _load(file)
    if loaded is None:
        click.echo("\n".join(p["text"] for p in found), err=True)
        sys.exit(1)
    try:
        with _database(ctx).session() as session, session.begin():
            new = publish(session, loaded)  # runs the checker: nothing unsafe is stored
    except UnsafePolicyError as exc:
        click.echo(render_text(exc.result), err=True)
        click.echo(f"not published: {loaded.name} v{loaded.version} is unsafe", err=True)
        sys.exit(1)
    what = "published" if new else "already published with the same content:"
    click.echo(f"{what} {loaded.name} v{loaded.version} ({loaded.digest[:12]})")


@policy.command("diff")
@click.argument("name")
@click.argument("v1", type=click.IntRange(min=1))
@click.argument("v2", type=click.IntRange(min=1))
@click.pass_context
def policy_diff(ctx: click.Context, name: str, v1: int, v2: int) -> None:
    """What changed between two published versions: states, transitions, guards, timers, fees."""
    with _database(ctx).session(read_only=True) as session:
        old, new = get_policy(session, name, v1), get_policy(session, name, v2)
    lines = diff_policies(old, new)
    click.echo(f"{name}: v{v1} -> v{v2}")
    click.echo("\n".join(lines) if lines else "  no differences")


@policy.command("draw")
@click.argument("name")
@click.option("--version", "version", type=click.IntRange(min=1), default=None)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="svg", show_default=True)
@click.option("--state", default=None, help="Mark this state as the current one.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None)
@click.pass_context
def policy_draw(
    ctx: click.Context,
    name: str,
    version: int | None,
    fmt: str,
    state: str | None,
    output: str | None,
) -> None:
    """Draw a published policy (the latest version unless --version) as SVG, PNG or DOT."""
    with _database(ctx).session(read_only=True) as session:
        data = policy_diagram(session, name, version, fmt, current_state=state)
    if output:
        Path(output).write_bytes(data)
        click.echo(f"wrote {output}")
    else:
        sys.stdout.buffer.write(data)


def vocabulary_markdown() -> str:
    """The guards and effects a policy may name, as Markdown tables (the README's copy)."""
    lines = ["| guard | true when |", "|---|---|"]
    lines += [f"| `{name}` | {guard.description} |" for name, guard in GUARDS.items()]
    lines += ["", "| effect | parameters | what moves |", "|---|---|---|"]
    for name, effect in EFFECTS.items():
        params = ", ".join(f"`{k}`: {v}" for k, v in effect.params.items()) or "none"
        lines.append(f"| `{name}` | {params} | {effect.description} |")
    return "\n".join(lines)


@policy.command("vocabulary")
def policy_vocabulary() -> None:
    """List the guards and effects a policy may use, with what each means."""
    click.echo(vocabulary_markdown())
