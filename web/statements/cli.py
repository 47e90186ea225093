"""`tranche statement CONTRACT_ID`: a contract's statement as CSV (to stdout by default)
or PDF (to --output)."""

from __future__ import annotations

from pathlib import Path

import click

from engine.domain.errors import NotFoundError
from engine.domain.policy.vocabulary import PARTIES
from engine.service.tranche import Tranche
from engine.store.db import Database
from web.statements import FORMATS
from web.statements.table import as_csv


@click.command("statement")
@click.argument("contract_id")
@click.option(
    "--format", "format_", type=click.Choice(list(FORMATS)), default="csv", show_default=True
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The file to write; CSV goes to standard output without it, a PDF needs it.",
)
@click.option("--party", type=click.Choice(PARTIES), default=None, help="Prepared for this party.")
@click.option("--tenant", default=None, help="Only a contract of this tenant.")
@click.pass_context
def statement(
    ctx: click.Context,
    contract_id: str,
    format_: str,
    output: Path | None,
    party: str | None,
    tenant: str | None,
) -> None:
    """Every movement of a contract in order, with the running balances after each
    (amounts in the contract's currency and its decimals, times in UTC)."""
    if format_ == "pdf" and output is None:
        raise click.BadParameter(
            "a PDF is written to a file: give --output FILE", param_hint="--output"
        )
    try:
        found = Tranche(Database(ctx.obj["url"])).statement(contract_id, tenant, party)
    except NotFoundError as exc:
        raise click.BadParameter(exc.message, param_hint="CONTRACT_ID") from exc
    if output is None:
        click.echo(as_csv(found), nl=False)
        return
    if format_ == "csv":
        body = as_csv(found).encode()
    else:
        from web.statements.document import as_pdf  # ReportLab loads only for a PDF

        body = as_pdf(found)
    try:
        output.write_bytes(body)
    except OSError as exc:
        raise click.BadParameter(
            f"cannot write {output}: {exc.strerror}", param_hint="--output"
        ) from exc
    click.echo(f"wrote {output}: {len(found.rows)} movement(s) of contract {found.contract_id}")
