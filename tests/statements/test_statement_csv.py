"""The CSV statement parses back to the very amounts, and the PDF shows them, in each
currency's decimals."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import pytest

from engine.domain.ledger_legs import BUYER_FUNDING, ESCROW, Leg
from engine.domain.money import Money
from engine.domain.policy.vocabulary import HOLD
from engine.domain.statement import COLUMNS
from statements.conftest import tell_story
from statements.test_statement_pdf import pages
from statements.test_statement_rows import STORY, entry, statement
from web.statements.document import as_pdf
from web.statements.table import HEADER, as_csv


@pytest.mark.parametrize("currency", ["USD", "JPY", "KWD"])
def test_the_csv_parses_back_to_the_ledger_s_amounts(sqlite_tranche, clock, currency) -> None:
    story = tell_story(sqlite_tranche, clock, currency=currency)
    found = sqlite_tranche.statement(story.contract_id)
    read = list(csv.DictReader(io.StringIO(as_csv(found), newline="")))
    assert list(read[0]) == HEADER
    assert len(read) == len(found.rows) == 14
    for line, row in zip(read, found.rows, strict=True):
        assert int(line["entry"]) == row.entry_id
        assert line["date"] == row.at.isoformat(timespec="seconds")
        assert line["date"].endswith("+00:00")
        assert line["what happened"] == row.what
        assert line["currency"] == currency
        assert Money.parse(line["amount"], currency).minor == row.amount
        for name, label in COLUMNS:
            assert Money.parse(line[label], currency).minor == row.balances.values()[name]
    closing = read[-1]
    assert closing["in escrow"] == {"USD": "0.00", "JPY": "0", "KWD": "0.000"}[currency]
    assert closing["debts"] == {"USD": "57.50", "JPY": "5750", "KWD": "5.750"}[currency]
    text = " ".join(" ".join(pages(as_pdf(found))).split())
    agreed = {"USD": "1,000.00", "JPY": "100,000", "KWD": "100.000"}[currency]
    assert f"Agreed {agreed} {currency}" in text
    fee = {"USD": "20.00", "JPY": "2,000", "KWD": "2.000"}[currency]
    assert f"platform fee of {fee} {currency}" in text
    decimals = {"USD": 2, "JPY": 0, "KWD": 3}[currency]
    assert f"Currency {currency} ({decimals} decimals)" in text


def test_a_title_a_spreadsheet_would_run_as_a_formula_is_quoted() -> None:
    hostile = replace(
        entry(1, HOLD, [Leg(BUYER_FUNDING, -100), Leg(ESCROW, 100)], "fund"),
        milestone='=HYPERLINK("http://x")',
    )
    line = next(csv.DictReader(io.StringIO(as_csv(statement(entries=[hostile])))))
    assert line["milestone"] == '\'=HYPERLINK("http://x")'
    assert line["amount"] == "1.00"


def test_an_empty_statement_is_its_header() -> None:
    assert as_csv(statement(entries=[])) == ",".join(HEADER) + "\r\n"
    assert len(as_csv(statement(entries=STORY)).splitlines()) == 1 + len(STORY)
