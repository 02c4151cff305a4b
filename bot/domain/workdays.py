"""Chinese working-day arithmetic for deadlines (pure domain code).

Rules
-----
* A working day is Monday..Friday, minus the official days off (法定节假日 and
  the days bridged to them), plus the adjusted working weekends (调休上班日).
* "N working days from D" ends at the end of the N-th working day *after* D;
  D itself never counts (a Friday + 1 working day is the next Monday, unless
  that Monday is a holiday or the weekend is a 调休 working day).
* A year whose official schedule is not known is never silently guessed:
  ``WorkCalendar.is_working_day`` raises ``UnknownYear``;
  ``WorkCalendar.add_working_days`` counts weekends only in such a year and
  returns a ``Deadline`` marked ``provisional`` with that year listed.

Where the schedules come from
-----------------------------
* Built in: every year that the installed ``chinese_calendar`` package has
  data for (the years present in its ``holidays`` table; 2004..2026 for
  chinesecalendar 1.11). See ``builtin_years()``.
* Loaded: ``YearSchedule`` objects, normally produced by ``parse_schedule``
  from a small TOML file the office writes from the State Council's yearly
  notice (国务院办公厅关于某年部分节假日安排的通知). A loaded schedule replaces
  the built-in one for the same year entirely.

Schedule file format (TOML, UTF-8)
----------------------------------
::

    year = 2027                          # required, the year the notice is for
    source = "国办发明电〔2026〕X号"        # optional, free text for the record

    [holidays]                           # required: every day off, by holiday
    "元旦" = ["2027-01-01..2027-01-03"]  # "A..B" is an inclusive range
    "春节" = ["2027-02-05..2027-02-13"]
    "清明节" = ["2027-04-03", "2027-04-04", "2027-04-05"]   # single days work too

    [workdays]                           # optional: the 调休 working weekends
    dates = ["2027-02-14", "2027-02-20"]

Details:

* Dates are ``YYYY-MM-DD`` strings (or bare TOML dates); a value may be one
  string or a list of strings. A range may not run backwards and may not be
  longer than 31 days (to catch typos).
* List every day off, including the weekend days inside a holiday block
  (listing a weekend day is harmless; leaving out a weekday makes it a
  working day).
* Every date must lie in ``year`` - except December dates of the previous
  year, which the notice uses when the New Year holiday starts early (e.g. the
  2019 notice: 2018-12-30..2019-01-01 off, 2018-12-29 working). Those dates
  are applied to the previous calendar year.
* A 调休 working day must be a Saturday or Sunday, and no date may be both
  a day off and a working day, nor belong to two holidays (write a combined
  name such as "国庆节、中秋节" instead).
* ``example = true`` marks a file whose dates are fictional (the format example in ``docs/``):
  it parses, and whoever loads it is warned (``YearSchedule.example``).
* Any other key is an error. All errors raise ``ScheduleError`` with a
  Chinese message naming the offending key and value.

See ``docs/schedule-example-2027.toml`` for a complete (example!) file.

Performance
-----------
A ``WorkCalendar`` is immutable; per calendar year it builds (lazily, once) a
byte flag per day and a prefix-sum array of working days, so
``is_working_day`` is O(1) and ``add_working_days`` /
``working_days_between`` are O(years spanned + log 366).
"""

from __future__ import annotations

import re
import tomllib
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

__all__ = [
    "ScheduleError",
    "UnknownYear",
    "YearSchedule",
    "Deadline",
    "WorkdayCount",
    "DayInfo",
    "WORKDAY",
    "ADJUSTED_WORKDAY",
    "HOLIDAY",
    "WEEKEND",
    "parse_schedule",
    "builtin_schedules",
    "builtin_years",
    "WorkCalendar",
]

_WEEKDAY_NAMES = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")
_MAX_RANGE_DAYS = 31
_MIN_YEAR, _MAX_YEAR = 2000, 2199  # sanity bounds for a schedule file's `year`


class ScheduleError(ValueError):
    """A holiday schedule (file or object) is invalid. The message is Chinese."""


class UnknownYear(LookupError):
    """The official holiday schedule for ``year`` is not known."""

    def __init__(self, year: int) -> None:
        self.year = year
        super().__init__(f"{year}年放假安排尚未载入")


# --------------------------------------------------------------------------
# Value objects
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class YearSchedule:
    """The official schedule of one year, as published in that year's notice.

    ``holidays``: the official days off (weekend days inside a holiday block
    may be included). ``workdays``: the adjusted working weekends (调休).
    Both may contain December dates of ``year - 1`` (New Year spill-over).
    ``holiday_names``: optional date -> name (e.g. "春节") for days off.
    """

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date] = frozenset()
    holiday_names: Mapping[date, str] = field(default_factory=dict, hash=False)
    source: str | None = None
    # ``example = true`` in the file: fictional dates that only show the format (loading warns).
    example: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.year, bool) or not isinstance(self.year, int):
            raise ScheduleError(f"年份应为整数，实际为“{self.year!r}”")
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "workdays", frozenset(self.workdays))
        object.__setattr__(self, "holiday_names", dict(self.holiday_names))
        for kind, days in (("放假日期", self.holidays), ("调休上班日期", self.workdays)):
            for d in days:
                if isinstance(d, datetime) or not isinstance(d, date):
                    raise ScheduleError(f"{self.year}年的{kind}中有非日期的值“{d!r}”")
                if not _in_schedule_window(d, self.year):
                    raise ScheduleError(_outside_year_message(self.year, f"{kind} {d.isoformat()}"))
        for d in sorted(self.workdays):
            if d.weekday() < 5:
                raise ScheduleError(
                    f"{self.year}年的调休上班日期 {d.isoformat()} 是{_WEEKDAY_NAMES[d.weekday()]}，"
                    "不是周末；调休上班日只能是周六或周日"
                )
        both = sorted(self.holidays & self.workdays)
        if both:
            raise ScheduleError(f"{self.year}年的日期 {both[0].isoformat()} 既是放假日期又是调休上班日期")
        stray = sorted(set(self.holiday_names) - self.holidays)
        if stray:
            raise ScheduleError(f"{self.year}年的节日名称对应的日期 {stray[0].isoformat()} 不在放假日期中")

    def to_toml(self) -> str:
        """Render in the file format understood by ``parse_schedule``."""
        lines = [f"year = {self.year}"]
        if self.source:
            lines.append(f"source = {_toml_str(self.source)}")
        if self.example:
            lines.append("example = true")
        lines += ["", "[holidays]"]
        by_name: dict[str, list[date]] = {}
        for d in sorted(self.holidays):
            by_name.setdefault(self.holiday_names.get(d) or "放假", []).append(d)
        for name, days in by_name.items():
            items = ", ".join(_toml_str(r) for r in _compress_ranges(days))
            lines.append(f"{_toml_str(name)} = [{items}]")
        if self.workdays:
            items = ", ".join(_toml_str(d.isoformat()) for d in sorted(self.workdays))
            lines += ["", "[workdays]", f"dates = [{items}]"]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Deadline:
    """Result of ``WorkCalendar.add_working_days``.

    ``provisional`` is True when the count ran through a year whose schedule
    is unknown (counted on weekends only there); those years are listed in
    ``unknown_years``.
    """

    due: date
    provisional: bool = False
    unknown_years: tuple[int, ...] = ()


@dataclass(frozen=True)
class WorkdayCount:
    """A signed count of working days, with the same provisional marking."""

    days: int
    provisional: bool = False
    unknown_years: tuple[int, ...] = ()

    def __int__(self) -> int:
        return self.days


WORKDAY = "workday"  # an ordinary Monday..Friday
ADJUSTED_WORKDAY = "adjusted_workday"  # a weekend day worked (调休上班)
HOLIDAY = "holiday"  # an official day off (may fall on a weekend)
WEEKEND = "weekend"  # an ordinary Saturday/Sunday


@dataclass(frozen=True)
class DayInfo:
    day: date
    working: bool
    kind: str  # one of WORKDAY, ADJUSTED_WORKDAY, HOLIDAY, WEEKEND
    holiday_name: str | None = None
    provisional: bool = False  # the year is unknown: answered on weekends only


# --------------------------------------------------------------------------
# Schedule file parsing
# --------------------------------------------------------------------------

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TOP_KEYS = ("year", "source", "example", "holidays", "workdays")


def _in_schedule_window(d: date, year: int) -> bool:
    return d.year == year or (d.year == year - 1 and d.month == 12)


def _outside_year_message(year: int, what: str) -> str:
    return f"{what} 不在 {year} 年内（只允许 {year} 年的日期，以及元旦放假可能涉及的 {year - 1} 年 12 月的日期）"


def _q(value: Any) -> str:
    """Quote a user value for a Chinese message."""
    if isinstance(value, str):
        return f"“{value}”"
    if isinstance(value, date):
        return f"“{value.isoformat()}”"
    return f"“{value!r}”"


def _parse_day(text: str, where: str, raw: str) -> date:
    if not _DATE_RE.fullmatch(text):
        raise ScheduleError(f"{where} 中的 {_q(raw)} 不是有效日期，应为 YYYY-MM-DD 或 YYYY-MM-DD..YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ScheduleError(f"{where} 中的 {_q(raw)} 不是有效日期（{text} 不存在）") from None


def _parse_item(raw: Any, where: str, year: int) -> list[date]:
    """One list element: a date, a "YYYY-MM-DD" string or an "A..B" range."""
    if isinstance(raw, datetime):
        raise ScheduleError(f"{where} 中的 {_q(str(raw))} 带有时间，只能写日期 YYYY-MM-DD")
    if isinstance(raw, date):
        days = [raw]
        label = raw.isoformat()
    elif isinstance(raw, str):
        text = raw.strip()
        label = raw
        if ".." in text:
            first, _, last = text.partition("..")
            a = _parse_day(first.strip(), where, raw)
            b = _parse_day(last.strip(), where, raw)
            if b < a:
                raise ScheduleError(f"{where} 中的 {_q(raw)} 起止日期颠倒（结束日期早于开始日期）")
            if (b - a).days >= _MAX_RANGE_DAYS:
                raise ScheduleError(f"{where} 中的 {_q(raw)} 跨度超过 {_MAX_RANGE_DAYS} 天，请检查是否写错")
            days = [a + timedelta(days=i) for i in range((b - a).days + 1)]
        else:
            days = [_parse_day(text, where, raw)]
    else:
        raise ScheduleError(
            f'{where} 中的 {_q(raw)} 不是日期，应写成字符串，如 "{year}-01-01" 或 "{year}-01-01..{year}-01-03"'
        )
    for d in days:
        if not _in_schedule_window(d, year):
            raise ScheduleError(_outside_year_message(year, f"{where} 中的 {_q(label)}"))
    return days


def _parse_list(value: Any, where: str, year: int) -> list[date]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ScheduleError(f"{where} 是空列表，请至少写一个日期")
    out: list[date] = []
    for item in items:
        out.extend(_parse_item(item, where, year))
    return out


def _toml_position(exc: tomllib.TOMLDecodeError) -> str:
    """Where and what, in Chinese (the same reading as the configuration file's errors)."""
    from bot.kernel.config import toml_problem

    return toml_problem(exc)


def parse_schedule(text: str | bytes) -> YearSchedule:
    """Parse a schedule file (see the module docstring), as text or as uploaded bytes. Raises ScheduleError."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ScheduleError("放假安排文件不是 UTF-8 编码，请另存为 UTF-8 后重试") from None
    text = text.lstrip("\ufeff")  # files saved by Windows Notepad carry a BOM
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScheduleError(
            f"放假安排文件不是有效的 TOML 格式{_toml_position(exc)}，"
            "请检查引号、方括号和等号是否成对、是否为英文半角符号"
        ) from None

    for key in doc:
        if key not in _TOP_KEYS:
            raise ScheduleError(f"未知的配置项 {_q(key)}，只允许 year、source、example、[holidays]、[workdays]")

    if "year" not in doc:
        raise ScheduleError("缺少 year（年份），例如：year = 2027")
    year = doc["year"]
    if isinstance(year, bool) or not isinstance(year, int) or not (_MIN_YEAR <= year <= _MAX_YEAR):
        raise ScheduleError(f"year 应为四位年份整数（不加引号），例如 year = 2027，实际为 {_q(year)}")

    source = doc.get("source")
    if source is not None and not isinstance(source, str):
        raise ScheduleError(f"source 应为文字（加引号），实际为 {_q(source)}")
    example = doc.get("example", False)
    if not isinstance(example, bool):
        raise ScheduleError(f"example 应为 true 或 false（不加引号），实际为 {_q(example)}")

    holidays_tbl = doc.get("holidays")
    if holidays_tbl is None:
        raise ScheduleError(
            f'缺少 [holidays]（放假日期），例如：[holidays] 下写 "元旦" = ["{year}-01-01..{year}-01-03"]'
        )
    if not isinstance(holidays_tbl, dict):
        raise ScheduleError(f'holidays 应为表 [holidays]，其下每行形如 "春节" = ["{year}-02-05..{year}-02-13"]')
    if not holidays_tbl:
        raise ScheduleError("[holidays] 中没有任何放假日期")

    names: dict[date, str] = {}
    for name, value in holidays_tbl.items():
        if not name.strip():
            raise ScheduleError('[holidays] 中有空的节日名称，请写明节日名称，如 "春节"')
        if isinstance(value, dict):
            raise ScheduleError(f"[holidays] {_q(name)} 应为日期列表，不能是表")
        where = f"[holidays] {_q(name)}"
        for d in _parse_list(value, where, year):
            other = names.get(d)
            if other is not None and other != name:
                raise ScheduleError(
                    f"日期 {d.isoformat()} 同时出现在 [holidays] {_q(other)} 和 {_q(name)} 中；"
                    f'如两节合并放假，请写成一项，如 "{other}、{name}"'
                )
            names[d] = name

    workdays: set[date] = set()
    workdays_tbl = doc.get("workdays", {})
    if not isinstance(workdays_tbl, dict):
        raise ScheduleError(f'workdays 应为表 [workdays]，其下写 dates = ["{year}-02-14"]')
    for key, value in workdays_tbl.items():
        if key != "dates":
            raise ScheduleError(f"[workdays] 中未知的键 {_q(key)}，只允许 dates（调休上班日期列表）")
        for d in _parse_list(value, "[workdays] dates", year):
            if d.weekday() < 5:
                raise ScheduleError(
                    f"[workdays] dates 中的 {d.isoformat()} 是{_WEEKDAY_NAMES[d.weekday()]}，"
                    "不是周末；调休上班日只能是周六或周日"
                )
            if d in names:
                raise ScheduleError(
                    f"日期 {d.isoformat()} 同时出现在 [holidays] {_q(names[d])} 和 [workdays] dates 中，"
                    "不能既放假又上班"
                )
            workdays.add(d)

    return YearSchedule(
        year=year,
        holidays=frozenset(names),
        workdays=frozenset(workdays),
        holiday_names=names,
        source=source,
        example=example,
    )


def _compress_ranges(days: list[date]) -> list[str]:
    out: list[str] = []
    start = prev = days[0]
    for d in [*days[1:], None]:
        if d is not None and d - prev == timedelta(days=1):
            prev = d
            continue
        out.append(start.isoformat() if start == prev else f"{start.isoformat()}..{prev.isoformat()}")
        if d is not None:
            start = prev = d
    return out


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --------------------------------------------------------------------------
# Built-in schedules (chinese_calendar)
# --------------------------------------------------------------------------

# chinese_calendar stores English names; its own Chinese names are short forms.
_CC_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
}


def _cc_chinese_name(english: str) -> str:
    if english in _CC_NAMES:
        return _CC_NAMES[english]
    try:
        from chinese_calendar import Holiday

        return Holiday(english).chinese
    except Exception:  # noqa: BLE001  # pragma: no cover - a future holiday the package names in its own way
        return english


@lru_cache(maxsize=1)
def builtin_schedules() -> Mapping[int, YearSchedule]:
    """Year -> schedule for every year chinese_calendar has data for.

    A year is known iff chinese_calendar lists at least one official day off
    in it. December entries named "New Year's Day" belong to the *next* year's
    notice (e.g. 2018-12-30/31 off, 2018-12-29 worked, for 2019).
    """
    from chinese_calendar import constants as cc

    def owner(d: date, english: str) -> int:
        return d.year + 1 if d.month == 12 and english == "New Year's Day" else d.year

    hol: dict[int, dict[date, str]] = {}
    wd: dict[int, set[date]] = {}
    for d, english in cc.holidays.items():
        hol.setdefault(owner(d, english), {})[d] = _cc_chinese_name(english)
    for d, english in cc.workdays.items():
        wd.setdefault(owner(d, english), set()).add(d)
    # Only years with their own days off count as known (a year that only
    # appears through another year's workday entries is not).
    return {
        y: YearSchedule(
            year=y,
            holidays=frozenset(days),
            workdays=frozenset(wd.get(y, ())),
            holiday_names=days,
            source="chinese_calendar",
        )
        for y, days in sorted(hol.items())
    }


def builtin_years() -> tuple[int, ...]:
    return tuple(sorted(builtin_schedules()))


# --------------------------------------------------------------------------
# The calendar
# --------------------------------------------------------------------------


class _YearTable:
    """Effective calendar of one calendar year, precomputed."""

    __slots__ = ("year", "known", "first", "flags", "cum", "total", "names", "adjusted")

    def __init__(self, year: int, known: bool, holidays: dict[date, str | None], workdays: set[date]) -> None:
        self.year = year
        self.known = known
        self.first = date(year, 1, 1).toordinal()
        n = date(year, 12, 31).toordinal() - self.first + 1
        flags = bytearray(n)
        wd0 = date(year, 1, 1).weekday()
        for i in range(n):
            flags[i] = 1 if (wd0 + i) % 7 < 5 else 0
        for d in holidays:
            flags[d.toordinal() - self.first] = 0
        for d in workdays:
            flags[d.toordinal() - self.first] = 1
        cum = [0] * (n + 1)  # cum[i] = working days among day indexes < i
        running = 0
        for i in range(n):
            running += flags[i]
            cum[i + 1] = running
        self.flags = bytes(flags)
        self.cum = cum
        self.total = running
        self.names = holidays
        self.adjusted = frozenset(workdays)


class WorkCalendar:
    """Chinese working-day calendar: built-in years plus loaded schedules.

    Immutable; build a new one (or use ``with_schedules``) after loading a
    schedule. Loaded schedules replace built-in ones for their year.
    """

    def __init__(self, loaded: Iterable[YearSchedule] = (), builtin: bool = True) -> None:
        self._builtin = builtin
        self._loaded: dict[int, YearSchedule] = {}
        for s in loaded:
            if not isinstance(s, YearSchedule):
                raise TypeError(f"expected YearSchedule, got {type(s).__name__}")
            self._loaded[s.year] = s  # a later one for the same year wins
        self._schedules: dict[int, YearSchedule] = dict(builtin_schedules()) if builtin else {}
        self._schedules.update(self._loaded)
        self._tables: dict[int, _YearTable] = {}

    # ---- construction helpers -------------------------------------------

    def with_schedules(self, *schedules: YearSchedule) -> WorkCalendar:
        """A new calendar with ``schedules`` loaded on top of this one's."""
        return WorkCalendar([*self._loaded.values(), *schedules], builtin=self._builtin)

    def schedule(self, year: int) -> YearSchedule | None:
        return self._schedules.get(year)

    # ---- which years ------------------------------------------------------

    def knows(self, year: int) -> bool:
        return year in self._schedules

    def known_years(self) -> tuple[int, ...]:
        return tuple(sorted(self._schedules))

    def loaded_years(self) -> tuple[int, ...]:
        return tuple(sorted(self._loaded))

    def unknown_years_between(self, a: date, b: date) -> tuple[int, ...]:
        """Unknown years among the calendar years from ``a`` to ``b`` (inclusive)."""
        lo, hi = min(a.year, b.year), max(a.year, b.year)
        return tuple(y for y in range(lo, hi + 1) if y not in self._schedules)

    # ---- internals --------------------------------------------------------

    def _table(self, year: int) -> _YearTable:
        t = self._tables.get(year)
        if t is None:
            t = self._tables[year] = self._build(year)
        return t

    def _build(self, year: int) -> _YearTable:
        holidays: dict[date, str | None] = {}
        workdays: set[date] = set()
        own = self._schedules.get(year)
        if own is not None:
            for d in own.holidays:
                if d.year == year:
                    holidays[d] = own.holiday_names.get(d)
            workdays.update(d for d in own.workdays if d.year == year)
        # December spill-over from next year's notice (New Year holiday); it is
        # the later notice, so it wins. Applied even when `year` is unknown:
        # it is official information, not a guess.
        nxt = self._schedules.get(year + 1) if year < 9999 else None
        if nxt is not None:
            for d in nxt.holidays:
                if d.year == year:
                    holidays[d] = nxt.holiday_names.get(d)
                    workdays.discard(d)
            for d in nxt.workdays:
                if d.year == year:
                    workdays.add(d)
                    holidays.pop(d, None)
        return _YearTable(year, own is not None, holidays, workdays)

    # ---- single days --------------------------------------------------------

    def is_working_day(self, d: date, provisional: bool = False) -> bool:
        """Whether ``d`` is a working day.

        Raises ``UnknownYear`` if ``d``'s year is unknown, unless
        ``provisional`` is true (then weekends only are days off).
        """
        t = self._table(d.year)
        if not t.known and not provisional:
            raise UnknownYear(d.year)
        return t.flags[d.toordinal() - t.first] == 1

    def describe_day(self, d: date, provisional: bool = False) -> DayInfo:
        """What kind of day ``d`` is (same UnknownYear rule as is_working_day)."""
        t = self._table(d.year)
        if not t.known and not provisional:
            raise UnknownYear(d.year)
        working = t.flags[d.toordinal() - t.first] == 1
        if d in t.names:
            kind = HOLIDAY
        elif d in t.adjusted:
            kind = ADJUSTED_WORKDAY
        elif working:
            kind = WORKDAY
        else:
            kind = WEEKEND
        return DayInfo(d, working, kind, t.names.get(d), provisional=not t.known)

    # ---- counting -----------------------------------------------------------

    def add_working_days(self, start: date, n: int) -> Deadline:
        """The end of the ``n``-th working day after ``start`` (start not counted).

        Never raises for unknown years: those are counted on weekends only and
        the result is marked provisional, listing them.
        """
        if isinstance(n, bool) or not isinstance(n, int):
            raise ValueError(f"工作日天数必须是正整数，实际为“{n!r}”")
        if n < 1:
            raise ValueError(f"工作日天数必须至少为 1，实际为 {n}")
        if isinstance(start, datetime):
            start = start.date()
        unknown: list[int] = []
        year = start.year
        t = self._table(year)
        idx = start.toordinal() - t.first  # day index of start within its year
        used = t.cum[idx + 1]  # working days of this year up to and including start
        remaining = n
        while True:
            avail = t.total - used
            if remaining <= avail:
                k = bisect_left(t.cum, used + remaining)  # first i with cum[i] >= target
                due = date.fromordinal(t.first + k - 1)
                if not t.known:
                    unknown.append(year)
                return Deadline(due, bool(unknown), tuple(unknown))
            remaining -= avail
            if not t.known and idx < len(t.flags) - 1:
                unknown.append(year)  # we counted through (part of) this year
            year += 1
            if year > 9999:
                raise ValueError(f"工作日天数过大（{n}），超出可计算的日期范围")
            t = self._table(year)
            idx, used = -1, 0

    def _count(self, a: date, b: date) -> tuple[int, list[int]]:
        """Working days in (a, b] for a <= b, and the unknown years consulted."""
        total = 0
        unknown: list[int] = []
        for y in range(a.year, b.year + 1):
            t = self._table(y)
            lo = a.toordinal() - t.first + 1 if y == a.year else 0
            hi = b.toordinal() - t.first + 1 if y == b.year else len(t.flags)
            if hi > lo:
                total += t.cum[hi] - t.cum[lo]
                if not t.known:
                    unknown.append(y)
        return total, unknown

    def working_days_between(self, a: date, b: date) -> WorkdayCount:
        """Signed number of working days in (a, b]; negative, -(count of (b, a]), if b < a.

        Never raises for unknown years (weekends only there, marked provisional).
        """
        if b >= a:
            days, unknown = self._count(a, b)
        else:
            days, unknown = self._count(b, a)
            days = -days
        return WorkdayCount(days, bool(unknown), tuple(unknown))

    def working_days_left(self, today: date, due: date) -> int:
        """Working days left before a deadline, for traffic lights.

        * ``today <= due``: working days in (today, due] - 0 on the due day,
          1 on the working day before it, etc.
        * ``today > due``: overdue, always negative: -(working days in
          (due, today]), but at least -1 - so a weekend right after a Friday
          deadline is already -1, the following Monday still -1, Tuesday -2.

        Never raises for unknown years; use ``unknown_years_between`` or
        ``working_days_between`` to learn whether the number is provisional.
        Suggested lights: red when < 0, yellow when 0..3, green otherwise.
        """
        if today <= due:
            return self._count(today, due)[0]
        return -max(1, self._count(due, today)[0])
