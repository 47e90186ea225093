"""The floor every Python web service pays: a Flask endpoint doing 1 UPDATE + 1 INSERT via the ORM.

Served by gunicorn beside Tranche in bench/api_load.py, on the same database.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from flask import Flask, jsonify
from sqlalchemy import DateTime, Integer, String, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from engine.db import Database


class Base(DeclarativeBase):
    pass


class Counter(Base):
    __tablename__ = "bench_counter"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class Log(Base):
    __tablename__ = "bench_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    note: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def prepare(url: str, rows: int = 64) -> None:
    database = Database(url)
    Base.metadata.drop_all(database.engine)
    Base.metadata.create_all(database.engine)
    with database.session() as session, session.begin():
        session.add_all(Counter(id=i, value=0) for i in range(rows))
    database.dispose()


def create_app() -> Flask:
    app = Flask(__name__)
    database = Database(os.environ["BENCH_DATABASE_URL"])

    @app.post("/bare/<int:row>")
    def bare(row: int):
        with database.session() as session, session.begin():
            session.execute(
                update(Counter).where(Counter.id == row).values(value=Counter.value + 1)
            )
            session.add(Log(note=f"row {row}", at=datetime.now(UTC)))
        return jsonify(ok=True)

    return app
