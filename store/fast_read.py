"""A list's page read straight from SQLite, without SQLAlchemy's execution around it.

A list page (``bot.domain.views.open_items_for``) is one Core statement, built once per shape, read
as plain rows; every /items and every page turned runs it. On SQLite the database's work on such a
page is a few hundredths of a millisecond, and SQLAlchemy's around it (a pooled connection checked
out and returned, the execution context, the result's rows) cost about twice that: issue 11's tap
and /items figures were mostly this.

``FastReader`` runs such a statement on a SQLite connection of its own, on the event loop's thread
within the inline budget of ``store.sqlite_onehop``: the statement is compiled once by SQLAlchemy,
and its parameters and columns go through the column types' own conversions, as SQLAlchemy would
apply them. The engine's ``before_cursor_execute`` and ``after_cursor_execute`` listeners are told
of each statement read here (with no connection, cursor or context), so statement counts stay true;
a listener that fails without them has the read done through SQLAlchemy instead. It never runs inside a
transaction: each read sees what is committed when it runs, as a read through
``Database.reading()`` does.

A read that runs past the inline budget is stopped there (changing nothing) and run again on the
connection's aiosqlite thread; meanwhile other reads go the usual way. ``rows`` falls back to the
session's own connection wherever the reader does not apply: PostgreSQL, an in-memory database
(another connection would be another database), a database not in WAL mode, a statement SQLAlchemy
expands at execution (an ``IN`` of a list), and while the reader's connection is on its thread.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from store import sqlite_onehop

log = logging.getLogger("duban.fast_read")

READER = "fast_reader"  # the key of a session's ``info`` that holds the reader (Database.reading)

Convert = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Plan:
    """A statement compiled once: its SQL, its parameters in order, and the conversions."""

    sql: str
    names: tuple[str, ...]
    fixed: Mapping[str, Any]  # parameters the statement carries itself (its literals)
    to_db: tuple[Convert, ...]
    from_db: tuple[tuple[int, Callable[[Any], Any]], ...]  # the columns that have a conversion

    @classmethod
    def of(cls, stmt: Executable, dialect: Dialect) -> _Plan | None:
        compiled = stmt.compile(dialect=dialect)  # type: ignore[attr-defined]  # every statement has it
        names = tuple(compiled.positiontup or ())
        binds = [compiled.binds[name] for name in names]
        if any(b.expanding or b.literal_execute or b.callable for b in binds) or "POSTCOMPILE" in compiled.string:
            return None  # SQLAlchemy rewrites or evaluates these at execution; leave them to it
        columns = list(getattr(stmt, "selected_columns", ()))  # a write without RETURNING has none
        return cls(
            sql=compiled.string,
            names=names,
            fixed={name: b.effective_value for name, b in zip(names, binds, strict=True) if not b.required},
            to_db=tuple(b.type.dialect_impl(dialect).bind_processor(dialect) for b in binds),
            from_db=tuple(
                (i, convert)
                for i, c in enumerate(columns)
                if (convert := c.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
            ),
        )

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        out = []
        for name, convert in zip(self.names, self.to_db, strict=True):
            value = params[name] if name in params else self.fixed[name]
            out.append(convert(value) if convert is not None and value is not None else value)
        return out

    def row(self, found: tuple[Any, ...]) -> Sequence[Any]:
        if not self.from_db:
            return found
        row = list(found)
        for i, convert in self.from_db:
            row[i] = convert(row[i])
        return row


class FastReader:
    """Reads on a SQLite connection of its own (see the module's docstring); one per Database."""

    def __init__(self, engine: AsyncEngine, connect: Callable[[], sqlite_onehop.OneHopConnection]) -> None:
        self._engine = engine
        self._connect = connect
        self._connection: sqlite_onehop.OneHopConnection | None = None
        self._opening = asyncio.Lock()
        self._usable: bool | None = None  # unknown until the connection is open
        self._on_thread = False  # a long read is on the connection's thread: others go the usual way
        self._plans: weakref.WeakKeyDictionary[Executable, _Plan | None] = weakref.WeakKeyDictionary()

    def _prepare(self, conn: sqlite_onehop.OneHopConnection) -> bool:
        """On the connection's thread, once: read-only (should it ever be given a write, SQLite
        refuses); usable in WAL mode. The engine's connections put the database in WAL mode (the
        file keeps it); outside it a read may wait for a writer's lock, which must not be on the loop."""
        conn.sqlite.execute("PRAGMA query_only=ON")
        return str(conn.sqlite.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal"

    def _plan(self, stmt: Executable) -> _Plan | None:
        if stmt not in self._plans:
            self._plans[stmt] = _Plan.of(stmt, self._engine.dialect)
        return self._plans[stmt]

    async def _open(self) -> sqlite_onehop.OneHopConnection | None:
        async with self._opening:
            if self._usable is None:
                conn = self._connect()
                try:
                    await conn  # opened on aiosqlite's thread
                    self._usable = conn.inline_reads = await conn.run(self._prepare, conn)
                except (sqlite3.Error, OSError):
                    # its statements go the usual way
                    log.warning("event=fast_connection_unavailable kind=%s", type(self).__name__, exc_info=True)
                    self._usable = False
                if self._usable:
                    self._connection = conn
                else:
                    await conn.close()
        return self._connection

    async def _ready(self, stmt: Executable) -> tuple[sqlite_onehop.OneHopConnection, _Plan] | None:
        """The connection and the statement's plan; None where the statement is not run here."""
        if self._usable is False or self._on_thread:
            return None  # not here; or this connection is on its thread (one user at a time)
        conn = self._connection or await self._open()
        plan = self._plan(stmt) if conn is not None else None
        return None if conn is None or plan is None else (conn, plan)

    async def rows(self, stmt: Select, params: Mapping[str, Any]) -> list[Sequence[Any]] | None:
        """The statement's rows, its columns in order; None when it is not read here (fall back)."""
        ready = await self._ready(stmt)
        if ready is None:
            return None
        conn, plan = ready
        arguments = plan.arguments(params)
        # sqlite_onehop's cursor reads on the loop's thread within the budget, else on the
        # connection's thread. Only the latter suspends, so only then can another read see the flag.
        self._on_thread = True
        try:
            async with conn.cursor() as cursor:
                found = await (await cursor.execute(plan.sql, arguments)).fetchall()
        except sqlite3.OperationalError:
            return None  # busy (no busy_timeout here: the loop never waits), or such: the session's way
        finally:
            self._on_thread = False
        if not self._tell_listeners(plan.sql, arguments):
            return None
        return [plan.row(row) for row in found]

    def _tell_listeners(self, sql: str, arguments: list[Any]) -> bool:
        """The engine's statement listeners, told of a read done here as SQLAlchemy tells them,
        but with no connection, cursor or context; after the read, so a read that falls back is
        not counted twice. False when a listener failed on that (it needed the connection): the
        read is then done through SQLAlchemy, which tells it properly."""
        dispatch = self._engine.sync_engine.dispatch
        try:
            if dispatch.before_cursor_execute:
                dispatch.before_cursor_execute(None, None, sql, arguments, None, False)
            if dispatch.after_cursor_execute:
                dispatch.after_cursor_execute(None, None, sql, arguments, None, False)
        except Exception:  # someone else's listener: any failure means "not here"
            log.debug("event=fast_read_listener_failed", exc_info=True)
            return False
        return True

    async def close(self) -> None:
        """Close the connection; a later statement opens it again (``Database.dispose`` between
        the start-up checks' event loop and the Application's)."""
        self._usable = None
        if self._connection is not None:
            conn, self._connection = self._connection, None
            await conn.close()


async def rows(session: AsyncSession, stmt: Select, params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
    """``stmt``'s rows, its columns in order: through the session's fast reader if it has one and
    it applies, else through the session's connection."""
    reader: FastReader | None = session.info.get(READER)
    if reader is not None:
        found = await reader.rows(stmt, params)
        if found is not None:
            return found
    connection = await session.connection()
    return (await connection.execute(stmt, params)).all()
