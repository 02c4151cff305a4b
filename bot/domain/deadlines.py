"""What the office types as a deadline, checked before it is used (no telegram here).

* ``example_date`` — the date a prompt shows as an example: the last working day of next month,
  so it is always plausible (never a day in the past, as a fixed "2026-04-30" became).
* ``day_off`` — a deadline date that is not a working day (a Saturday, a holiday): the /new dialog
  warns and offers the working day before it. The regulation counts time limits in working days
  (§9(四) "7个工作日内办结"); a deadline on a day off would end, in effect, on the working day
  before it or after it, so the office decides which, knowingly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from bot.domain.workdays import WorkCalendar

_WEEKDAYS = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")


def weekday_name(day: date) -> str:
    return _WEEKDAYS[day.weekday()]


def _working(calendar: WorkCalendar, day: date) -> bool:
    return calendar.is_working_day(day, provisional=True)  # an unloaded year: weekends only


def example_date(calendar: WorkCalendar, today: date) -> date:
    """The last working day of the month after ``today``'s."""
    first_after_next = date(today.year + (today.month >= 11), (today.month + 1) % 12 + 1, 1)
    day = first_after_next - timedelta(days=1)
    while not _working(calendar, day):
        day -= timedelta(days=1)
    return day


@dataclass(frozen=True)
class DayOff:
    day: date
    what: str  # "星期六", "国庆节"
    previous: date | None  # the working day before it, if that is still after today


def day_off(calendar: WorkCalendar, day: date, today: date) -> DayOff | None:
    """None when ``day`` is a working day; else what it is and the working day before it."""
    if _working(calendar, day):
        return None
    info = calendar.describe_day(day, provisional=True)
    previous = day - timedelta(days=1)
    while not _working(calendar, previous):
        previous -= timedelta(days=1)
    return DayOff(day, info.holiday_name or weekday_name(day), previous if previous > today else None)
