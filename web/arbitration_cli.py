"""`tranche staff ...`: staff accounts for the reviewer console."""

from __future__ import annotations

import sys

import click

from arbitration.service import Arbitration
from arbitration.staff import MIN_PASSWORD, ROLES, all_staff
from engine.store.db import Database


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
