"""`tranche staff ...`: staff accounts for the reviewer console, and their upkeep.

Every change is recorded in the staff audit (action, the account, address "cli").
"""

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


def _password(password_stdin: bool) -> str:
    """The new password: the first line of stdin, or prompted for twice."""
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(
        f"Password (at least {MIN_PASSWORD} characters)",
        hide_input=True,
        confirmation_prompt=True,
    )


PASSWORD_STDIN = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)


@staff.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True, help="reviewer or senior.")
@PASSWORD_STDIN
@click.pass_context
def staff_create(ctx: click.Context, email: str, role: str, password_stdin: bool) -> None:
    """Create a staff account (the password is prompted for, or read from stdin)."""
    created = _arbitration(ctx).create_staff(email, role, _password(password_stdin))
    click.echo(f"created {created.role} {created.email} ({created.id})")


@staff.command("reset-password")
@click.argument("email")
@PASSWORD_STDIN
@click.pass_context
def staff_reset_password(ctx: click.Context, email: str, password_stdin: bool) -> None:
    """Set a new password; the account's console sessions end and its sign-in block lifts."""
    changed = _arbitration(ctx).reset_password(email, _password(password_stdin))
    click.echo(f"new password for {changed.email}; every console session of it has ended")


@staff.command("unlock")
@click.argument("email")
@click.pass_context
def staff_unlock(ctx: click.Context, email: str) -> None:
    """Forget the account's failed sign-ins, lifting its block."""
    unlocked = _arbitration(ctx).unlock(email)
    click.echo(f"unlocked {unlocked.email}")


@staff.command("deactivate")
@click.argument("email")
@click.pass_context
def staff_deactivate(ctx: click.Context, email: str) -> None:
    """No more sign-ins for this account; its console sessions end at once."""
    gone = _arbitration(ctx).deactivate(email)
    click.echo(f"deactivated {gone.email}; every console session of it has ended")


@staff.command("role")
@click.argument("email")
@click.argument("role", type=click.Choice(ROLES))
@click.pass_context
def staff_role(ctx: click.Context, email: str, role: str) -> None:
    """Make the account a reviewer or a senior (takes effect on its next page)."""
    changed = _arbitration(ctx).set_role(email, role)
    click.echo(f"{changed.email} is now a {changed.role}")


@staff.command("list")
@click.pass_context
def staff_list(ctx: click.Context) -> None:
    """List active staff accounts."""
    arbitration = _arbitration(ctx)
    for member in arbitration.read(all_staff):
        click.echo(f"{member.id}  {member.role:<8}  {member.email}")
