"""store.fast_read: a list page's statement read past SQLAlchemy's execution on SQLite gives the
rows SQLAlchemy gives, sees every commit, is counted by the engine's statement listeners, and
falls back to the session's connection wherever it does not apply (PostgreSQL among them)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import date

import pytest
from sqlalchemy import bindparam, event, func, literal, select

from store import fast_read, sqlite_onehop
from store.audit import Actor
from store.models import Person, Unit
from store.workflow import Assignment, Item


async def _county(db, clock) -> None:
    async with db.session(Actor.system("test"), "seed") as s:
        unit = Unit(name="城关镇", kind="town", created_at=clock.now())
        author = Person(name="王敏", created_at=clock.now())
        s.add_all([unit, author])
        await s.flush()
        for n, due in enumerate((date(2026, 12, 10), None), start=1):
            item = Item(year=2026, number=n, title=f"事项{n}", requirements="按要求办理。", source="other", importance="important",
                        state="in_progress", due_date=due, created_by_id=author.id, created_at=clock.now(),
                        confidential=n == 2)
            s.add(item)
            await s.flush()
            s.add(Assignment(item_id=item.id, unit_id=unit.id, role="lead", state="acknowledged",
                             due_date=due, acknowledged_at=clock.now(), created_at=clock.now()))


# Dates, a timestamp, a boolean, labels, a parameter and a literal the statement carries itself.
PAGE = (
    select(
        Item.id,
        Item.title.label("title"),
        Item.due_date,
        Item.confidential,
        Assignment.acknowledged_at.label("acknowledged"),
        literal("固定").label("fixed"),
    )
    .join(Assignment, Assignment.item_id == Item.id)
    .where(Item.state == "in_progress", func.coalesce(Item.due_date, bindparam("today")) >= bindparam("today"))
    .order_by(Item.id)
)


async def _by_sqlalchemy(db, stmt, params) -> list[tuple]:
    async with db.session() as s:
        return [tuple(row) for row in await s.execute(stmt, params)]


async def test_rows_are_the_rows_sqlalchemy_reads_with_their_types(db, clock):
    await _county(db, clock)
    params = {"today": date(2026, 12, 1)}
    async with db.reading() as s:
        found = [tuple(row) for row in await fast_read.rows(s, PAGE, params)]
        # On SQLite no connection of the session was used (it would have begun a transaction).
        assert s.in_transaction() is not db.is_sqlite
    expected = await _by_sqlalchemy(db, PAGE, params)
    assert found == expected and len(found) == 2
    item_id, title, due, confidential, acknowledged, fixed = found[0]
    assert isinstance(due, date) and confidential is False and found[1][3] is True
    assert acknowledged == clock.now() and acknowledged.tzinfo is not None
    assert fixed == "固定"


async def test_each_read_sees_what_was_committed_before_it(db, clock):
    """The reader's connection holds no transaction between reads: no stale snapshot."""
    await _county(db, clock)
    count = select(func.count().label("n")).select_from(Item)
    async with db.reading() as s:
        assert (await fast_read.rows(s, count, {}))[0][0] == 2
    async with db.session() as s:
        (await s.get(Item, 1)).title = "改了"
        s.add(Item(year=2026, number=3, title="事项3", requirements="按要求办理。", source="other", importance="normal", state="draft",
                   created_by_id=1, created_at=clock.now()))
    async with db.reading() as s:
        assert (await fast_read.rows(s, count, {}))[0][0] == 3
        titles = await fast_read.rows(s, select(Item.title).order_by(Item.id), {})
    assert [title for (title,) in titles] == ["改了", "事项2", "事项3"]


async def test_the_engines_statement_listeners_count_each_read_once(db, clock):
    await _county(db, clock)
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with db.reading() as s:
            await fast_read.rows(s, PAGE, {"today": date(2026, 12, 1)})
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert len(seen) == 1 and seen[0].lstrip().upper().startswith("SELECT")


async def test_a_listener_that_needs_the_connection_gets_the_read_through_sqlalchemy(db, clock):
    """Someone else's listener (a harness, a tracer) may read the connection SQLAlchemy passes;
    the fast reader has none to pass, so that read goes through SQLAlchemy: still answered."""
    await _county(db, clock)
    seen: list[object] = []

    def needs_the_connection(conn, _cursor, statement, *_args) -> None:
        seen.append(conn.info)  # AttributeError on None

    event.listen(db.engine.sync_engine, "before_cursor_execute", needs_the_connection)
    try:
        async with db.reading() as s:
            found = await fast_read.rows(s, PAGE, {"today": date(2026, 12, 1)})
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", needs_the_connection)
    assert len(found) == 2 and len(seen) == 1


async def test_a_read_past_the_budget_is_run_again_on_a_thread(db, monkeypatch):
    """A read that holds the event loop longer than the inline budget is stopped and read again
    on aiosqlite's thread (the reader's own on SQLite): the same answer, counted once, and the
    loop was not held for the whole read."""
    numbers = select(literal(1).label("x")).cte("numbers", recursive=True)
    numbers = numbers.union_all(select(numbers.c.x + 1).where(numbers.c.x < 300000))
    slow = select(func.count().label("n")).select_from(numbers)
    on_threads: list[int] = []
    real_run = sqlite_onehop.OneHopConnection.run

    async def run(self, fn, *args):
        on_threads.append(1)
        return await real_run(self, fn, *args)

    monkeypatch.setattr(sqlite_onehop.OneHopConnection, "run", run)
    seen: list[str] = []
    event.listen(db.engine.sync_engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    async with db.reading() as s:
        assert (await fast_read.rows(s, slow, {}))[0][0] == 300000
        assert s.in_transaction() is not db.is_sqlite  # on SQLite the reader read it, not the session
    assert len(seen) == 1
    if db.is_sqlite:
        assert on_threads  # stopped on the loop at the budget, then read on the thread


async def test_while_the_reader_reads_on_its_thread_other_reads_go_the_usual_way(db, clock, monkeypatch):
    if not db.is_sqlite:
        pytest.skip("the reader is SQLite's")
    await _county(db, clock)
    async with db.reading() as s:
        await fast_read.rows(s, select(Item.title), {})  # the reader's connection is open
    numbers = select(literal(1).label("x")).cte("numbers", recursive=True)
    numbers = numbers.union_all(select(numbers.c.x + 1).where(numbers.c.x < 300000))
    slow = select(func.count().label("n")).select_from(numbers)
    on_thread = asyncio.Event()
    real_run = sqlite_onehop.OneHopConnection.run

    async def run(self, fn, *args):
        if self is db.fast_reader._connection:  # noqa: SLF001  (the reader's, not a pooled connection's)
            on_thread.set()
        return await real_run(self, fn, *args)

    monkeypatch.setattr(sqlite_onehop.OneHopConnection, "run", run)

    async def read_slow() -> int:
        async with db.reading() as s:
            return (await fast_read.rows(s, slow, {}))[0][0]

    slow_read = asyncio.create_task(read_slow())
    await asyncio.wait_for(on_thread.wait(), 10)
    async with db.reading() as s:
        titles = [title for (title,) in await fast_read.rows(s, select(Item.title).order_by(Item.id), {})]
        assert s.in_transaction()  # read through the session's own connection, not the busy reader
    assert titles == ["事项1", "事项2"]
    assert await asyncio.wait_for(slow_read, 60) == 300000


async def test_a_statement_sqlalchemy_expands_goes_the_usual_way(db, clock):
    await _county(db, clock)
    by_ids = select(Item.number).where(Item.id.in_(bindparam("ids", expanding=True))).order_by(Item.id)
    async with db.reading() as s:
        assert [number for (number,) in await fast_read.rows(s, by_ids, {"ids": [1, 2]})] == [1, 2]
        assert s.in_transaction()


async def test_an_in_memory_database_has_no_reader(tmp_path):
    """Another connection to ``:memory:`` would be another, empty, database."""
    from store.db import Database

    memory = Database("sqlite://")
    try:
        assert memory.fast_reader is None
    finally:
        await memory.dispose()
    on_file = Database(f"sqlite:///{tmp_path / 'file.sqlite3'}")
    try:
        assert on_file.fast_reader is not None
    finally:
        await on_file.dispose()


async def test_the_readers_connection_cannot_write(db, clock):
    if not db.is_sqlite:
        pytest.skip("the reader is SQLite's")
    await _county(db, clock)
    async with db.reading() as s:
        await fast_read.rows(s, select(Item.id), {})  # opens the reader
    conn = db.fast_reader._connection  # noqa: SLF001
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        await conn.run(conn.sqlite.execute, "DELETE FROM items")
    async with db.reading() as s:
        assert len(await fast_read.rows(s, select(Item.id), {})) == 2


async def test_after_the_database_is_disposed_the_reader_opens_again(db, clock):
    """``python -m bot run`` disposes the database between its start-up checks and the Application."""
    await _county(db, clock)
    params = {"today": date(2026, 12, 1)}
    async with db.reading() as s:
        await fast_read.rows(s, PAGE, params)
    await db.dispose()
    async with db.reading() as s:
        assert len(await fast_read.rows(s, PAGE, params)) == 2
        assert s.in_transaction() is not db.is_sqlite  # on SQLite the reader read it again
