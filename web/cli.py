"""The `tranche` command: database, timers, policies, audit, the server and the demo.

Every argument is validated; a bad one gets a one-line message naming what is
wrong (and for policy files, the file and the line), never a traceback.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from arbitration.service import Arbitration
from engine.domain.clock import FixedClock, as_utc
from engine.domain.errors import TrancheError
from engine.service.tranche import Tranche
from engine.store.audit import Scope, count, verify
from engine.store.db import Database, database_url
from engine.store.keyring import KeyringError
from engine.store.sqlite_queue import is_plain_file
from web.api.auth import create_key
from web.api.commands import purge_keys
from web.policy_cli import policy
from web.sweeping import sweep_due


class IsoMoment(click.ParamType):
    name = "ISO-8601"

    def convert(self, value: object, param: object, ctx: object) -> datetime:
        if isinstance(value, datetime):
            return as_utc(value)
        try:
            return as_utc(datetime.fromisoformat(str(value)))
        except ValueError:
            self.fail(f"{value!r} is not an ISO-8601 moment (like 2026-12-08T09:00:00Z)")


def _database(ctx: click.Context) -> Database:
    return Database(ctx.obj["url"])


@click.group()
@click.option(
    "--database-url",
    envvar="DATABASE_URL",
    default=None,
    help="SQLAlchemy URL; default sqlite:///tranche.db in the current directory.",
)
@click.pass_context
def main(ctx: click.Context, database_url: str | None) -> None:
    """Tranche: an escrow engine for milestone payments on fixed-price work."""
    ctx.obj = {"url": database_url}


@main.group()
def db() -> None:
    """Schema migrations."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Create or migrate the schema to the newest version, and publish bundled policies."""
    database = _database(ctx)
    before = _schema_revision(database)
    try:
        database.upgrade()
    except KeyringError as exc:  # a migration that must encrypt stored secrets
        raise click.ClickException(str(exc)) from exc
    after = _schema_revision(database)
    if before is None:
        click.echo(f"created the database at {database.url}")
    elif before != after:
        click.echo(f"migrated the database at {database.url} from {before} to {after}")
    else:
        click.echo(f"database at {database.url} is up to date")


def _schema_revision(database: Database) -> str | None:
    """The migration(s) the database is at; None when it has no schema yet."""
    from alembic.runtime.migration import MigrationContext

    with database.engine.connect() as connection:
        heads = MigrationContext.configure(connection).get_current_heads()
    return ", ".join(sorted(heads)) or None


@main.command()
@click.option("--now", type=IsoMoment(), default=None, help="Run as of this moment (rehearsals).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Fire at most N timers.")
@click.pass_context
def sweep(ctx: click.Context, now: datetime | None, limit: int | None) -> None:
    """Do what is due: milestone timers (auto-approve, auto-refund), disputes whose
    response deadline passed, pending fundings past their deadline, payouts whose security
    hold ran out; then forget Idempotency-Keys older than a day. Safe to run from several
    processes at once. Live tenants only: a sandbox's test clock sweeps its own."""
    database = _database(ctx)
    swept = sweep_due(Tranche(database), Arbitration(database), now, limit=limit)
    for item in swept.fired:
        click.echo(f"timer {item.timer_id}: {item.event} on {item.milestone_id} -> {item.outcome}")
    click.echo(f"{len(swept.fired)} timer(s) fired")
    for done in swept.lapsed:
        click.echo(f"dispute {done.dispute_id}: {done.outcome}")
    click.echo(f"{len(swept.lapsed)} dispute(s) past their response deadline")
    for funding_id in swept.expired:
        click.echo(f"funding {funding_id}: expired, nothing was held")
    expired, matured = len(swept.expired), len(swept.matured)
    click.echo(f"{expired} pending funding(s) expired, {matured} hold(s) ran out")
    click.echo(f"{purge_keys(Tranche(database))} Idempotency-Key record(s) past their window")


@main.group()
def audit() -> None:
    """Check the ledger and the event hash chains."""


@audit.command("verify")
@click.option("--contract", "contract_id", default=None, help="Only this contract.")
@click.option("--since", type=IsoMoment(), default=None, help="Contracts with an event from then.")
@click.option("--until", type=IsoMoment(), default=None, help="... and before this moment.")
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Incremental: skip what this file says was verified, then record what was.",
)
@click.pass_context
def audit_verify(
    ctx: click.Context,
    contract_id: str | None,
    since: datetime | None,
    until: datetime | None,
    checkpoint: Path | None,
) -> None:
    """Recompute event hash chains, ledger balances and milestone figures, a chunk of
    contracts at a time (see engine.store.audit); exit 1 naming each fault."""
    database = _database(ctx)
    scope = Scope(contract_id, since, until)
    if contract_id is not None and not count(database, scope):
        raise click.ClickException(f"no such contract: {contract_id}")
    faults = 0
    bar = None
    if sys.stderr.isatty():
        bar = click.progressbar(length=count(database, scope), label="contracts", file=sys.stderr)
    with bar or nullcontext():
        for fault in verify(database, scope, checkpoint, progress=bar.update if bar else None):
            faults += 1
            click.echo(str(fault), err=True)
    if faults:
        sys.exit(1)
    click.echo("audit ok: every event chain, ledger entry and balance verifies")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Migrate the schema, then serve the HTTP API and the console (embedded server, for
    trying things out; in production run `tranche db upgrade`, then gunicorn)."""
    from web.app import create_app

    database = _database(ctx)
    database.upgrade()
    database.dispose()
    app = create_app({"DATABASE_URL": ctx.obj["url"]})
    click.echo(f"Tranche on http://{host}:{port}/ (database {database_url(ctx.obj['url'])})")
    app.run(host=host, port=port, threaded=True)


@main.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Play the escrow story end to end and print the contract summary after each step.

    On a new SQLite file (the local demo database `make run` makes), also create an
    API key for the story's tenant and two staff accounts, and print them; never on
    PostgreSQL or on a database that exists already.
    """
    from arbitration.demo import dispute_the_launch, staff_accounts
    from engine.service.demo import play

    url = database_url(ctx.obj["url"])
    fresh = _new_sqlite_file(url)
    database = Database(url)
    database.upgrade()
    key = create_key(database, "demo") if fresh else None
    # 09:00 UTC, 32 days ago: the story's hours never carry it past a midnight it should not
    start = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    clock = FixedClock(start - timedelta(days=32))
    tranche = Tranche(database, clock)
    story = play(tranche, clock, click.echo, tenant=key[0].tenant if key else "default")
    dispute_the_launch(Arbitration(database, clock), tranche, story, clock, click.echo)
    click.echo(f"\ncontract {story.contract_id} is in {database.url}")
    if key is None:
        return
    row, plain = key
    click.echo("\nThis new local database has a way in for each side (shown only now):")
    click.echo(f"  API, as tenant {row.tenant}:  export KEY={plain}")
    click.echo('    curl -H "Authorization: Bearer $KEY" http://127.0.0.1:8000/v1/contracts')
    click.echo("  reviewer console, http://127.0.0.1:8000/console/ :")
    for account in staff_accounts(Arbitration(database)):
        click.echo(f"    {account.role:<8}  {account.email:<26}  password: {account.password}")


def _new_sqlite_file(url: str) -> bool:
    """Whether `url` names a SQLite file that does not exist yet (a new local database)."""
    if not url.startswith("sqlite") or not is_plain_file(url):
        return False
    return not Path(str(make_url(url).database)).exists()


def run() -> None:
    """Console entry point: domain refusals become one-line messages, not tracebacks."""
    try:
        main(standalone_mode=True)
    except TrancheError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    except (ArgumentError, OperationalError) as exc:
        click.echo(f"error: cannot use the database: {str(exc).splitlines()[0]}", err=True)
        sys.exit(1)


main.add_command(policy)

from web.report_cli import report  # noqa: E402  (finance reports)

main.add_command(report)

from web.arbitration_cli import staff  # noqa: E402  (registered below)

main.add_command(staff)

from web.api.cli import apikey, deliver, secrets  # noqa: E402  (the API's commands)

main.add_command(apikey)
main.add_command(deliver)
main.add_command(secrets)

from web.party.cli import notices  # noqa: E402  (the party pages' mail worker)

main.add_command(notices)

from web.reconcile_cli import reconcile  # noqa: E402  (the rail's report)

main.add_command(reconcile)

from web.statements.cli import statement  # noqa: E402  (a contract's statement)

main.add_command(statement)
