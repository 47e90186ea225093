"""`tranche report liability|aging`: finance reports as of an instant, for one tenant or all.

Amounts are minor units in CSV and JSON, and in the currency's own decimals in the table.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from typing import Any

import click

from engine.domain.liability import AGE_BUCKETS, FIGURES, Aging, InvalidInstantError, Liability
from engine.domain.money import Money
from engine.service.reports import Report
from engine.service.tranche import Tranche
from engine.store.db import Database

FORMATS = ("table", "csv", "json")


def _options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        (
            click.option(
                "--as-of",
                default=None,
                help="ISO 8601 instant with its zone (2026-10-31T23:59:59Z); default: now.",
            ),
            click.option("--tenant", default=None, help="Only this tenant; default: every tenant."),
            click.option("--format", "shape", type=click.Choice(FORMATS), default="table"),
        )
    ):
        command = option(command)
    return click.pass_context(command)


@click.group()
def report() -> None:
    """Finance reports over the ledger, as of an instant."""


def _run(ctx: click.Context, name: str, as_of: str | None, tenant: str | None) -> Report[Any]:
    tranche = Tranche(Database((ctx.find_root().obj or {}).get("url")))
    try:
        made: Report[Any] = getattr(tranche, name)(as_of, tenant)
    except InvalidInstantError as exc:
        raise click.BadParameter(exc.message, param_hint="--as-of") from None
    return made


def _emit(made: Report[Any], shape: str, header: list[str], rows: list[list[Any]]) -> None:
    if shape == "json":
        click.echo(json.dumps(made.as_dict(), indent=2))
        return
    if shape == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerows([header, *rows])
        return
    scope = f"tenant {made.tenant}" if made.tenant else "every tenant"
    click.echo(f"as of {made.as_of.isoformat()}, {scope}")
    if not rows:
        click.echo("nothing to report")
        return
    table = [header, *([str(v) for v in row] for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo(
            "  ".join(
                v.ljust(w) if i == 0 else v.rjust(w)
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )


def _amounts(currency: str, amounts: list[int], shape: str) -> list[Any]:
    """Minor units, or in the table the currency's own decimals."""
    if shape != "table":
        return list(amounts)
    return [Money(a, currency).format().removesuffix(" " + currency) for a in amounts]


@report.command()
@_options
def liability(ctx: click.Context, as_of: str | None, tenant: str | None, shape: str) -> None:
    """Money held for others per currency: in escrow, held (security hold), available and in
    flight to parties (their total), and beside it pending funding and parties' debts."""
    made = _run(ctx, "liability", as_of, tenant)
    names = [*FIGURES, "total"]
    rows = []
    for line in made.lines:
        assert isinstance(line, Liability)
        figures = line.as_dict()
        rows.append(
            [line.currency, *_amounts(line.currency, [int(figures[n]) for n in names], shape)]
        )
    _emit(made, shape, ["currency", *names], rows)


@report.command()
@_options
def aging(ctx: click.Context, as_of: str | None, tenant: str | None, shape: str) -> None:
    """What each party is owed (held + available) by age in days, first in, first out."""
    made = _run(ctx, "aging", as_of, tenant)
    labels = [label for _, label in AGE_BUCKETS]
    rows = []
    for line in made.lines:
        assert isinstance(line, Aging)
        amounts = [line.owed, *(line.buckets[label] for label in labels)]
        rows.append(
            [line.tenant, line.party_id, line.currency, *_amounts(line.currency, amounts, shape)]
        )
    _emit(made, shape, ["tenant", "party", "currency", "owed", *labels], rows)
