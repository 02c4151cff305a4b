"""Dates and times as people type them: the one reading of ``2026-04-30``, ``2026年4月30日``,
``4月30日``, ``14:30``, ``昨天 9:00`` for the chat, the exports and the command line.

Each reader raises ``DomainError`` with a Chinese message; the command line turns it into its own
usage error. The patterns are shared too (a plan's milestone lines start with a date).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from bot.domain.errors import DomainError
from bot.kernel.clock import OFFICE_TZ

# A year-month-day and a month-day, each with its numbers captured (2026-04-30, 2026/4/30,
# 2026.4.30, 2026年4月30日, 4月30日, 4-30; 日 or 号 at the end).
FULL_DATE = r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?"
MONTH_DAY = r"(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?"
# Either, as one uncaptured piece (for patterns that start with a date, e.g. a milestone line).
ANY_DATE = "(?:" + FULL_DATE.replace("(", "(?:") + "|" + MONTH_DAY.replace("(", "(?:") + ")"

_FULL = re.compile(FULL_DATE)
_SHORT = re.compile(MONTH_DAY)
_ISO = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")


def _example(today: date) -> str:
    """An example in the format, never in the past: next month's last working day."""
    from bot.domain.deadlines import example_date
    from bot.domain.workdays import WorkCalendar

    return example_date(WorkCalendar(), today).isoformat()


def parse_date(text: str | None, today: date) -> date:
    """A day typed in a chat: ``2026-04-30``, ``2026/4/30``, ``2026年4月30日``; ``4月30日`` or
    ``4-30`` is this year's (next year's when that day has passed)."""
    s = (text or "").strip()
    m = _FULL.fullmatch(s)
    year = None
    if m:
        year, month, day = (int(g) for g in m.groups())
    else:
        m = _SHORT.fullmatch(s)
        if m is None:
            raise DomainError(f"日期「{s[:30]}」格式不对，请按“{_example(today)}”的格式输入")
        month, day = (int(g) for g in m.groups())
    try:
        if year is None:
            result = date(today.year, month, day)
            return result if result > today else date(today.year + 1, month, day)
        return date(year, month, day)
    except ValueError:
        raise DomainError(f"日期「{s[:30]}」不存在，请检查月份和日期") from None


def parse_full_date(text: str | None, label: str = "日期") -> date:
    """A day with its year (an export's range): ``2026-01-01``, ``2026/1/1``, ``2026年1月1日``."""
    s = (text or "").strip()
    m = _FULL.fullmatch(s)
    try:
        if m is None:
            raise ValueError
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise DomainError(f"{label}「{s[:20]}」格式不对，应为 YYYY-MM-DD，如 2026-01-01") from None


def parse_iso_date(text: str) -> date:
    """Exactly ``YYYY-MM-DD`` (the command line, where a script may type it)."""
    s = text.strip()
    if _ISO.fullmatch(s):
        y, m, d = (int(x) for x in s.split("-"))
        try:
            return date(y, m, d)
        except ValueError:
            raise DomainError(f"日期“{text}”不存在，请检查年月日") from None
    raise DomainError(f"日期“{text}”格式不正确，应为 YYYY-MM-DD，例如 2026-09-28")


# --------------------------------------------------------------------------------------------
# A moment: when a call or visit took place
# --------------------------------------------------------------------------------------------

_NOW_WORDS = {"现在", "刚才", "刚刚", "now"}
_TIME = r"(\d{1,2})\s*[:：点时]\s*(\d{1,2})?\s*分?"
_RE_TIME = re.compile(rf"(今天|昨天|前天)?\s*{_TIME}")
_RE_MONTH_DAY = re.compile(rf"{MONTH_DAY}\s*{_TIME}")
_RE_FULL = re.compile(rf"{FULL_DATE}\s*{_TIME}")
WHEN_HELP = "请输入如“现在”“14:30”“昨天 9:00”“3月9日 14:30”或“2026-03-09 14:30”"
MAX_PAST = timedelta(days=366)
FUTURE_SLACK = timedelta(minutes=10)


def parse_when(text: str | None, now: datetime) -> datetime:
    """When a call or visit took place, as typed (office time); not in the future, within a year."""
    s = " ".join((text or "").split())
    today = now.astimezone(OFFICE_TZ).date()
    if s in _NOW_WORDS:
        return now
    day: date | None = None
    hour = minute = 0
    try:
        if m := _RE_FULL.fullmatch(s):
            day = date(int(m[1]), int(m[2]), int(m[3]))
            hour, minute = int(m[4]), int(m[5] or 0)
        elif m := _RE_MONTH_DAY.fullmatch(s):
            day = date(today.year, int(m[1]), int(m[2]))
            hour, minute = int(m[3]), int(m[4] or 0)
        elif m := _RE_TIME.fullmatch(s):
            day = today - timedelta(days={"昨天": 1, "前天": 2}.get(m[1] or "", 0))
            hour, minute = int(m[2]), int(m[3] or 0)
        if day is None:
            raise ValueError
        when = datetime.combine(day, time(hour, minute), tzinfo=OFFICE_TZ)
    except ValueError:
        raise DomainError(f"时间「{s[:30]}」看不懂。{WHEN_HELP}") from None
    if when > now + FUTURE_SLACK:
        raise DomainError(f"时间 {when.strftime('%Y-%m-%d %H:%M')} 晚于现在，请输入已发生的时间")
    if when < now - MAX_PAST:
        raise DomainError(f"时间 {when.strftime('%Y-%m-%d %H:%M')} 已超过一年，请检查是否写错")
    return when
