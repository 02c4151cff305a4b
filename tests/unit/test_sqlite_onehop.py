"""store.sqlite_onehop: one thread hand-over per statement, results and streaming unchanged."""

from __future__ import annotations

import aiosqlite
import pytest
from sqlalchemy import text

from store import sqlite_onehop
from store.db import Database


@pytest.fixture
async def sqlite_db(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'onehop.sqlite3'}")
    async with db.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
    yield db
    await db.dispose()


@pytest.fixture
def hand_overs(monkeypatch):
    """How many calls reach aiosqlite's thread."""
    calls = []
    real = aiosqlite.Connection._execute

    async def counted(self, fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls.append(fn)
        return await real(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return calls


async def test_a_statement_is_one_hand_over(sqlite_db, hand_overs):
    async with sqlite_db.engine.connect() as conn:
        hand_overs.clear()
        row = (await conn.execute(text("SELECT 1 + 1"))).one()
        assert row == (2,) and len(hand_overs) == 1
        hand_overs.clear()
        await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": "a"})
        assert len(hand_overs) == 1


async def test_writes_report_rowcount_and_lastrowid(sqlite_db):
    async with sqlite_db.engine.begin() as conn:
        result = await conn.execute(text("INSERT INTO t (v) VALUES ('x')"))
        assert result.lastrowid == 1
        await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": str(n)} for n in range(10)])  # executemany
        updated = await conn.execute(text("UPDATE t SET v = 'y' WHERE id <= 5"))
        assert updated.rowcount == 5
    async with sqlite_db.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 11


async def test_a_long_result_is_whole_and_a_stream_reads_on_in_steps(sqlite_db, hand_overs):
    n = sqlite_onehop.PREFETCH * 2 + 7
    async with sqlite_db.engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": str(i)} for i in range(n)])
    async with sqlite_db.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT id FROM t ORDER BY id"))).all()
        assert [r.id for r in rows] == list(range(1, n + 1))
        hand_overs.clear()
        seen = []
        result = await conn.stream(text("SELECT id FROM t ORDER BY id"))
        async for part in result.partitions(100):
            seen.extend(r.id for r in part)
        assert seen == list(range(1, n + 1))
        # execute (with the first 500 rows), then the rest in steps of 500: not one call per row
        assert len(hand_overs) <= 5


async def test_a_stream_left_early_closes_its_cursor(sqlite_db):
    async with sqlite_db.engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": str(i)} for i in range(1200)])
    async with sqlite_db.engine.connect() as conn:
        result = await conn.stream(text("SELECT id FROM t ORDER BY id"))
        first = await result.fetchmany(3)
        await result.close()
        assert [r.id for r in first] == [1, 2, 3]
        # the connection is usable afterwards
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 1200


async def test_errors_are_the_drivers_own(sqlite_db):
    from sqlalchemy.exc import OperationalError

    async with sqlite_db.engine.connect() as conn:
        with pytest.raises(OperationalError):
            await conn.execute(text("SELECT * FROM no_such_table"))
