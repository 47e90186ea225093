"""A statement as CSV: one row per movement, its running balances beside it.

Amounts are exact decimals in the contract's currency (`1234.50`, `1500` for JPY,
`12.345` for KWD: `Money.parse` reads them back exactly); times are UTC, ISO 8601, to
the second.
The last row's balances are the closing balances. A text cell a party typed that a
spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return first) is
quoted with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io

from engine.domain.statement import COLUMNS, Statement

HEADER = [
    "entry",
    "date",
    "milestone",
    "what happened",
    "amount",
    "currency",
    *(label for _, label in COLUMNS),
]
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def as_csv(statement: Statement) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in statement.rows:
        balances = row.balances.values()
        writer.writerow(
            [
                row.entry_id,
                row.at.isoformat(timespec="seconds"),
                _text(row.milestone or ""),
                _text(row.what),
                statement.money(row.amount, grouped=False),
                statement.currency,
                *(statement.money(balances[name], grouped=False) for name, _ in COLUMNS),
            ]
        )
    return out.getvalue()


def _text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA) else value
