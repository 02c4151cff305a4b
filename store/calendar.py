"""The official holiday schedules the office loaded (one row per year, the TOML text as loaded)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import CalendarYear


async def schedule_texts(session: AsyncSession) -> list[str]:
    """The source text of every loaded year, oldest year first."""
    return list(await session.scalars(select(CalendarYear.source_text).order_by(CalendarYear.year)))


async def schedules_stamp(session: AsyncSession) -> tuple[int, datetime | None]:
    """How many years are loaded and when the last one was: changes whenever a year is (re)loaded."""
    count, last = (
        await session.execute(select(func.count(), func.max(CalendarYear.loaded_at)).select_from(CalendarYear))
    ).one()
    return count, last


async def put_schedule(session: AsyncSession, year: int, text: str, loaded_by: str, now: datetime) -> None:
    """Store ``text`` as ``year``'s schedule, replacing an earlier one (an unchanged text keeps its row)."""
    row = await session.get(CalendarYear, year)
    if row is None:
        session.add(CalendarYear(year=year, source_text=text, loaded_at=now, loaded_by=loaded_by))
    elif row.source_text != text:
        row.source_text, row.loaded_at, row.loaded_by = text, now, loaded_by
    await session.flush()
