"""Alembic environment: runs on the engine the caller hands over (see Database.upgrade)."""

from alembic import context

config = context.config
# Upgrades need no metadata; a caller comparing models with the schema hands its own over.
target_metadata = config.attributes.get("metadata")


def run_migrations() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from engine.store.db import make_engine

        engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
