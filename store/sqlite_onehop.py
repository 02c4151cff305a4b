"""aiosqlite with one thread round trip per statement instead of four.

aiosqlite runs every sqlite3 call on its own thread and hands each one over through a queue; the
hand-over (and the event-loop wake-up that answers it) costs more than a short SQLite statement
itself. SQLAlchemy's adapter makes four such calls per statement: create the cursor, execute,
fetch the rows, close the cursor. ``OneHopConnection.cursor()`` returns a cursor that does all of
it in one hand-over — execute, fetch up to ``PREFETCH`` rows and close the sqlite3 cursor once the
rows are exhausted — and answers ``fetchall``/``fetchmany`` from what it fetched. A result longer
than ``PREFETCH`` rows is read on in further hand-overs of ``PREFETCH`` rows, so a streamed
result (``yield_per``) still holds at most that many rows at a time.

Commit and rollback skip the hand-over when no transaction is open (a read-only unit of work).
Everything else (the worker thread, the isolation level SQLAlchemy sets through the queue) is
aiosqlite's own. Issue 11: a /help went from nine hand-overs to three.

A read runs on the event loop's own thread, with no hand-over at all, when it is done within
``INLINE_BUDGET``: a bot's reads (a person, a page of a list) take microseconds in SQLite, and
the hand-over with its wake-ups took 0.1-0.2 ms of CPU each. A read that runs longer is stopped
there by SQLite's progress handler (a stopped SELECT changes nothing, not even the transaction
around it) and run again on aiosqlite's thread, so a long one (the office's list of 100,000, an
export) never holds the loop for more than the budget. Writes go to the thread: one may wait for
another connection's lock (``busy_timeout``), a reader in WAL mode does not; where the database is
not in WAL mode (``inline_reads``, set by ``store.db``), reads stay on the thread too.

One kind of write runs on the loop's thread as well: a statement that commits itself, on a
connection in autocommit mode that ``store.db`` marks ``inline_writes`` (the durable inbox's
bookkeeping, written for every update). It is tried without waiting for the write lock
(``busy_timeout`` 0) and within the same budget; refused (another connection writes) or stopped,
it changed nothing (SQLite rolls a stopped statement back, its implicit transaction with it) and
goes to the thread, where it waits for the lock as before. The thread's hand-over cost more than
such a write: a burst's marks made the GIL pass between the two threads several times each. Such a
connection never checkpoints as it commits (a checkpoint copies pages and syncs the file, and
SQLite cannot stop it at the budget): every ``CHECKPOINT_EVERY``-th write goes to the thread and
a passive checkpoint follows it there.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

import aiosqlite

T = TypeVar("T")
PREFETCH = 500  # rows fetched with the statement; a longer result is read on in steps of this
INLINE_BUDGET = 0.002  # seconds a read may hold the event loop before it moves to aiosqlite's thread
PROGRESS_STEPS = 2000  # SQLite VM instructions between two looks at that budget
CHECKPOINT_EVERY = 64  # writes of an ``inline_writes`` connection between two checkpoints (on its thread)


def configure(cursor: Any) -> bool:
    """Every connection of ours to a SQLite database (the engines' and the fast writer's, through a
    DB-API cursor): WAL mode (the file keeps it), foreign keys, up to 5 s of waiting for another
    connection's write lock, the log synced at checkpoints only. True in WAL mode: reads may then
    run on the event loop's thread, as no writer can make them wait. A file system without WAL
    leaves the rollback journal, where a read waits for a writer's lock (busy_timeout) — on
    aiosqlite's thread, then, not on the loop."""
    cursor.execute("PRAGMA journal_mode=WAL")
    wal = str(cursor.fetchone()[0]).lower() == "wal"
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    return wal


def _is_read(sql: str) -> bool:
    return sql.lstrip()[:6].upper() == "SELECT"


class OneHopCursor:
    """The part of aiosqlite's Cursor SQLAlchemy uses, one hand-over per statement."""

    def __init__(self, conn: OneHopConnection) -> None:
        self._conn = conn
        self._cursor: sqlite3.Cursor | None = None  # open only while a long result is being read
        self._rows: deque[Any] = deque()
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    async def __aenter__(self) -> OneHopCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _run(self, sql: str, parameters: Any, many: bool) -> tuple[Any, int, int | None, list[Any], bool]:
        """On aiosqlite's thread: the statement, its first rows, and whether more are left."""
        if self._cursor is not None:  # a previous long result nobody read to the end
            self._cursor.close()
        cur = self._conn.sqlite.cursor()
        if many:
            cur.executemany(sql, parameters)
        else:
            cur.execute(sql, parameters)
        rows = cur.fetchmany(PREFETCH) if cur.description else []
        more = len(rows) == PREFETCH
        answer = (cur.description, cur.rowcount, cur.lastrowid, rows, more)  # read before closing
        self._cursor = cur if more else None
        if not more:
            cur.close()
        return answer

    async def _execute(self, sql: str, parameters: Any, many: bool) -> OneHopCursor:
        conn = self._conn
        answer = None
        if not many and _is_read(sql):
            if conn.inline_reads:
                answer = conn.run_inline(self._run, sql, parameters, many)
        elif conn.writes_commit_themselves():
            # executemany in autocommit mode commits each set of parameters on its own: never inline
            answer = None if many else conn.write_inline(self._run, sql, parameters, many)
            if answer is None:
                answer = await conn.run(conn.write_then_checkpoint, self._run, sql, parameters, many)
        if answer is None:
            answer = await conn.run(self._run, sql, parameters, many)
        description, self.rowcount, self.lastrowid, rows, _ = answer
        self.description = description
        self._rows = deque(rows)
        return self

    async def execute(self, sql: str, parameters: Any = ()) -> OneHopCursor:
        return await self._execute(sql, parameters if parameters is not None else (), False)

    async def executemany(self, sql: str, parameters: Any) -> OneHopCursor:
        return await self._execute(sql, parameters, True)

    def _read_on(self, size: int | None) -> list[Any]:
        """On aiosqlite's thread: the next rows of a long result (all of them for ``None``)."""
        cur = self._cursor
        if cur is None:
            return []
        rows = cur.fetchall() if size is None else cur.fetchmany(size)
        if size is None or len(rows) < size:
            cur.close()
            self._cursor = None
        return rows

    async def _refill(self, size: int | None) -> None:
        if self._cursor is not None:
            self._rows.extend(await self._conn.run(self._read_on, size))

    async def fetchone(self) -> Any:
        if not self._rows:
            await self._refill(PREFETCH)
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = size or self.arraysize
        if len(self._rows) < size:
            await self._refill(max(size - len(self._rows), PREFETCH))
        return [self._rows.popleft() for _ in range(min(size, len(self._rows)))]

    async def fetchall(self) -> list[Any]:
        await self._refill(None)
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def __aiter__(self) -> OneHopCursor:
        return self

    async def __anext__(self) -> Any:
        if not self._rows:
            await self._refill(PREFETCH)
        if not self._rows:
            raise StopAsyncIteration
        return self._rows.popleft()

    async def close(self) -> None:
        self._rows.clear()
        if self._cursor is not None:
            cur, self._cursor = self._cursor, None
            await self._conn.run(cur.close)


class OneHopConnection(aiosqlite.Connection):
    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        def connect_watched() -> sqlite3.Connection:
            conn = connector()
            conn.set_progress_handler(self._out_of_time, PROGRESS_STEPS)
            return conn

        super().__init__(connect_watched, iter_chunk_size=64)
        self._thread.daemon = True  # as SQLAlchemy sets it for aiosqlite: never holds up exit
        self._deadline: float | None = None  # set while a read runs on the event loop's thread
        self._stopped = False
        self.inline_reads = False  # set by store.db once the database is known to be in WAL mode
        # Set by store.db (``allow_inline_writes``) for a connection in autocommit mode in WAL mode.
        self.inline_writes = False
        self._busy_timeout_ms = 0  # the connection's own, restored after an inline write
        self._writes = 0  # since the last checkpoint

    def _out_of_time(self) -> int:
        """SQLite's progress handler: non-zero stops the running statement ("interrupted")."""
        if self._deadline is not None and time.perf_counter() > self._deadline:
            self._stopped = True
            return 1
        return 0

    async def _connect(self) -> OneHopConnection:
        try:
            await super()._connect()
        except BaseException:
            # aiosqlite queues its thread's stop and returns: when the open failed at start-up (a
            # read-only folder) asyncio.run closed the loop before the thread answered, and the
            # thread died on "Event loop is closed". Waiting for the thread ends it first.
            await asyncio.to_thread(self._thread.join, 5)
            raise
        return self

    def cursor(self) -> OneHopCursor:  # type: ignore[override]  # SQLAlchemy enters it with `async with`
        return OneHopCursor(self)

    async def commit(self) -> None:
        # Nothing written, nothing to commit: a read-only unit of work (a /help's look-up of the
        # person) costs no hand-over for its end. in_transaction is read without touching SQLite.
        if self._conn.in_transaction:
            await super().commit()

    async def rollback(self) -> None:
        if self._conn.in_transaction:
            await super().rollback()

    @property
    def sqlite(self) -> sqlite3.Connection:
        """The sqlite3 connection; use it only in a function given to ``run``."""
        return self._conn

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the connection's thread: one hand-over."""
        return await self._execute(fn, *args)

    def allow_inline_writes(self) -> None:
        """Once it is open, while its thread is idle: let its self-committing writes run on the
        loop's thread (see the module's docstring); its checkpoints are then ``write_then_checkpoint``'s."""
        self._conn.execute("PRAGMA wal_autocheckpoint=0")
        self._busy_timeout_ms = int(self._conn.execute("PRAGMA busy_timeout").fetchone()[0])
        self.inline_writes = True

    def writes_commit_themselves(self) -> bool:
        """An ``inline_writes`` connection in autocommit mode, outside any transaction."""
        return self.inline_writes and self._conn.isolation_level is None and not self._conn.in_transaction

    def write_inline(self, fn: Callable[..., T], *args: Any) -> T | None:
        """A self-committing write run here (``run_inline``) if SQLite takes the write lock at once
        and is done within the budget; None if it was refused or stopped (it changed nothing), or
        if this write is the one that checkpoints: it goes to the thread then."""
        if self._writes + 1 >= CHECKPOINT_EVERY:
            return None
        sqlite = self._conn
        sqlite.execute("PRAGMA busy_timeout=0")
        try:
            answer = self.run_inline(fn, *args)
        except sqlite3.OperationalError:  # "database is locked" and such: the thread waits, or says why
            answer = None
        finally:
            sqlite.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
        if answer is not None:
            self._writes += 1
        return answer

    def write_then_checkpoint(self, fn: Callable[..., T], *args: Any) -> T:
        """On the connection's thread: a write that did not run inline, and the checkpoint that is
        due after ``CHECKPOINT_EVERY`` writes (passive: it waits for no reader or writer)."""
        answer = fn(*args)
        self._writes += 1
        if self._writes >= CHECKPOINT_EVERY and not self._conn.in_transaction:  # not with a result half read
            self._writes = 0
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        return answer

    def run_inline(self, fn: Callable[..., T], *args: Any) -> T | None:
        """``fn(*args)`` here, on the event loop's thread, if SQLite is done within INLINE_BUDGET;
        None if it was stopped for taking longer. Only for reads and self-committing writes: a
        stopped one changed nothing. The connection's thread is idle meanwhile: its user awaits
        every call it makes."""
        self._deadline, self._stopped = time.perf_counter() + INLINE_BUDGET, False
        try:
            return fn(*args)
        except sqlite3.OperationalError:
            if self._stopped:
                return None
            raise
        finally:
            self._deadline = None


def connect(database: str, **kwargs: Any) -> OneHopConnection:
    """Like ``aiosqlite.connect``: the connection is opened when awaited; its thread is a daemon."""

    def connector() -> sqlite3.Connection:
        return sqlite3.connect(database, **kwargs)

    return OneHopConnection(connector)
