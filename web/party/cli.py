"""`tranche notices send`: the notice mail worker (run it beside `tranche deliver`)."""

from __future__ import annotations

import time

import click

from engine.service.tranche import Tranche
from engine.store.db import Database
from web.party.mail import MailSettings, send_due


@click.group()
def notices() -> None:
    """Notices to buyers and providers: mail them, with a link to their page."""


@notices.command("send")
@click.option("--smtp-host", envvar="TRANCHE_SMTP_HOST", default="127.0.0.1", show_default=True)
@click.option("--smtp-port", envvar="TRANCHE_SMTP_PORT", type=click.IntRange(1, 65535), default=25)
@click.option(
    "--public-url",
    envvar="TRANCHE_PUBLIC_URL",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="Where parties reach this server: the links in the mails start with it.",
)
@click.option(
    "--mail-from",
    envvar="TRANCHE_MAIL_FROM",
    default="tranche@localhost",
    show_default=True,
    help="The sender for tenants that set none (POST /v1/party-settings).",
)
@click.option("--loop", is_flag=True, help="Keep sending every --interval seconds.")
@click.option("--interval", type=click.FloatRange(0.1, 3600), default=5.0, show_default=True)
@click.pass_context
def notices_send(ctx: click.Context, loop: bool, interval: float, **options: str) -> None:
    """Mail the notices that are due; a failure is retried later with backoff."""
    settings = MailSettings(
        host=options["smtp_host"],
        port=int(options["smtp_port"]),
        public_url=options["public_url"],
        default_from=options["mail_from"],
    )
    service = Tranche(Database(ctx.obj["url"]))
    while True:
        for outcome in send_due(service, settings):
            detail = f" ({outcome.error})" if outcome.error else ""
            click.echo(f"notice {outcome.notice_id} to {outcome.to}: {outcome.status}{detail}")
        if not loop:
            return
        time.sleep(interval)
