"""`tranche staff ...` and `tranche disputes ...`: staff accounts and dispute deadlines."""

from __future__ import annotations

import sys

import click

from arbitration.service import Arbitration
from arbitration.staff import MIN_PASSWORD, ROLES, all_staff
from engine.db import Database
from web.cli import IsoMoment


def _arbitration(ctx: click.Context) -> Arbitration:
    return Arbitration(Database(ctx.obj["url"]))


@click.group()
def staff() -> None:
    """Staff accounts for the reviewer console."""


@staff.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True, help="reviewer or senior.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@click.pass_context
def staff_create(ctx: click.Context, email: str, role: str, password_stdin: bool) -> None:
    """Create a staff account (the password is prompted for, or read from stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            f"Password (at least {MIN_PASSWORD} characters)",
            hide_input=True,
            confirmation_prompt=True,
        )
    created = _arbitration(ctx).create_staff(email, role, password)
    click.echo(f"created {created.role} {created.email} ({created.id})")


@staff.command("list")
@click.pass_context
def staff_list(ctx: click.Context) -> None:
    """List active staff accounts."""
    arbitration = _arbitration(ctx)
    for member in arbitration.read(all_staff):
        click.echo(f"{member.id}  {member.role:<8}  {member.email}")


@click.group()
def disputes() -> None:
    """Dispute deadlines."""


@disputes.command("sweep")
@click.option("--now", type=IsoMoment(), default=None, help="Run as of this moment (rehearsals).")
@click.pass_context
def disputes_sweep(ctx: click.Context, now: object) -> None:
    """Apply the policy's default outcome to disputes whose response deadline passed."""
    done = _arbitration(ctx).sweep(now)  # type: ignore[arg-type]
    for item in done:
        click.echo(f"dispute {item.dispute_id}: {item.outcome}")
    click.echo(f"{len(done)} dispute(s) past their response deadline")
