"""A throwaway PostgreSQL database for one benchmark run, dropped after it.

Created on the server named by BENCH_POSTGRES_URL (default: the local server, user
postgres, whose database there only serves to connect), so a run never touches data.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

PG_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def postgres_url(prefix: str) -> Iterator[str]:
    """The URL of a new, empty database; psycopg.OperationalError if the server does not answer."""
    admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()
