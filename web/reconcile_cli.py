"""`tranche reconcile FILE`: match the rail's report against Tranche's rail records.

Exit codes: 0 when every line matches, 1 when anything differs, 2 when the file or the
mapping cannot be read (the message names the file and the line; nothing is written).
"""

from __future__ import annotations

import hashlib
import sys
from contextlib import nullcontext
from pathlib import Path

import click

from engine.domain.errors import ReportError
from engine.domain.reconcile import STRIPE, Mapping, generic_mapping
from engine.service import reconciliations
from engine.service.tranche import Tranche
from engine.store.db import Database
from web.reconcile_report import WRITERS

CHUNK = 1 << 20


def file_digest(path: Path) -> tuple[str, int]:
    """The file's SHA-256 and its number of lines, read a MiB at a time."""
    digest, lines = hashlib.sha256(), 0
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            lines += chunk.count(b"\n")
    return digest.hexdigest(), lines


def mapping_of(columns: str | None, minor_units: bool) -> Mapping:
    if columns is None:
        if minor_units:
            raise ReportError("--minor-units goes with --map (Stripe's report is in major units)")
        return STRIPE
    return generic_mapping(columns, minor_units)


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tenant", required=True, help="Whose records to match (the API key's tenant).")
@click.option(
    "--format", "output", type=click.Choice(sorted(WRITERS)), default="table", show_default=True
)
@click.option(
    "--map",
    "columns",
    default=None,
    help="A generic CSV: reference=COL,amount=COL,currency=COL,date=COL,kind=COL[,fee=COL] "
    "(kind values: funding, payout, refund, chargeback). Default: Stripe's report.",
)
@click.option("--minor-units", is_flag=True, help="With --map: amounts are in minor units.")
@click.pass_context
def reconcile(
    ctx: click.Context,
    file: Path,
    tenant: str,
    output: str,
    columns: str | None,
    minor_units: bool,
) -> None:
    """Match the rail's report FILE (Stripe's itemized balance-change report, or any CSV
    with --map) against the tenant's fundings, payouts, refunds and chargebacks; print
    what matched and what differs per contract and milestone. Importing the same file
    again changes nothing and prints the earlier result. Exit 1 if anything differs."""
    tranche = Tranche(Database(ctx.obj["url"]))
    try:
        mapping = mapping_of(columns, minor_units)
        digest, length = file_digest(file)
        bar = None
        if sys.stderr.isatty():
            bar = click.progressbar(length=length, label="lines", file=sys.stderr)
        with bar or nullcontext(), file.open(encoding="utf-8-sig", newline="") as stream:
            done = [0]

            def progress(line: int) -> None:
                if bar is not None:
                    bar.update(line - done[0])
                done[0] = line

            imported = tranche.write(
                lambda uow: reconciliations.reconcile(
                    uow, tenant, stream, str(file), digest, mapping, progress
                )
            )
    except ReportError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(2)
    with tranche.reading() as uow:
        for chunk in WRITERS[output](uow, imported.report, imported.replayed):
            click.echo(chunk, nl=False)
        differs = reconciliations.has_differences(uow, imported.report)
    sys.exit(1 if differs else 0)
