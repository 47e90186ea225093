"""Alembic environment: runs on the engine the caller hands over (see Database.upgrade)."""

import importlib

from alembic import context

import arbitration.models  # noqa: F401  (its tables join Base.metadata)
from arbitration.search import modelled
from engine.models import Base

config = context.config
# Tables of other packages that live on Base (imported by name: engine depends on no web code).
importlib.import_module("web.api.models")
target_metadata = Base.metadata


def run_migrations() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from engine.db import make_engine

        engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, include_name=modelled
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
