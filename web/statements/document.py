"""A statement as a PDF a person would send (ReportLab): A4 landscape, a title; the parties,
contract, currency and period beside the closing balances; every movement with the
running balances after it (its header repeated on every page); the generation instant
and "page N of M" on every page.

Amounts are right-aligned in the contract's currency with its decimals; the agreed
amount does not move with the rows, so it is stated above the table, not in it.
Text a party typed (titles, notes) is escaped before ReportLab's paragraph markup reads
it. With `invariant`, the file's creation date and id are fixed, so the same statement
gives the same bytes (tests; reproducible archives).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    NextPageTemplate,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from engine.domain.money import EXPONENTS
from engine.domain.statement import COLUMNS, Statement

PAGE = landscape(A4)
MARGIN = 15 * mm
FONT, BOLD, SIZE = "Helvetica", "Helvetica-Bold", 7
PAD = 3
FRAME_PAD = 6  # ReportLab's default padding inside a frame
CHUNK = 100
"""Rows per table. ReportLab measures the rest of a table again at every page it splits it
over, so one table of N rows costs N times its pages; tables of CHUNK rows cost N. Even,
so that the rows' bands alternate across them."""
MIN_COLUMN = 36.0
INK, MUTED, RULE, BAND = (
    colors.HexColor("#1a1a1a"),
    colors.HexColor("#5c5c5c"),
    colors.HexColor("#b8b8b8"),
    colors.HexColor("#f1f3f5"),
)
TABLE_COLUMNS = [(name, label) for name, label in COLUMNS if name != "agreed"]
"""The running balances in the table: the agreed amount stands above it instead."""

_TITLE = ParagraphStyle("title", fontName=BOLD, fontSize=15, leading=19, textColor=INK)
_CELL = ParagraphStyle("cell", fontName=FONT, fontSize=SIZE, leading=SIZE + 1.5, textColor=INK)
_HEAD = ParagraphStyle("head", parent=_CELL, fontName=BOLD)
_HEAD_RIGHT = ParagraphStyle("head_right", parent=_HEAD, alignment=TA_RIGHT)
_INFO = ParagraphStyle("info", parent=_CELL, fontSize=8.5, leading=11)
_INFO_KEY = ParagraphStyle("info_key", parent=_INFO, textColor=MUTED)
_NOTE = ParagraphStyle("note", parent=_INFO, textColor=MUTED)


def as_pdf(statement: Statement, invariant: bool = False) -> bytes:
    out = io.BytesIO()
    document = BaseDocTemplate(
        out,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 5 * mm,
        title=f"Statement of contract {statement.contract_id}",
        author="Tranche",
        subject=statement.title,
        creator="Tranche",
        invariant=invariant,
        lang="en",
    )
    left, bottom, width, height = (
        document.leftMargin,
        document.bottomMargin,
        document.width,
        document.height,
    )
    heading = Table([[_info(statement), _closing(statement)]], hAlign="LEFT")
    heading.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), *_padding(0)]))
    story: list[Any] = [
        Paragraph(f"Statement: {_text(statement.title)}", _TITLE),
        Spacer(1, 4 * mm),
        heading,
        Spacer(1, 6 * mm),
    ]
    templates = [PageTemplate("first", [Frame(left, bottom, width, height)])]
    if statement.rows:
        header, chunks = _movements(statement, width - 2 * FRAME_PAD)
        above = header().wrap(width, height)[1]

        def draw_header(canvas: Canvas, _: Any) -> None:
            table = header()
            table.wrapOn(canvas, width, height)
            table.drawOn(canvas, left + FRAME_PAD, bottom + height - FRAME_PAD - above)

        later = Frame(left, bottom, width, height - above)
        templates.append(PageTemplate("later", [later], onPage=draw_header))
        story += [NextPageTemplate("later"), header(), *chunks]
    else:
        story.append(Paragraph("No money has moved on this contract yet.", _NOTE))
    document.addPageTemplates(templates)
    document.build(story, canvasmaker=_numbered(statement))
    return out.getvalue()


def _text(value: str) -> str:
    return escape(value)


def _moment(value: datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC"


def _info(statement: Statement) -> Table:
    exponent = EXPONENTS[statement.currency]
    pairs = [
        ("Contract", statement.contract_id),
        ("Buyer", statement.buyer_id),
        ("Provider", statement.provider_id),
    ]
    if statement.party is not None:
        pairs.append(("Prepared for", f"{statement.party_id} ({statement.party})"))
    pairs += [
        ("Currency", f"{statement.currency} ({exponent} decimal{'s' if exponent != 1 else ''})"),
        ("Agreed", f"{statement.money(statement.agreed)} {statement.currency}"),
        ("Period", f"{_moment(statement.opened_at)} to {_moment(statement.generated_at)}"),
        ("Generated", _moment(statement.generated_at)),
    ]
    rows = [[Paragraph(k, _INFO_KEY), Paragraph(_text(v), _INFO)] for k, v in pairs]
    table = Table(rows, colWidths=[28 * mm, 150 * mm], hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), *_padding(1)]))
    return table


def _padding(points: float) -> list[tuple[Any, ...]]:
    return [
        (side, (0, 0), (-1, -1), points)
        for side in ("LEFTPADDING", "RIGHTPADDING", "TOPPADDING", "BOTTOMPADDING")
    ]


def _movements(statement: Statement, width: float) -> tuple[Callable[[], Table], list[Table]]:
    """The movements' header (a new table each call: page 1 flows it above the rows, every
    later page draws it at its top) and their rows, in tables of CHUNK rows."""
    amounts = [
        [statement.money(row.amount)]
        + [statement.money(row.balances.values()[name]) for name, _ in TABLE_COLUMNS]
        for row in statement.rows
    ]
    labels = ["Amount", *(label.capitalize() for _, label in TABLE_COLUMNS)]
    widths = [_fit(label, [cells[i] for cells in amounts]) for i, label in enumerate(labels)]
    date, milestone = 60.0, 80.0
    what = max(width - date - milestone - sum(widths), 90.0)
    columns = [date, milestone, what, *widths]
    body = [
        [
            f"{row.at:%Y-%m-%d %H:%M}",
            _cell(row.milestone or "(contract)", milestone),
            _cell(row.what, what),
            *cells,
        ]
        for row, cells in zip(statement.rows, amounts, strict=True)
    ]

    def header() -> Table:
        cells = [
            Paragraph("Date (UTC)", _HEAD),
            Paragraph("Milestone", _HEAD),
            Paragraph("What happened", _HEAD),
            *(Paragraph(label, _HEAD_RIGHT) for label in labels),
        ]
        table = Table([cells], colWidths=columns, hAlign="LEFT")
        table.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                    ("LINEBELOW", (0, 0), (-1, 0), 0.8, INK),
                    ("LINEBEFORE", (3, 0), (3, 0), 0.25, RULE),
                    *_padding(PAD),
                ]
            )
        )
        return table

    style = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), FONT, SIZE),
            ("TEXTCOLOR", (0, 0), (-1, -1), INK),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("ALIGN", (3, 0), (-1, -1), "RIGHT"),
            ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE),
            ("LINEBEFORE", (3, 0), (3, -1), 0.25, RULE),
            ("ROWBACKGROUNDS", (0, 0), (-1, -1), [colors.white, BAND]),
            *_padding(PAD),
        ]
    )
    chunks = []
    for start in range(0, len(body), CHUNK):
        table = Table(body[start : start + CHUNK], colWidths=columns, hAlign="LEFT")
        table.setStyle(style)
        chunks.append(table)
    return header, chunks


def _cell(text: str, width: float) -> str | Paragraph:
    """The text as it is if it fits its column on one line, else a paragraph that wraps
    (a paragraph costs several times a plain cell, and most texts fit)."""
    if stringWidth(text, FONT, SIZE) <= width - 2 * PAD:
        return text
    return Paragraph(_text(text), _CELL)


def _fit(label: str, cells: list[str]) -> float:
    """A column as wide as its widest amount, its header's longest word, or two short words
    (so that no header wraps to more than a few lines)."""
    texts = [stringWidth(cell, FONT, SIZE) for cell in cells]
    words = [stringWidth(word, BOLD, SIZE) for word in label.split()]
    return max(*texts, *words, MIN_COLUMN) + 2 * PAD + 1


def _closing(statement: Statement) -> Table:
    closing = statement.closing
    lines = []
    for label, value in closing.labelled():
        lines.append((label.capitalize(), value))
        if label == "paid to date":  # what it is made of
            lines.append(("  released from escrow", closing.summary.released))
            lines.append(("  paid directly", closing.summary.direct_payments))
    rows: list[list[Any]] = [["Balances at the close", "", ""]]
    rows += [[label.strip(), statement.money(value), statement.currency] for label, value in lines]
    indented = [
        ("LEFTPADDING", (0, i), (0, i), 12)
        for i, (label, _) in enumerate(lines, start=1)
        if label.startswith(" ")
    ]
    table = Table(rows, colWidths=[45 * mm, 30 * mm, 12 * mm], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), BOLD, 8.5),
                ("FONT", (0, 1), (-1, -1), FONT, 8.5),
                ("TEXTCOLOR", (0, 1), (-1, -1), INK),
                ("ALIGN", (1, 1), (1, -1), "RIGHT"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, INK),
                ("LINEABOVE", (0, -1), (-1, -1), 0.8, INK),
                ("FONT", (0, -1), (-1, -1), BOLD, 8.5),
                *_padding(2),
                *indented,
            ]
        )
    )
    return table


def _numbered(statement: Statement) -> type[Canvas]:
    """A canvas that holds its pages until the end, so each can say "page N of M"."""
    left = (
        f"Tranche statement of contract {statement.contract_id}, "
        f"generated {_moment(statement.generated_at)}"
    )

    class Numbered(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._held: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._held.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            for number, page in enumerate(self._held, start=1):
                self.__dict__.update(page)
                self.setFont(FONT, 7)
                self.setFillColor(MUTED)
                self.drawString(MARGIN, MARGIN, left)
                self.drawRightString(
                    PAGE[0] - MARGIN, MARGIN, f"Page {number} of {len(self._held)}"
                )
                super().showPage()
            super().save()

    return Numbered
