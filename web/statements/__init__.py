"""A contract's statement rendered for people: CSV for spreadsheets, PDF to send
(the rows and balances come from engine.domain.statement)."""

from __future__ import annotations

FORMATS = {"csv": "text/csv", "pdf": "application/pdf"}
"""Each format a statement is rendered in, and its media type."""


def filename(contract_id: str, extension: str) -> str:
    return f"statement-{contract_id}.{extension}"
