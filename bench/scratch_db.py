"""A fresh, migrated database for one benchmark run: a SQLite file in a temporary folder, or a
PostgreSQL database of the run's own on the DUBAN_TEST_PG_URL server, dropped afterwards."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from store.db import Database, async_url


class Backend:
    """Open, measure, close; a bench may open it again for a fresh database per case."""

    def __init__(self, name: str, pg_url: str | None = None, *, bench: str = "bench",
                 now: Callable[[], datetime] | None = None) -> None:
        self.name, self.pg_url, self.bench, self.now = name, pg_url, bench, now
        self.tmp = tempfile.TemporaryDirectory()  # the SQLite file, and any files the bench writes
        self._db_name: str | None = None
        self._closed = False

    async def open(self) -> Database:
        if self._closed:  # opened again: a new folder (and database) for the next case
            self.tmp, self._closed = tempfile.TemporaryDirectory(), False
        if self.pg_url is None:
            db = Database(f"sqlite:///{self.tmp.name}/bench.sqlite3", now=self.now)
        else:
            self._db_name = f"duban_bench_{self.bench}_{os.getpid()}"
            await self._admin(f'DROP DATABASE IF EXISTS "{self._db_name}"')
            await self._admin(f'CREATE DATABASE "{self._db_name}"')
            url = make_url(async_url(self.pg_url)).set(database=self._db_name)
            db = Database(url.render_as_string(hide_password=False), now=self.now)
        await db.upgrade()
        return db

    async def close(self, db: Database) -> None:
        await db.dispose()
        self.tmp.cleanup()
        self._closed = True
        if self._db_name is not None:
            await self._admin(f'DROP DATABASE IF EXISTS "{self._db_name}" WITH (FORCE)')
            self._db_name = None

    async def _admin(self, sql: str) -> None:
        engine = create_async_engine(make_url(async_url(self.pg_url)), isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(sql))
        await engine.dispose()


async def analyze(db: Database) -> None:
    """Planner statistics after a bulk load, as a database that has run a while would have."""
    async with db.engine.connect() as conn:
        if not db.is_sqlite:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("ANALYZE"))
        if db.is_sqlite:
            await conn.commit()
