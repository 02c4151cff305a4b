"""Working-day query commands: ``python -m bot workdays ...``.

``workdays_command`` is the entry point: it opens the database, dispatches
``load FILE`` and hands every other query to ``main`` (the arguments *after*
``workdays`` and the calendar, no database: the unit tests call it directly).

Commands
--------
``workdays DATE N [--provisional]``
    Prints the deadline (end of the N-th working day after DATE, DATE itself
    not counted) as ``YYYY-MM-DD`` on stdout and nothing else; exit 0.
``workdays DATE [--provisional]``
    Prints e.g. ``2026-10-10 工作日（调休上班）``, ``2026-10-01 休息日（国庆节）``,
    ``2026-10-17 休息日（周末）`` or ``2026-10-12 工作日``; exit 0.

Unknown years (schedule not built in and not loaded):
    without ``--provisional``: exit 2 with a one-line Chinese message on stderr
    telling the office to load the year (``python -m bot workdays load FILE``);
    with ``--provisional``: the answer (weekends only in that year) goes to
    stdout exactly as above, and the note ``（暂定：2027年放假安排未载入）``
    goes to stderr - stdout stays machine-readable.

Bad input (date, N, unknown options): exit 2 with a one-line Chinese message
on stderr starting with ``错误：``, never a traceback.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from bot.domain.dates import parse_iso_date
from bot.domain.errors import DomainError
from bot.domain.workdays import (
    ADJUSTED_WORKDAY,
    HOLIDAY,
    WEEKEND,
    ScheduleError,
    WorkCalendar,
    YearSchedule,
)
from bot.kernel.config import Settings

if TYPE_CHECKING:
    from store.db import Database

__all__ = ["main", "workdays_command", "USAGE", "provisional_note", "unknown_year_message", "schedule_summary"]

LOAD_COMMAND = "python -m bot workdays load FILE"

USAGE = f"""用法：
  python -m bot workdays 日期 天数 [--provisional]   计算期限：日期之后第“天数”个工作日（当天不计）
  python -m bot workdays 日期 [--provisional]        查询某天是工作日还是休息日
  {LOAD_COMMAND}                载入某年的放假安排（TOML 文件，格式见 docs/schedule-example-2027.toml）

日期格式为 YYYY-MM-DD，天数为正整数。
若涉及尚未载入放假安排的年份，默认报错（退出码 2）；
加 --provisional 则在该年只按周末计算，结果照常输出，另在标准错误输出“（暂定：…年放假安排未载入）”。"""


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors become Chinese one-liners (no exit, no usage dump)."""

    def error(self, message: str) -> NoReturn:
        m = re.match(r"argument (\S+): ignored explicit argument (.+)", message)
        if m:
            raise _UsageError(f"选项 {m.group(1)} 不接受取值：{m.group(2)}")
        m = re.match(r"unrecognized arguments: (.+)", message)
        if m:
            raise _UsageError(f"无法识别的参数：{m.group(1)}")
        raise _UsageError(f"命令行参数有误（{message}）")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise _UsageError(message.strip() if message else "命令行参数有误")


def _build_parser() -> _Parser:
    p = _Parser(prog="python -m bot workdays", add_help=False, allow_abbrev=False)
    p.add_argument("date", nargs="?")
    p.add_argument("days", nargs="?")
    p.add_argument("--provisional", action="store_true")
    p.add_argument("-h", "--help", action="store_true")
    return p


def _parse_date(text: str) -> date:
    try:
        return parse_iso_date(text)
    except DomainError as exc:
        raise _UsageError(exc.message) from None


def _parse_days(text: str) -> int:
    try:
        n = int(text.strip())
    except ValueError:
        raise _UsageError(f"工作日天数应为正整数，收到“{text}”") from None
    if n < 1:
        raise _UsageError(f"工作日天数应为正整数（至少为 1），收到“{text}”")
    return n


def _years_text(years: Sequence[int]) -> str:
    return "、".join(f"{y}年" for y in years)


def provisional_note(years: Sequence[int]) -> str:
    """``（暂定：2027年放假安排未载入）``"""
    return f"（暂定：{_years_text(years)}放假安排未载入）"


def unknown_year_message(years: Sequence[int]) -> str:
    """One-line Chinese explanation that the years' schedules must be loaded."""
    return (
        f"{_years_text(years)}放假安排尚未载入，无法准确计算工作日。"
        f"请依据国务院办公厅当年的节假日安排通知编写放假安排文件，"
        f"用 {LOAD_COMMAND} 载入；或加 --provisional 仅按周末暂定计算。"
    )


def _day_label(cal: WorkCalendar, d: date, provisional: bool) -> str:
    info = cal.describe_day(d, provisional=provisional)
    if info.kind == HOLIDAY:
        return f"休息日（{info.holiday_name or '法定节假日'}）"
    if info.kind == ADJUSTED_WORKDAY:
        return "工作日（调休上班）"
    if info.kind == WEEKEND:
        return "休息日（周末）"
    return "工作日"


def schedule_summary(schedule: YearSchedule) -> str:
    """Chinese one-paragraph summary of a schedule, e.g. for ``load`` to confirm."""
    by_name: dict[str, int] = {}
    for d in sorted(schedule.holidays):
        name = schedule.holiday_names.get(d) or "放假"
        by_name[name] = by_name.get(name, 0) + 1
    parts = "、".join(f"{name} {count} 天" for name, count in by_name.items())
    text = f"{schedule.year}年放假安排：放假 {len(schedule.holidays)} 天（{parts}）"
    if schedule.workdays:
        days = "、".join(d.isoformat() for d in sorted(schedule.workdays))
        text += f"，调休上班 {len(schedule.workdays)} 天（{days}）"
    else:
        text += "，无调休上班日"
    return text + "。"


def main(
    argv: list[str],
    calendar: WorkCalendar,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run a ``workdays`` query. Returns the exit code (0 ok, 2 error)."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        ns, extra = _build_parser().parse_known_args(list(argv))
        if ns.help:
            print(USAGE, file=out)
            return 0
        if extra:
            raise _UsageError(f"无法识别的参数：{' '.join(extra)}（用 -h 查看用法）")
        if ns.date is None:
            raise _UsageError("缺少日期，例如：python -m bot workdays 2026-09-28 7（用 -h 查看用法）")
        start = _parse_date(ns.date)

        if ns.days is None:  # day query
            if not calendar.knows(start.year) and not ns.provisional:
                print(f"错误：{unknown_year_message([start.year])}", file=err)
                return 2
            print(f"{start.isoformat()} {_day_label(calendar, start, ns.provisional)}", file=out)
            if not calendar.knows(start.year):
                print(provisional_note([start.year]), file=err)
            return 0

        n = _parse_days(ns.days)
        try:
            deadline = calendar.add_working_days(start, n)
        except ValueError as exc:
            raise _UsageError(str(exc)) from None
        if deadline.provisional and not ns.provisional:
            print(f"错误：{unknown_year_message(deadline.unknown_years)}", file=err)
            return 2
        print(deadline.due.isoformat(), file=out)
        if deadline.provisional:
            print(provisional_note(deadline.unknown_years), file=err)
        return 0
    except _UsageError as exc:
        print(f"错误：{exc}", file=err)
        return 2


async def workdays_command(settings: Settings, argv: list[str], out: TextIO, err: TextIO) -> int:
    """``python -m bot workdays ...``: ``load FILE`` writes the database, the rest only reads it."""
    # The database is imported here, not with the module: the queries stay importable without it.
    from bot.domain.schedules import load_calendar
    from store.db import Database

    db = Database(settings.database.url)
    try:
        await db.upgrade()
        if argv[:1] == ["load"]:
            return await _load(db, argv[1:], out, err)
        async with db.session() as s:
            calendar = await load_calendar(s)
        return main(argv, calendar, out, err)
    finally:
        await db.dispose()


async def _load(db: Database, argv: list[str], out: TextIO, err: TextIO) -> int:
    from bot.domain.schedules import load_schedule
    from store.audit import Actor

    if len(argv) != 1:
        print(f"错误：用法为 {LOAD_COMMAND}", file=err)
        return 2
    path = Path(argv[0])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"错误：无法读取文件 {path}（{exc.__class__.__name__}）", file=err)
        return 2
    try:
        async with db.session(Actor.system("cli"), "calendar.load") as s:
            schedule, changed = await load_schedule(s, text, "cli", db.now())
    except ScheduleError as exc:
        print(f"错误：{path}：{exc}", file=err)
        return 2
    print(f"已载入{schedule_summary(schedule)}", file=out)
    if schedule.example:  # docs/schedule-example-2027.toml: fictional dates, loaded on purpose or by mistake
        print(
            f"警告：{path} 是示例文件（example = true），日期是虚构的，不是国务院公布的{schedule.year}年放假安排；"
            "请按官方通知改写并删去 example 一行后重新载入。",
            file=err,
        )
    if changed:
        print(f"已重新计算 {changed} 个暂定期限，并通知相关单位。", file=out)
    return 0
