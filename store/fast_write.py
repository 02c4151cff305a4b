"""The durable inbox's marks written straight to SQLite, past SQLAlchemy's execution.

Every update handled is marked in the inbox (``bot.runtime.inbox``), during a burst a group of
marks in one UPDATE. SQLite's work on a group is a few hundredths of a millisecond; SQLAlchemy's
around it (a pooled connection checked out, begun and returned, the execution context) cost more
than twice that, 0.03-0.06 ms of every update handled (issue 11).

``FastWriter`` runs such a statement as ``store.fast_read``'s reader runs a list page: compiled
once, its parameters converted by the column types' own processors, the engine's statement
listeners told, on a connection of its own. That connection is in autocommit mode, so
``store.sqlite_onehop`` runs each statement on the event loop's thread when SQLite takes the write
lock at once and is done within the budget, and on the connection's thread otherwise (where it
waits for the lock).

Only for statements that may run twice, such as marking updates handled: ``execute`` answers None
wherever the writer does not apply (PostgreSQL, an in-memory database, a database not in WAL mode,
the connection busy on its thread with another write) or SQLite failed, and the caller then writes
through SQLAlchemy. A statement that failed here did nothing (SQLite rolls it back); one whose
listener failed afterwards was done, and is done again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Executable

from store import sqlite_onehop
from store.fast_read import FastReader


class FastWriter(FastReader):
    """Writes on a SQLite connection of its own in autocommit mode; one per Database."""

    def _prepare(self, conn: sqlite_onehop.OneHopConnection) -> bool:
        """On the connection's thread, once: as the engine's connections are (``store.db``), each
        statement committing itself; usable in WAL mode, where its writes may run on the loop."""
        conn.sqlite.isolation_level = None  # autocommit: no BEGIN, no COMMIT after each statement
        wal = sqlite_onehop.configure(conn.sqlite.cursor())
        if wal:
            conn.allow_inline_writes()
        return wal

    async def execute(self, stmt: Executable, params: Mapping[str, Any]) -> int | None:
        """The statement run here: the rows it changed; None when it was not (write it the usual way)."""
        ready = await self._ready(stmt)
        if ready is None:
            return None
        conn, plan = ready
        arguments = plan.arguments(params)
        self._on_thread = True  # set while the write may be on the connection's thread
        try:
            async with conn.cursor() as cursor:
                await cursor.execute(plan.sql, arguments)
                changed = cursor.rowcount
        except sqlite3.Error:
            return None
        finally:
            self._on_thread = False
        if not self._tell_listeners(plan.sql, arguments):
            return None
        return changed

    async def rows(self, stmt: Executable, params: Mapping[str, Any]) -> None:
        raise TypeError("FastWriter writes; a read goes through the fast reader")
