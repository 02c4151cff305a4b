"""The working-day calendar the office uses: the built-in years plus the schedules it loaded."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.items import recompute_provisional
from bot.domain.workdays import WorkCalendar, YearSchedule, parse_schedule
from store.calendar import put_schedule, schedule_texts


async def load_calendar(session: AsyncSession) -> WorkCalendar:
    """The built-in years plus every schedule the office loaded (a loaded year wins)."""
    return WorkCalendar(loaded=[parse_schedule(text) for text in await schedule_texts(session)])


async def loaded_years(session: AsyncSession) -> set[int]:
    """The years whose schedule the office loaded (a new file for one of them replaces it)."""
    return {parse_schedule(text).year for text in await schedule_texts(session)}


async def save_schedule(session: AsyncSession, text: str, loaded_by: str, now: datetime) -> YearSchedule:
    """Validate and store a year's schedule (replacing an earlier one for that year).

    Raises ``ScheduleError`` (a Chinese message) when the text is not a valid schedule."""
    schedule = parse_schedule(text)
    await put_schedule(session, schedule.year, text, loaded_by, now)
    return schedule


async def load_schedule(session: AsyncSession, text: str, loaded_by: str, now: datetime) -> tuple[YearSchedule, int]:
    """Save a year's schedule, then recompute every provisional deadline with that year known
    (the units concerned are told). Returns the schedule and how many deadlines changed."""
    schedule = await save_schedule(session, text, loaded_by, now)
    calendar = await load_calendar(session)
    return schedule, len(await recompute_provisional(session, calendar, now))
