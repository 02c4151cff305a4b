"""Chinese working-day deadlines: bot.domain.workdays and bot.cli.workdays.

Expected dates are derived by hand from the State Council's 2026 notice
(国办发明电〔2025〕7号), then cross-checked against chinese_calendar:

  元旦     2026-01-01 (Thu) .. 01-03 (Sat) off; 01-04 (Sun) worked
  春节     2026-02-15 (Sun) .. 02-23 (Mon) off; 02-14 (Sat) and 02-28 (Sat) worked
  中秋节   2026-09-25 (Fri) .. 09-27 (Sun) off
  国庆节   2026-10-01 (Thu) .. 10-07 (Wed) off; 09-20 (Sun) and 10-10 (Sat) worked
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
from datetime import date, timedelta

import chinese_calendar as cc
import pytest
from chinese_calendar import constants as cc_constants

from bot.domain.workdays import (
    ADJUSTED_WORKDAY,
    HOLIDAY,
    WEEKEND,
    WORKDAY,
    Deadline,
    ScheduleError,
    UnknownYear,
    WorkCalendar,
    WorkdayCount,
    YearSchedule,
    builtin_schedules,
    builtin_years,
    parse_schedule,
)
from bot.cli.workdays import main, schedule_summary

D = date.fromisoformat
EXAMPLE_2027 = "docs/schedule-example-2027.toml"


def cc_add(start: date, n: int) -> date:
    """Independent reference: step day by day with chinese_calendar."""
    d = start
    while n:
        d += timedelta(days=1)
        if cc.is_workday(d):
            n -= 1
    return d


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


@pytest.fixture(scope="module")
def cal_2026() -> WorkCalendar:
    """Real built-in data for 2025-2026 only, so 2027 stays unknown even after
    chinesecalendar gains 2027 data in a later release."""
    b = builtin_schedules()
    return WorkCalendar([b[2025], b[2026]], builtin=False)


@pytest.fixture(scope="module")
def example_2027() -> YearSchedule:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    return parse_schedule((root / EXAMPLE_2027).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------
# Built-in years
# --------------------------------------------------------------------------


def test_builtin_years_are_exactly_chinese_calendars_years():
    from_cc = {d.year for d in cc_constants.holidays}
    assert set(builtin_years()) == from_cc
    assert {2004, 2025, 2026} <= set(builtin_years())
    # chinese_calendar itself refuses the years just outside that range
    for y in (min(from_cc) - 1, max(from_cc) + 1):
        with pytest.raises(NotImplementedError):
            cc.is_workday(date(y, 6, 1))


def test_unknown_years_never_leak_not_implemented_error(cal):
    far = max(builtin_years()) + 5
    assert not cal.knows(far) and not cal.knows(2003)
    with pytest.raises(UnknownYear) as exc:
        cal.is_working_day(date(far, 3, 1))
    assert exc.value.year == far
    assert str(exc.value) == f"{far}年放假安排尚未载入"
    with pytest.raises(UnknownYear):
        cal.is_working_day(date(2003, 3, 3))
    assert cal.add_working_days(date(far, 3, 1), 1).provisional
    assert cal.add_working_days(date(2003, 3, 3), 1).unknown_years == (2003,)


def test_known_years(cal, cal_2026):
    assert cal.known_years() == builtin_years()
    assert cal_2026.known_years() == (2025, 2026)
    assert cal_2026.knows(2026) and not cal_2026.knows(2027)


def test_2026_official_days_match_chinese_calendar(cal):
    off = ["2026-01-01", "2026-01-02", "2026-01-03", "2026-02-15", "2026-02-18",
           "2026-02-23", "2026-09-25", "2026-10-01", "2026-10-07"]
    worked = ["2026-01-04", "2026-02-14", "2026-02-28", "2026-09-20", "2026-10-10"]
    for s in off:
        assert cal.is_working_day(D(s)) is False, s
        assert cc.is_workday(D(s)) is False, s
    for s in worked:
        assert D(s).weekday() >= 5, s  # all are weekends
        assert cal.is_working_day(D(s)) is True, s
        assert cc.is_workday(D(s)) is True, s
    assert cal.is_working_day(D("2026-10-08")) is True
    assert cal.is_working_day(D("2026-10-17")) is False  # ordinary Saturday


# --------------------------------------------------------------------------
# add_working_days
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start, n, due",
    [
        # start day not counted: plain Friday + 1 = next Monday
        ("2026-03-06", 1, "2026-03-09"),
        ("2026-03-06", 5, "2026-03-13"),
        ("2026-03-09", 1, "2026-03-10"),
        # New Year 2026, across the year boundary: Sun 01-04 is worked
        ("2025-12-31", 1, "2026-01-04"),
        ("2025-12-31", 2, "2026-01-05"),
        # Spring Festival 2026
        ("2026-02-12", 3, "2026-02-24"),  # 02-13 Fri, 02-14 Sat(调休), then 02-24
        ("2026-02-13", 1, "2026-02-14"),  # Friday + 1 = the 调休 Saturday
        ("2026-02-14", 1, "2026-02-24"),  # 02-15..02-23 off
        ("2026-02-18", 1, "2026-02-24"),  # starting on a holiday
        ("2026-02-18", 5, "2026-02-28"),  # 24,25,26,27 + Sat 28 (调休)
        ("2026-02-18", 6, "2026-03-02"),
        ("2026-02-27", 1, "2026-02-28"),
        # Mid-Autumn + National Day 2026
        ("2026-09-18", 1, "2026-09-20"),  # Fri -> Sun 09-20 (调休)
        ("2026-09-24", 1, "2026-09-28"),  # 09-25..27 off
        ("2026-09-28", 7, "2026-10-13"),  # 29,30, 10-08,09,10(调休),12,13
        ("2026-09-30", 1, "2026-10-08"),
        ("2026-09-30", 3, "2026-10-10"),
        ("2026-10-01", 1, "2026-10-08"),  # starting on a holiday
        ("2026-10-03", 4, "2026-10-12"),  # starting on a holiday weekend
    ],
)
def test_add_working_days_2026(cal, start, n, due):
    result = cal.add_working_days(D(start), n)
    assert result == Deadline(D(due), False, ())
    assert cc_add(D(start), n) == D(due)  # cross-check


def test_add_working_days_builtin_new_year_spillover_2019(cal):
    # 2019 notice: 2018-12-30..2019-01-01 off, Sat 2018-12-29 worked
    assert cal.is_working_day(D("2018-12-29")) is True
    assert cal.is_working_day(D("2018-12-31")) is False
    assert cal.add_working_days(D("2018-12-28"), 1).due == D("2018-12-29")
    assert cal.add_working_days(D("2018-12-28"), 2).due == D("2019-01-02")
    s2019 = builtin_schedules()[2019]
    assert D("2018-12-30") in s2019.holidays and D("2018-12-29") in s2019.workdays
    assert D("2018-12-30") not in builtin_schedules()[2018].holidays


def test_add_working_days_rejects_bad_n(cal):
    for bad in (0, -1):
        with pytest.raises(ValueError, match="至少为 1"):
            cal.add_working_days(D("2026-03-06"), bad)
    for bad in (1.5, "3", True):
        with pytest.raises(ValueError, match="正整数"):
            cal.add_working_days(D("2026-03-06"), bad)


def test_matches_chinese_calendar_over_all_builtin_years(cal):
    start = date(2004, 1, 1)
    end = date(max(builtin_years()), 11, 1)
    d = start
    while d < end:
        for n in (1, 3, 10, 22):
            assert cal.add_working_days(d, n).due == cc_add(d, n), (d, n)
        d += timedelta(days=5)


# --------------------------------------------------------------------------
# Unknown years, loaded schedules
# --------------------------------------------------------------------------


def test_deadline_into_unknown_year_is_provisional(cal_2026):
    # Thu 2026-12-31 is 1; 2027 counted on weekends only: Fri 01-01, Mon 01-04
    assert cal_2026.add_working_days(D("2026-12-30"), 3) == Deadline(D("2027-01-04"), True, (2027,))
    assert cal_2026.add_working_days(D("2026-12-31"), 1) == Deadline(D("2027-01-01"), True, (2027,))
    # entirely inside an unknown year
    assert cal_2026.add_working_days(D("2027-03-01"), 5) == Deadline(D("2027-03-08"), True, (2027,))
    # a deadline that stays in the known year is not provisional
    assert cal_2026.add_working_days(D("2026-12-28"), 3) == Deadline(D("2026-12-31"), False, ())


def test_deadline_through_two_unknown_years(cal_2026):
    # 1 (2026-12-31) + 261 weekdays of 2027 = 262; 38 more from Mon 2028-01-03
    result = cal_2026.add_working_days(D("2026-12-30"), 300)
    assert result == Deadline(D("2028-02-23"), True, (2027, 2028))


def test_start_day_in_unknown_year_does_not_make_it_provisional(cal_2026):
    s2028 = parse_schedule('year = 2028\n[holidays]\n"元旦" = ["2028-01-01..2028-01-03"]\n')
    c = cal_2026.with_schedules(s2028)
    assert not c.knows(2027)
    # only days after the start are counted; Sat 01-01..Mon 01-03 off
    assert c.add_working_days(D("2027-12-31"), 1) == Deadline(D("2028-01-04"), False, ())
    assert c.add_working_days(D("2027-12-30"), 2) == Deadline(D("2028-01-04"), True, (2027,))


def test_is_working_day_unknown_year(cal_2026):
    with pytest.raises(UnknownYear) as exc:
        cal_2026.is_working_day(D("2027-01-01"))
    assert exc.value.year == 2027
    assert cal_2026.is_working_day(D("2027-01-01"), provisional=True) is True  # a Friday
    assert cal_2026.is_working_day(D("2027-01-02"), provisional=True) is False  # Saturday
    assert cal_2026.is_working_day(D("2026-10-10"), provisional=True) is True  # known: real answer


def test_loaded_schedule_makes_year_known_and_changes_result(cal_2026, example_2027):
    c = WorkCalendar([*(cal_2026.schedule(y) for y in (2025, 2026)), example_2027], builtin=False)
    assert c.knows(2027)
    # example: 2027-01-01..03 off -> Thu 12-31, Mon 01-04, Tue 01-05
    assert c.add_working_days(D("2026-12-30"), 3) == Deadline(D("2027-01-05"), False, ())
    assert c.add_working_days(D("2026-12-31"), 1) == Deadline(D("2027-01-04"), False, ())
    # example Spring Festival 02-05..02-13 off, Sun 02-14 and Sat 02-20 worked
    assert c.add_working_days(D("2027-02-04"), 1).due == D("2027-02-14")
    assert c.add_working_days(D("2027-02-04"), 2).due == D("2027-02-15")
    assert c.is_working_day(D("2027-02-20")) is True
    # with_schedules gives the same result
    assert cal_2026.with_schedules(example_2027).add_working_days(D("2026-12-30"), 3).due == D("2027-01-05")
    assert not cal_2026.knows(2027)  # the original calendar is unchanged


def test_loaded_schedule_overrides_builtin_year(cal):
    fake = parse_schedule('year = 2026\n[holidays]\n"元旦" = ["2026-01-01..2026-01-03"]\n')
    c = WorkCalendar([fake])
    assert c.loaded_years() == (2026,)
    # no National Day in the fake: Sep 29, 30, Oct 1, 2, 5, 6, 7
    assert c.add_working_days(D("2026-09-28"), 7).due == D("2026-10-07")
    assert c.is_working_day(D("2026-10-10")) is False
    assert cal.add_working_days(D("2026-09-28"), 7).due == D("2026-10-13")  # built-in untouched


def test_loaded_new_year_spillover_into_previous_december():
    # like the 2019 notice: 2029-12-30..2030-01-01 off, Sat 2029-12-29 worked
    s2030 = parse_schedule(
        'year = 2030\n[holidays]\n"元旦" = ["2029-12-30..2030-01-01"]\n'
        '[workdays]\ndates = ["2029-12-29"]\n'
    )
    s2029 = parse_schedule('year = 2029\n[holidays]\n"元旦" = ["2029-01-01"]\n')
    c = WorkCalendar([s2029, s2030], builtin=False)
    assert c.is_working_day(D("2029-12-29")) is True
    assert c.is_working_day(D("2029-12-31")) is False
    assert c.add_working_days(D("2029-12-28"), 1) == Deadline(D("2029-12-29"), False, ())
    assert c.add_working_days(D("2029-12-28"), 2) == Deadline(D("2030-01-02"), False, ())
    # 2029 itself unknown: still provisional, but the official spill-over is used
    c2 = WorkCalendar([s2030], builtin=False)
    assert c2.add_working_days(D("2029-12-28"), 2) == Deadline(D("2030-01-02"), True, (2029,))


# --------------------------------------------------------------------------
# Counting between dates, days left
# --------------------------------------------------------------------------


def test_working_days_between(cal, cal_2026):
    assert cal.working_days_between(D("2026-09-30"), D("2026-10-08")) == WorkdayCount(1)
    # Feb 14, 24, 25, 26, 27, 28
    assert cal.working_days_between(D("2026-02-13"), D("2026-02-28")) == WorkdayCount(6)
    assert cal.working_days_between(D("2026-02-28"), D("2026-02-13")) == WorkdayCount(-6)
    assert cal.working_days_between(D("2026-03-06"), D("2026-03-06")) == WorkdayCount(0)
    assert int(cal.working_days_between(D("2026-09-28"), D("2026-10-13"))) == 7
    r = cal_2026.working_days_between(D("2026-12-30"), D("2027-01-04"))
    assert r == WorkdayCount(3, True, (2027,))
    assert cal_2026.unknown_years_between(D("2026-12-30"), D("2028-01-04")) == (2027, 2028)
    assert cal_2026.unknown_years_between(D("2026-01-30"), D("2026-12-31")) == ()


@pytest.mark.parametrize(
    "today, due, left",
    [
        ("2026-10-13", "2026-10-13", 0),  # due day itself
        ("2026-10-12", "2026-10-13", 1),
        ("2026-10-10", "2026-10-13", 2),  # on the 调休 Saturday: 12, 13
        ("2026-09-30", "2026-10-13", 5),  # 10-08, 09, 10, 12, 13
        ("2026-09-28", "2026-10-08", 3),  # 29, 30, 10-08 (yellow)
        ("2026-10-14", "2026-10-13", -1),  # first working day after due
        ("2026-10-15", "2026-10-13", -2),
        ("2026-03-07", "2026-03-06", -1),  # Saturday after a Friday deadline
        ("2026-03-09", "2026-03-06", -1),  # the following Monday
        ("2026-03-10", "2026-03-06", -2),
        ("2026-10-03", "2026-09-30", -1),  # overdue during the holiday
        ("2026-10-08", "2026-09-30", -1),
        ("2026-10-09", "2026-09-30", -2),
    ],
)
def test_working_days_left(cal, today, due, left):
    assert cal.working_days_left(D(today), D(due)) == left


def test_working_days_left_never_raises_for_unknown_year(cal_2026):
    assert cal_2026.working_days_left(D("2026-12-30"), D("2027-01-04")) == 3
    assert cal_2026.working_days_left(D("2027-01-05"), D("2027-01-04")) == -1


def test_describe_day(cal, cal_2026):
    assert cal.describe_day(D("2026-10-10")).kind == ADJUSTED_WORKDAY
    info = cal.describe_day(D("2026-10-03"))  # Saturday inside National Day
    assert (info.kind, info.holiday_name, info.working) == (HOLIDAY, "国庆节", False)
    assert cal.describe_day(D("2026-02-17")).holiday_name == "春节"
    assert cal.describe_day(D("2026-10-17")).kind == WEEKEND
    assert cal.describe_day(D("2026-10-12")).kind == WORKDAY
    with pytest.raises(UnknownYear):
        cal_2026.describe_day(D("2027-01-02"))
    p = cal_2026.describe_day(D("2027-01-02"), provisional=True)
    assert (p.kind, p.provisional) == (WEEKEND, True)


def test_fast_enough_for_the_escalation_sweep(cal):
    starts = [date(2026, 1, 1) + timedelta(days=i % 330) for i in range(20_000)]
    t0 = time.perf_counter()
    for i, s in enumerate(starts):
        due = cal.add_working_days(s, 1 + i % 30).due
        cal.working_days_left(s, due)
        cal.is_working_day(s)
    assert time.perf_counter() - t0 < 2.0


# --------------------------------------------------------------------------
# parse_schedule
# --------------------------------------------------------------------------


def test_parse_example_file(example_2027):
    s = example_2027
    assert s.year == 2027
    assert D("2027-01-01") in s.holidays and D("2027-02-13") in s.holidays
    assert len([d for d in s.holidays if s.holiday_names[d] == "春节"]) == 9
    assert s.workdays >= {D("2027-02-14"), D("2027-02-20")}
    assert s.holiday_names[D("2027-10-01")] == "国庆节"
    assert "示例" in s.source


def test_example_file_is_marked_as_not_official():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / EXAMPLE_2027).read_text(encoding="utf-8")
    assert "示例文件" in text and "不是国务院公布" in text and "EXAMPLE ONLY" in text


def test_parse_accepts_variants():
    s = parse_schedule(
        "\ufeff"  # BOM from Windows Notepad
        "year = 2027\n"
        "[holidays]\n"
        '"元旦" = "2027-01-01..2027-01-03"\n'  # a bare string
        '"清明节" = [2027-04-03, "2027-04-04", " 2027-04-05 "]\n'  # TOML dates, spaces
        "[workdays]\n"
        'dates = "2027-02-14"\n'
    )
    assert s.holidays == {D("2027-01-01"), D("2027-01-02"), D("2027-01-03"),
                          D("2027-04-03"), D("2027-04-04"), D("2027-04-05")}
    assert s.workdays == {D("2027-02-14")}
    assert s.source is None
    # workdays section is optional
    assert parse_schedule('year = 2027\n[holidays]\n"元旦" = ["2027-01-01"]\n').workdays == frozenset()


def test_to_toml_round_trips_every_builtin_year():
    for y, s in builtin_schedules().items():
        assert parse_schedule(s.to_toml()) == s, y


def test_schedule_summary(example_2027):
    text = schedule_summary(example_2027)
    assert text.startswith("2027年放假安排：放假 ")
    assert "春节 9 天" in text and "2027-02-14" in text


HOL = '[holidays]\n"元旦" = ["2027-01-01..2027-01-03"]\n'


@pytest.mark.parametrize(
    "text, message",
    [
        ("year = 2027\n[holidays\n", "不是有效的 TOML 格式（第 2 行"),
        ('year = 2027\n[holidays]\n"元旦" = ["2028-01-01"]\n',
         "[holidays] “元旦” 中的 “2028-01-01” 不在 2027 年内"),
        ('year = 2027\n[holidays]\n"元旦" = ["2026-11-30"]\n', "“2026-11-30” 不在 2027 年内"),
        ('year = 2027\n[holidays]\n"春节" = ["2027-02-13..2027-02-05"]\n',
         "[holidays] “春节” 中的 “2027-02-13..2027-02-05” 起止日期颠倒"),
        ('year = 2027\n[holidays]\n"春节" = ["2027-02-05..2027-03-13"]\n', "跨度超过 31 天"),
        ('year = 2027\n[holidays]\n"春节" = ["2027-02-05..2027-02-13"]\n[workdays]\ndates = ["2027-02-13"]\n',
         "日期 2027-02-13 同时出现在 [holidays] “春节” 和 [workdays] dates 中，不能既放假又上班"),
        ("year = 2027\n" + HOL + '[workdays]\ndates = ["2027-02-15"]\n',
         "[workdays] dates 中的 2027-02-15 是星期一，不是周末"),
        ("year = 2027\nyaer = 1\n" + HOL, "未知的配置项 “yaer”"),
        ("year = 2027\n" + HOL + '[workday]\ndates = ["2027-02-14"]\n', "未知的配置项 “workday”"),
        ("year = 2027\n" + HOL + '[workdays]\ndate = ["2027-02-14"]\n', "[workdays] 中未知的键 “date”"),
        (HOL, "缺少 year"),
        ('year = "2027"\n' + HOL, "year 应为四位年份整数"),
        ("year = 27\n" + HOL, "year 应为四位年份整数（不加引号），例如 year = 2027，实际为 “27”"),
        ("year = 2027\n", "缺少 [holidays]"),
        ("year = 2027\nholidays = 1\n", "holidays 应为表"),
        ("year = 2027\n[holidays]\n", "[holidays] 中没有任何放假日期"),
        ('year = 2027\n[holidays]\n"春节" = ["2027-02-30"]\n', "“2027-02-30” 不是有效日期"),
        ('year = 2027\n[holidays]\n"春节" = ["20270205"]\n', "[holidays] “春节” 中的 “20270205” 不是有效日期"),
        ('year = 2027\n[holidays]\n"春节" = [20270205]\n', "[holidays] “春节” 中的 “20270205” 不是日期"),
        ('year = 2027\n[holidays]\n"春节" = [2027-02-05T08:00:00]\n', "带有时间"),
        ('year = 2027\n[holidays]\n"春节" = []\n', "[holidays] “春节” 是空列表"),
        ('year = 2027\n[holidays]\n"" = ["2027-02-05"]\n', "空的节日名称"),
        ('year = 2027\n[holidays]\n"国庆节" = ["2027-10-01..2027-10-07"]\n"中秋节" = ["2027-10-07"]\n',
         "日期 2027-10-07 同时出现在 [holidays] “国庆节” 和 “中秋节” 中"),
        ("year = 2027\nsource = 1\n" + HOL, "source 应为文字"),
        ("year = 2027\nworkdays = 3\n" + HOL, "workdays 应为表"),
        ("year = 2027\n" + HOL + "workdays = 3\n", "[holidays] “workdays” 中的 “3” 不是日期"),
    ],
)
def test_parse_schedule_errors(text, message):
    with pytest.raises(ScheduleError) as exc:
        parse_schedule(text)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_year_schedule_validates_when_built_directly():
    with pytest.raises(ScheduleError, match="不是周末"):
        YearSchedule(2027, frozenset({D("2027-01-01")}), frozenset({D("2027-01-04")}))
    with pytest.raises(ScheduleError, match="既是放假日期又是调休上班日期"):
        YearSchedule(2027, frozenset({D("2027-01-02")}), frozenset({D("2027-01-02")}))
    with pytest.raises(ScheduleError, match="不在 2027 年内"):
        YearSchedule(2027, frozenset({D("2028-01-01")}))
    s = YearSchedule(2027, {D("2027-01-01")}, holiday_names={D("2027-01-01"): "元旦"})
    assert isinstance(s.holidays, frozenset) and hash(s)


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def run(calendar: WorkCalendar, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = main(list(argv), calendar, out=out, err=err)
    return rc, out.getvalue(), err.getvalue()


def test_cli_deadline(cal):
    assert run(cal, "2026-09-28", "7") == (0, "2026-10-13\n", "")
    assert run(cal, "2026-02-12", "3") == (0, "2026-02-24\n", "")
    assert run(cal, "2026-09-28", "7", "--provisional") == (0, "2026-10-13\n", "")  # known: no note


@pytest.mark.parametrize(
    "day, line",
    [
        ("2026-10-10", "2026-10-10 工作日（调休上班）"),
        ("2026-10-01", "2026-10-01 休息日（国庆节）"),
        ("2026-10-03", "2026-10-03 休息日（国庆节）"),
        ("2026-10-17", "2026-10-17 休息日（周末）"),
        ("2026-10-12", "2026-10-12 工作日"),
        ("2026-02-17", "2026-02-17 休息日（春节）"),
        ("2026-02-14", "2026-02-14 工作日（调休上班）"),
        ("2026-09-26", "2026-09-26 休息日（中秋节）"),
    ],
)
def test_cli_day_query(cal, day, line):
    assert run(cal, day) == (0, line + "\n", "")


def test_cli_unknown_year_deadline(cal_2026):
    rc, out, err = run(cal_2026, "2026-12-30", "3")
    assert (rc, out) == (2, "")
    assert err.startswith("错误：2027年放假安排尚未载入")
    assert "python -m bot workdays load FILE" in err and "--provisional" in err
    assert err.count("\n") == 1

    assert run(cal_2026, "2026-12-30", "3", "--provisional") == (
        0, "2027-01-04\n", "（暂定：2027年放假安排未载入）\n")
    assert run(cal_2026, "--provisional", "2026-12-30", "300") == (
        0, "2028-02-23\n", "（暂定：2027年、2028年放假安排未载入）\n")


def test_cli_unknown_year_day_query(cal_2026):
    rc, out, err = run(cal_2026, "2027-01-01")
    assert (rc, out) == (2, "")
    assert err.startswith("错误：2027年放假安排尚未载入") and "workdays load FILE" in err
    assert run(cal_2026, "2027-01-01", "--provisional") == (
        0, "2027-01-01 工作日\n", "（暂定：2027年放假安排未载入）\n")
    assert run(cal_2026, "2027-01-02", "--provisional") == (
        0, "2027-01-02 休息日（周末）\n", "（暂定：2027年放假安排未载入）\n")


def test_cli_loaded_year(cal_2026, example_2027):
    c = cal_2026.with_schedules(example_2027)
    assert run(c, "2026-12-30", "3") == (0, "2027-01-05\n", "")
    assert run(c, "2027-02-14") == (0, "2027-02-14 工作日（调休上班）\n", "")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["2026-13-01"], "错误：日期“2026-13-01”不存在"),
        (["2026-02-30", "3"], "错误：日期“2026-02-30”不存在"),
        (["2026/09/28", "7"], "错误：日期“2026/09/28”格式不正确，应为 YYYY-MM-DD"),
        (["tomorrow"], "错误：日期“tomorrow”格式不正确"),
        (["2026-09-28", "0"], "错误：工作日天数应为正整数（至少为 1），收到“0”"),
        (["2026-09-28", "-3"], "错误：工作日天数应为正整数（至少为 1），收到“-3”"),
        (["2026-09-28", "abc"], "错误：工作日天数应为正整数，收到“abc”"),
        (["2026-09-28", "1.5"], "错误：工作日天数应为正整数，收到“1.5”"),
        (["2026-09-28", "7", "8"], "错误：无法识别的参数：8"),
        (["2026-09-28", "--foo"], "错误：无法识别的参数：--foo"),
        (["2026-09-28", "--provisional=yes"], "错误：选项 --provisional 不接受取值"),
        ([], "错误：缺少日期"),
        (["2026-09-28", "99999999"], "错误：工作日天数过大"),
    ],
)
def test_cli_bad_input(cal, argv, message):
    rc, out, err = run(cal, *argv)
    assert rc == 2 and out == ""
    assert err.startswith(message), err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_cli_help(cal):
    rc, out, err = run(cal, "-h")
    assert rc == 0 and err == ""
    assert out.startswith("用法：") and "--provisional" in out


def test_cli_default_streams(cal, capsys):
    assert main(["2026-09-28", "7"], cal) == 0
    assert capsys.readouterr().out == "2026-10-13\n"
    assert main(["2026-09-28", "0"], cal) == 2
    assert capsys.readouterr().err.startswith("错误：")


def test_no_telegram_or_database_imports():
    code = (
        "import sys, bot.domain.workdays, bot.cli.workdays\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('telegram', 'sqlalchemy', 'aiosqlite', 'asyncpg', 'store', 'handlers')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
