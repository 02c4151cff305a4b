"""Official holiday schedules the office loaded, kept in the database, and the ``workdays`` command."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kernel.config import Settings
from bot.domain.items import recompute_provisional
from bot.domain.workdays import ScheduleError, WorkCalendar, YearSchedule, parse_schedule
from bot.cli.workdays import main as workdays_main, schedule_summary
from store.audit import Actor
from store.db import Database
from store.models import CalendarYear


async def load_calendar(session: AsyncSession) -> WorkCalendar:
    """The built-in years plus every schedule the office loaded (a loaded year wins)."""
    rows = (await session.scalars(select(CalendarYear).order_by(CalendarYear.year))).all()
    return WorkCalendar(loaded=[parse_schedule(r.source_text) for r in rows])


async def save_schedule(session: AsyncSession, text: str, loaded_by: str, now) -> YearSchedule:  # noqa: ANN001
    """Validate and store a year's schedule (replacing an earlier one for that year)."""
    schedule = parse_schedule(text)
    row = await session.get(CalendarYear, schedule.year)
    if row is None:
        session.add(CalendarYear(year=schedule.year, source_text=text, loaded_at=now, loaded_by=loaded_by))
    elif row.source_text != text:
        row.source_text, row.loaded_at, row.loaded_by = text, now, loaded_by
    await session.flush()
    return schedule


async def workdays_command(settings: Settings, argv: list[str], out: TextIO, err: TextIO) -> int:
    db = Database(settings.database.url)
    try:
        await db.upgrade()
        if argv[:1] == ["load"]:
            return await _load(db, argv[1:], out, err)
        async with db.session() as s:
            calendar = await load_calendar(s)
        return workdays_main(argv, calendar, out, err)
    finally:
        await db.dispose()


async def _load(db: Database, argv: list[str], out: TextIO, err: TextIO) -> int:
    if len(argv) != 1:
        print("错误：用法为 python -m bot workdays load FILE", file=err)
        return 2
    path = Path(argv[0])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"错误：无法读取文件 {path}（{exc.__class__.__name__}）", file=err)
        return 2
    try:
        async with db.session(Actor.system("cli"), "calendar.load") as s:
            schedule = await save_schedule(s, text, "cli", db.now())
            changed = await _after_load(s, db)
    except ScheduleError as exc:
        print(f"错误：{path}：{exc}", file=err)
        return 2
    print(f"已载入{schedule_summary(schedule)}", file=out)
    if changed:
        print(f"已重新计算 {changed} 个暂定期限，并通知相关单位。", file=out)
    return 0


async def _after_load(session: AsyncSession, db: Database) -> int:
    """Recompute every provisional deadline with the new year known; units are told of changes."""
    calendar = await load_calendar(session)
    return len(await recompute_provisional(session, calendar, db.now()))
