"""Deadline and title input checks (issue 12 point 10): example dates, days off, empty titles."""

from datetime import date

import pytest

from bot.domain.deadlines import day_off, example_date
from bot.domain.errors import DomainError
from bot.domain.workdays import WorkCalendar
from bot.domain.workflow import clean_title

CAL = WorkCalendar()


@pytest.mark.parametrize(("today", "expected"), [
    (date(2026, 3, 10), date(2026, 4, 30)),  # Thu
    (date(2026, 4, 10), date(2026, 5, 29)),  # 05-31 is a Sunday, 05-30 a Saturday
    (date(2026, 8, 3), date(2026, 9, 30)),
    (date(2026, 11, 20), date(2026, 12, 31)),
    (date(2026, 12, 1), date(2027, 1, 29)),  # 2027 not loaded: weekends only
])
def test_the_example_date_is_next_months_last_working_day(today, expected):
    assert example_date(CAL, today) == expected


def test_a_saturday_deadline_is_a_day_off_with_the_friday_before_offered():
    off = day_off(CAL, date(2026, 3, 21), date(2026, 3, 10))
    assert (off.what, off.previous) == ("星期六", date(2026, 3, 20))
    assert day_off(CAL, date(2026, 3, 20), date(2026, 3, 10)) is None


def test_a_holiday_is_named_and_an_adjusted_weekend_is_a_working_day():
    off = day_off(CAL, date(2026, 10, 5), date(2026, 9, 1))
    assert off.what == "国庆节" and off.previous == date(2026, 9, 30)
    assert day_off(CAL, date(2026, 10, 10), date(2026, 9, 1)) is None  # 调休上班 Saturday


def test_no_earlier_working_day_after_today_means_none_is_offered():
    off = day_off(CAL, date(2026, 3, 14), date(2026, 3, 13))  # Sat; Fri 03-13 is today
    assert off.previous is None


@pytest.mark.parametrize("title", ["。", "……", "123", "!!!", " - ", "２０２６"])
def test_a_title_without_letters_is_refused(title):
    with pytest.raises(DomainError, match="事项名称要有文字"):
        clean_title(title)


@pytest.mark.parametrize("title", ["修路", "G312改造", "5G基站建设"])
def test_titles_with_words_pass(title):
    assert clean_title(title) == title


def test_a_date_typed_wrong_is_answered_with_an_example_from_today():
    from bot.domain.dates import parse_date

    with pytest.raises(DomainError, match="请按“2026-04-30”的格式输入"):
        parse_date("下周五", date(2026, 3, 10))
    with pytest.raises(DomainError, match="请按“2027-01-29”的格式输入"):
        parse_date("下周五", date(2026, 12, 1))
