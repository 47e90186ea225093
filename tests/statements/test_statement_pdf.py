"""The PDF statement, turned into images and text (pypdfium2) and looked at."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pypdfium2 as pdfium

from statements.conftest import LONG_TITLE, tell_story
from statements.test_statement_rows import STORY, statement
from web.statements.document import as_pdf

SAVE = os.environ.get("TRANCHE_STATEMENT_PNG")
"""Set it to a folder to keep each test's page 1 as a PNG there, to look at."""


def pages(body: bytes) -> list[str]:
    """The text of each page."""
    document = pdfium.PdfDocument(body)
    try:
        return [page.get_textpage().get_text_range() for page in document]
    finally:
        document.close()


def first_page_png(body: bytes, path: Path) -> tuple[int, int, float]:
    """Page 1 rendered at 150 dpi to `path`: its size and the share of pixels with ink."""
    document = pdfium.PdfDocument(body)
    try:
        image = document[0].render(scale=150 / 72).to_pil().convert("L")
    finally:
        document.close()
    image.save(path)
    inked = sum(image.histogram()[:128])
    return image.width, image.height, inked / (image.width * image.height)


def test_the_statement_reads_as_a_document_with_its_balances(sqlite_tranche, clock, tmp_path):
    story = tell_story(sqlite_tranche, clock)
    found = sqlite_tranche.statement(story.contract_id, party="provider")
    body = as_pdf(found, invariant=True)
    text = pages(body)
    assert len(text) == 2
    first = " ".join(text[0].split())  # its lines rejoined
    assert "Statement: Shop redesign & <checkout>, a title long enough" in first  # escaped
    assert LONG_TITLE.split()[-1] in first  # wrapped, not cut
    assert f"Contract {story.contract_id}" in first
    assert "Prepared for provider-1 (provider)" in first
    assert "Currency USD (2 decimals)" in first
    now = f"{clock.now():%Y-%m-%d %H:%M} UTC"
    assert f"Period 2026-11-24 09:00 UTC to {now}" in first
    assert (
        "released to provider-1 (the buyer approved), less the platform fee of 20.00 USD" in first
    )
    assert "chargeback du_1 (fraudulent)" in first
    for line in (
        "Agreed 1,000.00 USD",
        "Funded 700.00 USD",
        "Pending funding 300.00 USD",
        "Paid to date 550.00 USD",
        "Refunded 200.00 USD",
        "Platform fees 27.50 USD",
        "Charged back 400.00 USD",
        "Paid out by the rail 400.00 USD",
        "Debts 57.50 USD",
        "Remaining 450.00 USD",
    ):
        assert line in first  # the closing balances, beside the contract's particulars
    for number, page in enumerate(text, start=1):
        assert f"Page {number} of 2" in page
        assert f"generated {now}" in page
    width, height, ink = first_page_png(
        body, SAVE and Path(SAVE, "statement.png") or tmp_path / "p1.png"
    )
    assert width > height  # A4 landscape
    assert 0.005 < ink < 0.2  # a page of text, neither blank nor a black box


def _lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


def test_a_long_statement_repeats_its_header_and_numbers_its_pages(tmp_path) -> None:
    many = [replace(entry, id=n) for n in range(1, 41) for entry in STORY]
    body = as_pdf(statement(entries=many), invariant=True)
    text = pages(body)
    movements = [page for page in text if "paid by the rail" in page]
    assert len(movements) >= 4
    for page in movements:  # each page of movements starts with the table's header
        assert "Date (UTC) Milestone What happened Amount Funded" in " ".join(page.split())
    for number, page in enumerate(text, start=1):
        assert f"Page {number} of {len(text)}" in page
    assert "Remaining -3,800.00 USD" in _lines(text[0])
    first_page_png(body, Path(SAVE, "long.png") if SAVE else tmp_path / "p1.png")


def test_the_same_statement_gives_the_same_bytes() -> None:
    body = as_pdf(statement(), invariant=True)
    assert body == as_pdf(statement(), invariant=True)
    document = pdfium.PdfDocument(body)
    try:
        metadata = document.get_metadata_dict()
    finally:
        document.close()
    assert metadata["Title"] == "Statement of contract ct_1"
    assert metadata["CreationDate"].startswith("D:2000")


def test_a_contract_with_no_movement_says_so() -> None:
    text = pages(as_pdf(statement(entries=[]), invariant=True))
    assert len(text) == 1
    assert "No money has moved on this contract yet." in text[0]
    assert "Remaining 200.00 USD" in _lines(text[0])
