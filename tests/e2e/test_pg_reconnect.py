"""A pooled PostgreSQL connection the server closed (restart, idle timeout, an administrator's
pg_terminate_backend) is replaced before use: the next request is answered normally."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.e2e.conftest import ADMIN_ID


async def test_the_next_request_after_the_server_closed_the_pooled_connections_works(harness, caplog):
    if harness.db.is_sqlite:
        pytest.skip("PostgreSQL only: SQLite has no server to close the connection")
    admin = harness.emu.person("王敏", user_id=ADMIN_ID)
    await admin.send("/help")  # the pool now holds a connection
    killer = create_async_engine(harness.db.url)
    async with killer.connect() as conn:  # every connection of the bot's pool, from the outside
        killed = set((await conn.scalars(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ))).all())
        for pid in killed:
            assert await conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    await killer.dispose()
    assert killed

    caplog.set_level(logging.INFO)
    await admin.send("/help")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []  # not even retried
    assert "抱歉" not in admin.last.text and "/invite" in admin.last.text
    async with harness.db.engine.connect() as conn:
        assert await conn.scalar(text("SELECT pg_backend_pid()")) not in killed  # replaced, not reused
