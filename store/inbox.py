"""The inbox table's queries: record an incoming update once, mark it handled, recover, prune.

Core statements rather than ORM objects: these run for every update (under load, one INSERT per
getUpdates batch and one UPDATE per handful of updates) and are bookkeeping, not business records,
so they stay out of the audit trail.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Select, and_, bindparam, delete, exists, func, literal_column, or_, select, table, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from store.models import InboxUpdate

if TYPE_CHECKING:
    from store.db import Database

RECEIVED, HANDLED, ABANDONED = "received", "handled", "abandoned"

# A session advisory lock on the row's receiver key, held: that instance lives. pg_locks shows a
# bigint key as its high (classid) and low (objid) 32 bits, objsubid 1.
_PG_LOCKS = table("pg_locks")
_HELD_LOCK: Select[tuple[int]] = (
    select(literal_column("1"))
    .select_from(_PG_LOCKS)
    .where(
        literal_column("pg_locks.locktype") == "advisory",
        literal_column("pg_locks.granted"),
        literal_column("pg_locks.objsubid") == 1,
        literal_column("(pg_locks.classid::bigint << 32) | pg_locks.objid::bigint") == InboxUpdate.receiver,
    )
)


async def record(s: AsyncConnection, update_id: int, payload: str, now: datetime, receiver: int | None = None) -> bool:
    """Write the update as received; False when its id is known already (a redelivery)."""
    return update_id in await record_many(s, [(update_id, payload)], now, receiver)


def _insert_new(dialect_name: str):  # noqa: ANN202
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return (
        dialect.insert(InboxUpdate)
        .on_conflict_do_nothing(index_elements=["update_id"])
        .returning(InboxUpdate.update_id)
    )


# Built once per dialect and given the rows as parameters: SQLAlchemy then writes a batch as one
# multi-row INSERT ("insertmanyvalues") from a compiled statement it keeps. A ``.values([...])``
# of the rows themselves was compiled anew for every batch, the larger part of the inbox's cost.
_INSERT_NEW = {name: _insert_new(name) for name in ("sqlite", "postgresql")}


async def record_many(
    s: AsyncConnection, updates: list[tuple[int, str]], now: datetime, receiver: int | None = None
) -> set[int]:
    """Write a batch of (update_id, payload) as received in one INSERT; the ids that were new."""
    if not updates:
        return set()
    rows = [
        {"update_id": i, "payload": p, "status": RECEIVED, "attempts": 0, "received_at": now, "receiver": receiver}
        for i, p in updates
    ]
    stmt = _INSERT_NEW["postgresql" if s.dialect.name == "postgresql" else "sqlite"]
    return set((await s.scalars(stmt, rows)).all())


# Built once, as _INSERT_NEW: building the statement for each group of marks cost more than
# SQLite's work on it.
_MARK_HANDLED = (
    update(InboxUpdate)
    .where(InboxUpdate.update_id.in_(bindparam("ids", expanding=True)))
    .values(status=HANDLED, handled_at=bindparam("now", type_=InboxUpdate.handled_at.type))
)
# The same for SQLite's fast writer, which takes no expanding IN: the ids as one JSON array.
_MARK_HANDLED_JSON = (
    update(InboxUpdate)
    .where(InboxUpdate.update_id.in_(select(literal_column("value")).select_from(func.json_each(bindparam("ids")))))
    .values(status=HANDLED, handled_at=bindparam("now", type_=InboxUpdate.handled_at.type))
)


async def mark_handled(db: Database, update_ids: int | list[int], now: datetime) -> None:
    """Mark updates handled: on SQLite through the database's fast writer (``store.fast_write``;
    marking twice does no harm), else, or where it does not apply, through SQLAlchemy."""
    ids = [update_ids] if isinstance(update_ids, int) else update_ids
    writer = db.fast_writer
    if (
        writer is not None
        and await writer.execute(_MARK_HANDLED_JSON, {"ids": json.dumps(ids), "now": now}) is not None
    ):
        return
    async with db.autocommit.begin() as conn:
        await conn.execute(_MARK_HANDLED, {"ids": ids, "now": now})


async def take_unhandled(
    s: AsyncSession,
    now: datetime,
    max_attempts: int = 1,
    received_before: datetime | None = None,
    *,
    not_alive: bool = False,
) -> tuple[list[str], list[int]]:
    """At start-up: the payloads to handle again, oldest first, and the ids given up on.

    A row still ``received`` was fetched but never finished. It is handled again once (its
    ``attempts`` counts that); a row already re-queued ``max_attempts`` times is abandoned, so a
    poison update that kills the process cannot kill every restart too. ``received_before``: only
    rows older than that (webhook instances: younger ones may be in a live instance's hands).
    ``not_alive`` (PostgreSQL): only rows whose receiver no longer holds its instance lock — a slow
    update of a living instance is still its own, and is never handled twice.
    """
    unfinished = InboxUpdate.status == RECEIVED
    if received_before is not None:
        unfinished = and_(unfinished, InboxUpdate.received_at < received_before)
    if not_alive and s.get_bind().dialect.name == "postgresql":
        unfinished = and_(unfinished, or_(InboxUpdate.receiver.is_(None), ~exists(_HELD_LOCK)))
    abandoned = list(
        (
            await s.scalars(
                update(InboxUpdate)
                .where(unfinished, InboxUpdate.attempts >= max_attempts)
                .values(status=ABANDONED, handled_at=now)
                .returning(InboxUpdate.update_id)
            )
        ).all()
    )
    await s.execute(update(InboxUpdate).where(unfinished).values(attempts=InboxUpdate.attempts + 1))
    payloads = (await s.scalars(select(InboxUpdate.payload).where(unfinished).order_by(InboxUpdate.update_id))).all()
    return list(payloads), sorted(abandoned)


async def prune(s: AsyncConnection | AsyncSession, now: datetime, keep: timedelta) -> int:
    """Forget finished rows older than ``keep`` (by then Telegram no longer redelivers them)."""
    result = await s.execute(
        delete(InboxUpdate).where(InboxUpdate.status != RECEIVED, InboxUpdate.handled_at < now - keep)
    )
    return result.rowcount or 0  # type: ignore[attr-defined]  # a DELETE answers with a CursorResult
