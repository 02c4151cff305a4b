"""The example 2027 schedule in docs/ is marked as an example (its dates are fictional)."""

from pathlib import Path

import pytest

from bot.domain.workdays import ScheduleError, parse_schedule

EXAMPLE = Path(__file__).resolve().parents[2] / "docs/schedule-example-2027.toml"


def test_the_example_file_says_it_is_an_example():
    schedule = parse_schedule(EXAMPLE.read_text(encoding="utf-8"))
    assert schedule.example is True and schedule.year == 2027


def test_a_real_schedule_is_not_an_example_and_the_mark_survives_a_round_trip():
    text = EXAMPLE.read_text(encoding="utf-8").replace("example = true\n", "")
    assert parse_schedule(text).example is False
    marked = parse_schedule(EXAMPLE.read_text(encoding="utf-8"))
    assert parse_schedule(marked.to_toml()).example is True


def test_example_must_be_a_boolean():
    with pytest.raises(ScheduleError, match="example 应为 true 或 false"):
        parse_schedule('year = 2027\nexample = "是"\n[holidays]\n"元旦" = ["2027-01-01"]\n')
