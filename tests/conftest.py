"""Shared fixtures: a migrated database on SQLite (always) and PostgreSQL (when DUBAN_TEST_PG_URL is set)."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.clock import FakeClock
from store.db import Database, async_url

PG_URL = os.environ.get("DUBAN_TEST_PG_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])

# A Tuesday morning in Beijing, well inside a normal working week.
START = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture(scope="session")
def pg_url():
    """A database of this test run's own on the DUBAN_TEST_PG_URL server, dropped at the end.

    Concurrent runs (developers, CI, helpers) on one server must not drop each other's tables.
    """
    if not PG_URL:
        yield None
        return
    name = f"duban_test_{os.getpid()}"
    admin_url = make_url(async_url(PG_URL))

    async def admin(sql: str) -> None:
        engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}"'))
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield admin_url.set(database=name).render_as_string(hide_password=False)
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _fresh_pg_schema(url: str) -> None:
    engine = create_async_engine(async_url(url))
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture(params=BACKENDS)
async def db(request, tmp_path, clock, pg_url):  # noqa: ANN001
    """An empty, fully migrated database; each test gets its own."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.sqlite3'}"
    else:
        await _fresh_pg_schema(pg_url)
        url = pg_url
    database = Database(url, now=clock.now)
    await database.upgrade()
    yield database
    await database.dispose()
