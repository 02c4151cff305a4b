"""Dialog state rows: what python-telegram-bot's persistence keeps, so a dialog outlives its process.

One row per conversation key of each named ConversationHandler (its state) and per chat
(chat_data); ``data`` is a pickle of plain values (states, strings, numbers, dicts). The key comes
first in the primary key: everything one update needs (its chat, its conversation keys) is one
indexed lookup (``bot.runtime.persistence``). Scope ``user`` rows (user_data) are no longer kept
(migration 0019).
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import LargeBinary, String, and_, delete, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base
from store.types import UTCDateTime

log = logging.getLogger("duban.dialog_state")

CONVERSATION, CHAT = "conversation", "chat"  # rows of scope "user" (user_data) are gone (0019)


class DialogState(Base):
    __tablename__ = "dialog_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # "123" or a conversation key "[123,123]"
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)  # conversation | chat | user
    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # the conversation's name; "" for data
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


Row = tuple[str, str, str]  # (scope, name, key)


def dumps(value: object) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> object:
    return pickle.loads(data)  # noqa: S301 — our own rows, written by dumps above


async def load(
    conn: AsyncConnection, scope: str | None = None, keys: Iterable[tuple[str, str]] = ()
) -> list[tuple[str, str, str, object]]:
    """(scope, name, key, value) rows: all of ``scope``, or the given (scope, key) pairs."""
    stmt = select(DialogState.scope, DialogState.name, DialogState.key, DialogState.data)
    pairs = list(keys)
    if pairs:
        stmt = stmt.where(or_(*(and_(DialogState.key == k, DialogState.scope == s) for s, k in pairs)))
    elif scope is not None:
        stmt = stmt.where(DialogState.scope == scope)
    found = []
    for s, n, k, d in (await conn.execute(stmt)).all():
        try:
            found.append((s, n, k, loads(d)))
        except Exception as exc:  # noqa: BLE001 — a class renamed by an upgrade: that dialog is lost, not the bot
            log.warning("event=dialog_state_unreadable scope=%s name=%s key=%s error=%s", s, n, k, type(exc).__name__)
    return found


async def save(conn: AsyncConnection, rows: dict[Row, bytes | None], now: datetime) -> None:
    """Write the given rows, each as ``dumps`` gave it (None deletes): one upsert and at most one delete."""
    gone = [r for r, v in rows.items() if v is None]
    kept = [
        {"scope": s, "name": n, "key": k, "data": v, "updated_at": now}
        for (s, n, k), v in rows.items()
        if v is not None
    ]
    if gone:
        await conn.execute(
            delete(DialogState).where(tuple_(DialogState.scope, DialogState.name, DialogState.key).in_(gone))
        )
    if kept:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(DialogState).values(kept)
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["key", "scope", "name"],
                set_={"data": stmt.excluded.data, "updated_at": stmt.excluded.updated_at},
            )
        )


async def last_activity(
    conn: AsyncConnection, conversations: Iterable[tuple[str, str]], chats: Iterable[str]
) -> dict[tuple[str, str], datetime]:
    """When the given conversations' states ((name, key) pairs) and chats' data (keys) were last
    written: {(name, key): time} and {("", chat key): time} — a dialog's last step changed one."""
    pairs = [(CONVERSATION, n, k) for n, k in conversations] + [(CHAT, "", k) for k in chats]
    if not pairs:
        return {}
    stmt = select(DialogState.name, DialogState.key, DialogState.updated_at).where(
        tuple_(DialogState.scope, DialogState.name, DialogState.key).in_(pairs)
    )
    return {(n, k): at for n, k, at in (await conn.execute(stmt)).all()}
