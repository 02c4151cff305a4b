"""store.fast_write: the inbox's marks written past SQLAlchemy's execution on SQLite write what
SQLAlchemy writes, are counted by the engine's statement listeners, and go through SQLAlchemy
wherever the writer does not apply or SQLite refuses (PostgreSQL among them)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, update

from store import inbox as store_inbox
from store.models import InboxUpdate


async def _received(db, ids: list[int]) -> None:
    async with db.autocommit.begin() as conn:
        await store_inbox.record_many(conn, [(i, json.dumps({"update_id": i})) for i in ids], db.now())


async def _rows(db) -> dict[int, tuple]:
    async with db.session() as s:
        rows = await s.execute(select(InboxUpdate.update_id, InboxUpdate.status, InboxUpdate.handled_at))
        return {i: (status, at) for i, status, at in rows}


class _NoSqlAlchemy:
    """The autocommit engine's connections, refused: a write that reaches them fails the test."""

    def begin(self):
        raise AssertionError("written through SQLAlchemy")


async def test_marks_are_written_as_sqlalchemy_writes_them(db, clock, monkeypatch):
    await _received(db, [1, 2, 3, 4])
    clock.advance(minutes=1)
    await store_inbox.mark_handled(db, [2, 3], db.now())
    if db.is_sqlite:  # the same again, and nothing through SQLAlchemy's engine
        monkeypatch.setattr(db, "autocommit", _NoSqlAlchemy())
    await store_inbox.mark_handled(db, 4, db.now())
    rows = await _rows(db)
    assert rows[1] == ("received", None)
    assert rows[2] == rows[3] == rows[4] == ("handled", clock.now())  # aware UTC, read back by SQLAlchemy


async def test_each_mark_is_told_to_the_engines_statement_listeners_once(db, clock):
    await _received(db, [1, 2])
    seen: list[str] = []

    def listen(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith("UPDATE INBOX"):
            seen.append(statement)

    for engine in db.sync_engines:
        event.listen(engine, "before_cursor_execute", listen)
    try:
        await store_inbox.mark_handled(db, [1, 2], db.now())
    finally:
        for engine in db.sync_engines:
            event.remove(engine, "before_cursor_execute", listen)
    assert len(seen) == 1 and "update_id IN" in seen[0]


async def test_a_mark_runs_on_the_loop_thread_where_nothing_else_writes(db, clock):
    if not db.is_sqlite:
        pytest.skip("the writer is SQLite's")
    await _received(db, [1])
    await store_inbox.mark_handled(db, [1], db.now())  # opens the writer's connection
    conn = db.fast_writer._connection
    await conn.run(conn.sqlite.create_function, "tid", 0, threading.get_ident)
    stmt = update(InboxUpdate).values(payload=func.tid()).where(InboxUpdate.update_id == 1)
    assert await db.fast_writer.execute(stmt, {}) == 1
    async with db.session() as s:
        assert int(await s.scalar(select(InboxUpdate.payload))) == threading.get_ident()


async def test_where_sqlite_refuses_nothing_is_changed_and_the_caller_is_told(db, clock):
    if not db.is_sqlite:
        pytest.skip("the writer is SQLite's")
    await _received(db, [1, 2])
    clash = update(InboxUpdate).values(update_id=2).where(InboxUpdate.update_id == 1)  # a taken key
    assert await db.fast_writer.execute(clash, {}) is None
    assert set(await _rows(db)) == {1, 2}


async def test_while_the_writer_is_on_its_thread_marks_go_through_sqlalchemy(db, clock, monkeypatch):
    if not db.is_sqlite:
        pytest.skip("the writer is SQLite's")
    await _received(db, [1, 2])
    await store_inbox.mark_handled(db, [1], db.now())
    monkeypatch.setattr(db.fast_writer, "_on_thread", True)  # another write waits for the lock there
    clock.advance(seconds=5)
    await store_inbox.mark_handled(db, [2], db.now())
    rows = await _rows(db)
    assert rows[2] == ("handled", clock.now()) and rows[1][1] == clock.now() - timedelta(seconds=5)


async def test_a_listener_that_needs_the_connection_gets_the_mark_through_sqlalchemy(db, clock):
    await _received(db, [1])
    told: list[object] = []

    def needs_connection(conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith("UPDATE INBOX"):
            told.append(conn.engine)  # fails on None: the writer's statements have no connection

    for engine in db.sync_engines:
        event.listen(engine, "before_cursor_execute", needs_connection)
    try:
        await store_inbox.mark_handled(db, [1], db.now())
    finally:
        for engine in db.sync_engines:
            event.remove(engine, "before_cursor_execute", needs_connection)
    assert len(told) == 1 and (await _rows(db))[1][0] == "handled"


async def test_the_writer_does_not_read(db):
    if not db.is_sqlite:
        assert db.fast_writer is None
        return
    with pytest.raises(TypeError):
        await db.fast_writer.rows(select(InboxUpdate.update_id), {})


async def test_after_the_database_is_disposed_the_writer_opens_again(db, clock, monkeypatch):
    """``python -m bot run`` disposes the database between its start-up checks and the Application."""
    await _received(db, [1, 2])
    await store_inbox.mark_handled(db, [1], db.now())
    await db.dispose()
    if db.is_sqlite:
        monkeypatch.setattr(db, "autocommit", _NoSqlAlchemy())
    await store_inbox.mark_handled(db, [2], db.now())
    assert (await _rows(db))[2][0] == "handled"
