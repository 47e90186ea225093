"""Finding a dispute by what staff remember: words, a party, the start of an id.

Full text covers the contract's title, the parties' ids, the dispute's reason, the
parties' statements and text evidence (never staff notes). Each of those is one
*document* row in `dispute_search`, written by database triggers as the row it comes
from is inserted (migration 0010), so every writer, whichever program, keeps the
index whole. The storage differs by dialect, and this module is the only place that
knows it:

- SQLite: `dispute_search` is an FTS5 virtual table; words match by prefix
  (`"redes"*`).
- PostgreSQL: `dispute_search.doc` is a stored `tsvector` (the `simple` configuration:
  ids and names are not stemmed) with a GIN index; words match by prefix (`redes:*`).

Ids (dispute, contract, milestone, party) also match by prefix, through their indexes.
The words of a query are reduced to letters and digits before they reach either
engine, so no query syntax from outside is ever interpreted.
"""

from __future__ import annotations

import re

from sqlalchemy import String, or_, select, text

from engine.service.uow import UnitOfWork
from engine.store.models import Dispute

TABLE = "dispute_search"
"""The document table (and, on SQLite, FTS5's shadow tables named after it)."""
MAX_WORDS = 8
_WORD = re.compile(r"\w+")
_MATCH = {
    "sqlite": f"SELECT dispute_id FROM {TABLE} WHERE {TABLE} MATCH :query",
    "postgresql": f"SELECT dispute_id FROM {TABLE} WHERE doc @@ to_tsquery('simple', :query)",
}


def modelled(name: str | None, type_: str, parent_names: object = None) -> bool:
    """False for the tables this module keeps outside the models: an `include_name` for
    Alembic's schema comparisons, which would otherwise offer to drop them."""
    return not (type_ == "table" and (name == TABLE or str(name).startswith(f"{TABLE}_")))


def words(term: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(term)][:MAX_WORDS]


def _full_text(dialect: str, found: list[str]):
    if dialect == "postgresql":
        query = " & ".join(f"{w}:*" for w in found)
    else:
        query = " ".join(f'"{w}"*' for w in found)
    return text(_MATCH[dialect]).bindparams(query=query).columns(dispute_id=String)


def search(uow: UnitOfWork, term: str, limit: int = 50) -> list[Dispute]:
    """Disputes whose id, contract, milestone or party starts with the term, or whose
    documents contain every word of it (each word as a prefix); newest first."""
    term = (term or "").strip()[:200]
    found = words(term)
    if not found:
        return []
    conditions = [
        column.startswith(term, autoescape=True)
        for column in (
            Dispute.id,
            Dispute.contract_id,
            Dispute.milestone_id,
            Dispute.buyer_id,
            Dispute.provider_id,
        )
    ]
    dialect = "postgresql" if uow.database.is_postgres else "sqlite"
    conditions.append(Dispute.id.in_(_full_text(dialect, found)))
    query = select(Dispute).where(or_(*conditions)).order_by(Dispute.created_at.desc())
    return list(uow.session.scalars(query.limit(limit)))
