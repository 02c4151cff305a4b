"""The command menu last set in each chat (a fingerprint), so start-up re-sends only changed ones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import MenuState


async def fingerprints(s: AsyncSession) -> dict[int, str]:
    return dict((await s.execute(select(MenuState.chat_id, MenuState.fingerprint))).all())


async def remember(s: AsyncSession, chat_id: int, fingerprint: str, now: datetime) -> None:
    """Upsert in Core: bookkeeping, not a business record, so not in the audit trail."""
    dialect = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(MenuState).values(chat_id=chat_id, fingerprint=fingerprint, set_at=now)
    await s.execute(
        stmt.on_conflict_do_update(index_elements=["chat_id"], set_={"fingerprint": fingerprint, "set_at": now})
    )


async def forget(s: AsyncSession, chat_id: int) -> None:
    """A chat whose menu was cleared (its person left): start-up must not think it is set."""
    await s.execute(delete(MenuState).where(MenuState.chat_id == chat_id))
