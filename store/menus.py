"""The command menu last set in each chat (a fingerprint), so start-up re-sends only changed ones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import MenuState


async def fingerprints(s: AsyncSession, chat_id: int | None = None) -> dict[int, str]:
    """{chat_id: fingerprint} of every chat, or of the one chat asked for."""
    query = select(MenuState.chat_id, MenuState.fingerprint)
    if chat_id is not None:
        query = query.where(MenuState.chat_id == chat_id)
    return dict((await s.execute(query)).all())


async def remember(s: AsyncSession, chat_id: int, fingerprint: str, now: datetime) -> None:
    """Upsert in Core: bookkeeping, not a business record, so not in the audit trail."""
    dialect = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(MenuState).values(chat_id=chat_id, fingerprint=fingerprint, set_at=now)
    await s.execute(stmt.on_conflict_do_update(index_elements=["chat_id"],
                                               set_={"fingerprint": fingerprint, "set_at": now}))
