"""`tranche apikey create|revoke`, `tranche deliver` (the webhook worker) and
`tranche secrets new-key|rotate` (the keys of webhook secrets)."""

from __future__ import annotations

import os
import time

import click
from sqlalchemy import select

from engine.service.tranche import Tranche
from engine.store.db import Database
from engine.store.keyring import SETTING, Keyring, KeyringError, new_key
from web.api.auth import create_key, revoke_key
from web.api.commands import SEALED, purge_keys
from web.api.models import IdempotencyRecord, WebhookSubscription
from web.api.webhook_post import TIMEOUT_SECONDS, Poster
from web.api.webhooks import WORKERS, Dispatcher, Outcome, WebhookSettings, deliver_due


@click.group()
def apikey() -> None:
    """API keys for integrators (each key is a tenant)."""


@apikey.command("create")
@click.argument("name")
@click.option("--tenant", default=None, help="Share an existing key's tenant (key rotation).")
@click.option(
    "--test", is_flag=True, help="A test-mode key: its tenant is a sandbox with a test clock."
)
@click.pass_context
def apikey_create(ctx: click.Context, name: str, tenant: str | None, test: bool) -> None:
    """Create a key and print it once; only its hash is stored."""
    database = Database(ctx.obj["url"])
    try:
        row, plain = create_key(database, name, tenant, test)
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


def _settings() -> WebhookSettings:
    """The worker's settings from the environment; a bad or missing key is a message."""
    try:
        settings = WebhookSettings.from_environment(os.environ)
    except KeyringError as exc:
        raise click.ClickException(str(exc)) from exc
    if settings.keyring is None:
        raise click.ClickException(
            f"{SETTING} is not set: webhook secrets are stored encrypted and cannot be read "
            "without it (`tranche secrets new-key` makes a key; see the README, Security)"
        )
    return settings


@click.command()
@click.option("--loop/--once", default=False, help="Keep polling, or send what is due and stop.")
@click.option("--interval", type=click.FloatRange(0.1, 3600), default=2.0, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=WORKERS,
    show_default=True,
    help="Subscriptions sent to at once (one thread each).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 600),
    default=TIMEOUT_SECONDS,
    show_default=True,
    help="Seconds to wait for a receiver (to connect, and for each read).",
)
@click.pass_context
def deliver(ctx: click.Context, loop: bool, interval: float, workers: int, timeout: float) -> None:
    """Send due webhook deliveries (signed), retrying failures with exponential backoff.

    Only public addresses are reached; TRANCHE_WEBHOOK_ALLOW_HOSTS (comma-separated
    hosts) lets named ones through, for development.
    """
    settings = _settings()
    tranche = Tranche(Database(ctx.obj["url"]))
    send = Poster(settings.egress, timeout)
    if not loop:
        _report(deliver_due(tranche, settings, send, workers))
        purge_keys(tranche)
        return
    with Dispatcher(tranche, settings, send, workers) as dispatcher:
        while True:
            dispatcher.poll()
            _report(dispatcher.take_outcomes())
            purge_keys(tranche)
            time.sleep(interval)


def _report(outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        detail = outcome.status_code if outcome.error is None else outcome.error
        click.echo(f"{outcome.delivery_id}: {outcome.status} ({detail})")


@click.group()
def secrets() -> None:
    """Keys of the webhook secrets stored encrypted (TRANCHE_ENCRYPTION_KEYS)."""


@secrets.command("new-key")
def secrets_new_key() -> None:
    """Print a new encryption key (put it first in TRANCHE_ENCRYPTION_KEYS)."""
    click.echo(new_key())


@secrets.command("rotate")
@click.pass_context
def secrets_rotate(ctx: click.Context) -> None:
    """Encrypt every stored webhook secret again with the first key of TRANCHE_ENCRYPTION_KEYS
    (and the stored responses that carry one, kept for Idempotency-Key replays).

    All or nothing: if a secret cannot be read with any configured key, nothing changes
    and what is at fault is named.
    """
    keyring: Keyring | None = _settings().keyring
    assert keyring is not None  # _settings refuses otherwise
    tranche = Tranche(Database(ctx.obj["url"]))
    unreadable: list[str] = []
    count = 0
    with tranche.unit_of_work() as uow:
        hooks = uow.session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id))
        for hook in hooks:
            try:
                hook.secret_token = keyring.rotate(hook.secret_token)
                count += 1
            except KeyringError:
                unreadable.append(hook.id)
        responses = uow.session.scalars(
            select(IdempotencyRecord).where(IdempotencyRecord.body.startswith(SEALED))
        )
        for response in responses:
            try:
                response.body = SEALED + keyring.rotate(response.body.removeprefix(SEALED))
                count += 1
            except KeyringError:
                unreadable.append(f"the response kept for Idempotency-Key {response.key!r}")
        if unreadable:
            raise click.ClickException(
                f"no configured key reads the secret of {', '.join(unreadable)}; "
                "nothing was changed (add the key they were encrypted with, after the first)"
            )
        uow.commit()
    click.echo(f"{count} stored secret(s) encrypted with the first key")
