"""store.sqlite_onehop: at most one thread hand-over per statement (none for a short read),
results and streaming unchanged."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

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

    async def counted(self, fn, *args, **kwargs):
        calls.append(fn)
        return await real(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return calls


async def test_a_write_is_one_hand_over_and_a_short_read_none(sqlite_db, hand_overs):
    async with sqlite_db.engine.connect() as conn:
        hand_overs.clear()
        await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": "a"})
        assert len(hand_overs) == 1
        hand_overs.clear()
        row = (await conn.execute(text("SELECT v, 1 + 1 FROM t"))).one()
        assert row == ("a", 2) and hand_overs == []


async def _with_thread_id(conn) -> None:
    """``tid()`` in SQL: the thread that runs the statement."""
    onehop = (await conn.get_raw_connection()).driver_connection
    await onehop.run(onehop.sqlite.create_function, "tid", 0, threading.get_ident)


# A read that takes SQLite a while (a statement that starts with WITH is never taken for a read).
COUNT_TO = "FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) SELECT x FROM c)"


async def test_a_read_runs_on_the_loop_thread_until_its_budget_is_spent(sqlite_db, monkeypatch):
    loop_thread = threading.get_ident()
    async with sqlite_db.engine.connect() as conn:
        await _with_thread_id(conn)
        monkeypatch.setattr(sqlite_onehop, "INLINE_BUDGET", 60.0)
        assert (await conn.execute(text(f"SELECT count(*), tid() {COUNT_TO}"))).one() == (200000, loop_thread)
        # Out of budget at SQLite's first look at the clock: stopped, and run again on the thread.
        monkeypatch.setattr(sqlite_onehop, "INLINE_BUDGET", 0.0)
        count, thread = (await conn.execute(text(f"SELECT count(*), tid() {COUNT_TO}"))).one()
        assert count == 200000 and thread != loop_thread


async def test_a_read_stopped_on_the_loop_thread_leaves_its_transaction_whole(sqlite_db, monkeypatch):
    monkeypatch.setattr(sqlite_onehop, "INLINE_BUDGET", 0.0)
    async with sqlite_db.engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (v) VALUES ('kept')"))
        assert (await conn.execute(text(f"SELECT count(*) {COUNT_TO}"))).scalar_one() == 200000
        await conn.execute(text("INSERT INTO t (v) VALUES ('also kept')"))
    async with sqlite_db.engine.connect() as conn:
        assert (await conn.execute(text("SELECT v FROM t ORDER BY id"))).scalars().all() == ["kept", "also kept"]


async def test_a_write_never_runs_on_the_loop_thread(sqlite_db, monkeypatch):
    monkeypatch.setattr(sqlite_onehop, "INLINE_BUDGET", 60.0)
    async with sqlite_db.engine.begin() as conn:
        await _with_thread_id(conn)
        await conn.execute(text("INSERT INTO t (v) SELECT tid()"))
        assert int((await conn.execute(text("SELECT v FROM t"))).scalar_one()) != threading.get_ident()


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


async def test_without_wal_a_read_stays_on_the_thread(monkeypatch):
    """In the rollback journal a read waits for a writer's lock: never on the loop's thread. An
    in-memory database has no WAL (its journal_mode stays "memory"), like a file system without it."""
    monkeypatch.setattr(sqlite_onehop, "INLINE_BUDGET", 60.0)
    db = Database("sqlite:///:memory:")
    try:
        async with db.engine.connect() as conn:
            await _with_thread_id(conn)
            raw = await conn.get_raw_connection()
            assert raw.driver_connection.inline_reads is False
            assert (await conn.execute(text("SELECT tid()"))).scalar_one() != threading.get_ident()
    finally:
        await db.dispose()


async def test_a_bookkeeping_write_commits_itself_on_the_loop_thread(sqlite_db, hand_overs, monkeypatch):
    """``Database.autocommit``: the durable inbox's INSERT and UPDATE, run for every update, need no
    COMMIT after them, and where nothing else writes they run on the loop's thread: no hand-over."""
    monkeypatch.setattr(sqlite_onehop, "INLINE_BUDGET", 60.0)
    async with sqlite_db.autocommit.begin() as conn:
        await _with_thread_id(conn)  # the connection is opened (and set up) before counting
        hand_overs.clear()
        await conn.execute(text("INSERT INTO t (v) SELECT tid()"))
    assert hand_overs == []
    async with sqlite_db.engine.connect() as other:
        assert (await other.execute(text("SELECT v FROM t"))).scalars().all() == [str(threading.get_ident())]


async def test_a_bookkeeping_write_waits_for_anothers_lock_on_the_thread_not_the_loop(sqlite_db):
    loop_thread = threading.get_ident()
    async with sqlite_db.autocommit.connect() as bookkeeping:
        await _with_thread_id(bookkeeping)
        async with sqlite_db.engine.begin() as other:
            await other.execute(text("INSERT INTO t (v) VALUES ('first')"))  # holds the write lock
            write = asyncio.create_task(bookkeeping.execute(text("INSERT INTO t (v) SELECT tid()")))
            for _ in range(20):  # let it try: refused at once on the loop, then waiting on its thread
                await asyncio.sleep(0)
            assert not write.done()
        await write  # the lock is free once the other transaction committed
    async with sqlite_db.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT v FROM t ORDER BY id"))).scalars().all()
    assert rows[0] == "first" and int(rows[1]) != loop_thread and len(rows) == 2


async def test_a_bookkeeping_write_out_of_budget_is_done_once_on_the_thread(sqlite_db, monkeypatch):
    """Stopped on the loop's thread, the write changed nothing: run again, its rows are there once."""
    monkeypatch.setattr(sqlite_onehop, "INLINE_BUDGET", 0.0)
    async with sqlite_db.autocommit.connect() as conn:
        await _with_thread_id(conn)
        await conn.execute(text(f"INSERT INTO t (v) SELECT tid() {COUNT_TO}"))
    async with sqlite_db.engine.connect() as conn:
        count, threads = (await conn.execute(text("SELECT count(*), count(DISTINCT v) FROM t"))).one()
        thread = (await conn.execute(text("SELECT v FROM t LIMIT 1"))).scalar_one()
    assert (count, threads) == (200000, 1) and int(thread) != threading.get_ident()


async def test_bookkeeping_writes_leave_checkpoints_to_the_thread(sqlite_db, monkeypatch, tmp_path):
    """A checkpoint copies pages and syncs the file, and SQLite cannot stop it at the budget: the
    loop's writes never run one; every CHECKPOINT_EVERY-th write goes to the thread with one."""
    monkeypatch.setattr(sqlite_onehop, "INLINE_BUDGET", 60.0)
    monkeypatch.setattr(sqlite_onehop, "CHECKPOINT_EVERY", 4)
    loop_thread = threading.get_ident()
    async with sqlite_db.autocommit.connect() as conn:
        await _with_thread_id(conn)
        for _ in range(8):
            await conn.execute(text("INSERT INTO t (v) SELECT tid()"))
        assert (await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar_one() == 0
    async with sqlite_db.engine.connect() as conn:
        threads = [int(v) for v in (await conn.execute(text("SELECT v FROM t ORDER BY id"))).scalars()]
    assert [t == loop_thread for t in threads] == [True, True, True, False] * 2


async def test_the_write_ahead_log_stays_small_under_bookkeeping_writes_alone(sqlite_db):
    """Nothing else writes (a burst of /help): the thread's checkpoints keep the log from growing."""
    wal = Path(make_url(sqlite_db.url).database + "-wal")
    async with sqlite_db.autocommit.connect() as conn:
        for n in range(sqlite_onehop.CHECKPOINT_EVERY * 6):
            await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": "x" * 3000 + str(n)})
    # Each write adds about three pages to the log: 384 writes would leave some 4.7 MB without the
    # checkpoints; with them, the log starts again after each, and holds one round of writes at most.
    assert wal.stat().st_size < (sqlite_onehop.CHECKPOINT_EVERY + 1) * 4 * (4096 + 24)


async def test_an_in_memory_database_writes_its_bookkeeping_in_transactions_as_before():
    """Its one connection is the database: a second engine would open another, empty one."""
    db = Database("sqlite:///:memory:")
    try:
        assert db.autocommit is db.engine and db.sync_engines == [db.engine.sync_engine]
    finally:
        await db.dispose()
