"""Shared fixtures: a migrated database on SQLite (always) and PostgreSQL (when DUBAN_TEST_PG_URL is set).

Migrating takes a second or two; hundreds of tests need a database. So the migrations run once per
test session (they are still exercised from scratch every run), and each test gets an empty copy:
SQLite copies the migrated file, PostgreSQL empties the migrated database's tables and restarts its
sequences (about 20 ms, where CREATE DATABASE ... TEMPLATE plus DROP took 0.4-1.5 s).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.kernel.clock import FakeClock
from store.db import Database, async_url

PG_URL = os.environ.get("DUBAN_TEST_PG_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])

# A Tuesday morning in Beijing, well inside a normal working week.
START = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


async def time_out_dialogs(app) -> int:  # noqa: ANN001 — a telegram.ext.Application
    """Run every open dialog's timeout job now, as PTB's JobQueue does when it falls due; how many ran.

    Dialog timeouts are 10-15 minutes of real time (PTB's JobQueue does not follow FakeClock), so a
    test fires the scheduled job itself (``Job.run``) instead of lowering the timeout and sleeping.
    """
    from telegram.ext import ConversationHandler

    jobs = [job for group in app.handlers.values() for handler in group
            if isinstance(handler, ConversationHandler) for job in list(handler.timeout_jobs.values())]
    for job in jobs:
        await job.run(app)
        job.schedule_removal()
    return len(jobs)


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


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file migrated to head, once per session (per xdist worker: each has its own tmp dir)."""
    path = tmp_path_factory.mktemp("migrated") / "template.sqlite3"

    async def build() -> None:
        database = Database(f"sqlite:///{path}")
        await database.upgrade()
        async with database.engine.connect() as conn:  # everything into the main file before copying it
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        await database.dispose()

    asyncio.run(build())
    return path


# Empties every table but Alembic's and restarts every sequence, in one statement. As a superuser
# (CI, developers) rows are deleted with foreign-key triggers off, which is far faster than TRUNCATE
# on an almost empty database; otherwise TRUNCATE ... RESTART IDENTITY.
PG_EMPTY = """
DO $$
DECLARE
    tables text := (SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') FROM pg_tables
                    WHERE schemaname = 'public' AND tablename <> 'alembic_version');
    r record;
BEGIN
    IF tables IS NULL THEN
        RETURN;
    END IF;
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'TRUNCATE ' || tables || ' RESTART IDENTITY CASCADE';
        RETURN;
    END IF;
    PERFORM set_config('session_replication_role', 'replica', true);
    FOR r IN SELECT schemaname, tablename FROM pg_tables
             WHERE schemaname = 'public' AND tablename <> 'alembic_version' LOOP
        EXECUTE format('DELETE FROM %I.%I', r.schemaname, r.tablename);
    END LOOP;
    FOR r IN SELECT schemaname, sequencename FROM pg_sequences WHERE schemaname = 'public' LOOP
        EXECUTE format('ALTER SEQUENCE %I.%I RESTART', r.schemaname, r.sequencename);
    END LOOP;
END
$$
"""


async def _pg_execute(url: str, sql: str) -> list:
    engine = create_async_engine(async_url(url))
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(sql))
            return result.all() if result.returns_rows else []
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def pg_migrated(pg_url):
    """This run's PostgreSQL database migrated to head, once per session."""
    if not pg_url:
        return None

    async def build() -> None:
        database = Database(pg_url)
        await database.upgrade()
        await database.dispose()
        # Emptying tables is a fresh database only while migrations insert no rows.
        tables = await _pg_execute(pg_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                           "AND tablename <> 'alembic_version'")
        union = " UNION ALL ".join(f"SELECT '{t}' FROM \"{t}\" HAVING count(*) > 0" for (t,) in tables)
        seeded = await _pg_execute(pg_url, union) if union else []
        assert not seeded, f"migrations insert rows into {seeded}: the per-test reset in tests/conftest.py " \
                           "would delete them; keep them there"

    asyncio.run(build())
    return pg_url


@pytest.fixture(params=BACKENDS)
async def db(request, tmp_path, clock, sqlite_template, pg_migrated):  # noqa: ANN001
    """An empty, fully migrated database; each test gets its own."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copyfile(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        url = pg_migrated
        await _pg_execute(url, PG_EMPTY)
    database = Database(url, now=clock.now)
    yield database
    await database.dispose()
