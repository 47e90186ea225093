"""`tranche apikey create|revoke` and `tranche deliver` (the webhook worker)."""

from __future__ import annotations

import time

import click

from engine.db import Database
from engine.service import Tranche
from web.api.auth import create_key, revoke_key
from web.api.commands import purge_keys
from web.api.webhooks import deliver_due


@click.group()
def apikey() -> None:
    """API keys for integrators (each key is a tenant)."""


@apikey.command("create")
@click.argument("name")
@click.option("--tenant", default=None, help="Share an existing key's tenant (key rotation).")
@click.pass_context
def apikey_create(ctx: click.Context, name: str, tenant: str | None) -> None:
    """Create a key and print it once; only its hash is stored."""
    database = Database(ctx.obj["url"])
    try:
        row, plain = create_key(database, name, tenant)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME or --tenant") from exc
    click.echo(f"created {row.id} ({row.name}), tenant {row.tenant}; this key is shown once:")
    click.echo(plain)


@apikey.command("revoke")
@click.argument("key_id")
@click.pass_context
def apikey_revoke(ctx: click.Context, key_id: str) -> None:
    """Revoke a key by its id (key_...); servers stop accepting it within 30 seconds."""
    if not revoke_key(Database(ctx.obj["url"]), key_id):
        raise click.ClickException(f"no active key {key_id!r}")
    click.echo(f"revoked {key_id}")


@click.command()
@click.option("--loop/--once", default=False, help="Keep polling, or send what is due and stop.")
@click.option("--interval", type=click.FloatRange(0.1, 3600), default=2.0, show_default=True)
@click.pass_context
def deliver(ctx: click.Context, loop: bool, interval: float) -> None:
    """Send due webhook deliveries (signed), retrying failures with exponential backoff."""
    tranche = Tranche(Database(ctx.obj["url"]))
    while True:
        for outcome in deliver_due(tranche):
            detail = outcome.status_code if outcome.error is None else outcome.error
            click.echo(f"{outcome.delivery_id}: {outcome.status} ({detail})")
        purge_keys(tranche)
        if not loop:
            return
        time.sleep(interval)
