"""[reminders] and [digest] in config.toml: documented defaults, friendly forms, one-line errors;
and the schedules the sweeps run on."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest

from bot.kernel.config import ConfigError, ReminderSettings, load_settings
from bot.domain.workdays import WorkCalendar
from bot.kernel.clock import OFFICE_TZ
from bot.runtime.sweeps import latest_daily, latest_digest, latest_weekly

ROOT = Path(__file__).resolve().parents[2]
CAL = WorkCalendar()


def at(day: date, hh: int = 9, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=OFFICE_TZ).astimezone(UTC)


def test_the_example_file_documents_the_defaults():
    s = load_settings(ROOT / "config.example.toml", environ={})
    # Notices bundled at 16:00 (issue 13): on by default, and the example says so.
    assert s.reminders == ReminderSettings()
    assert s.reminders.bundle_time == time(16, 0)
    r = s.reminders
    assert (r.work_start, r.work_end, r.round_time) == (time(8, 30), time(18, 0), time(8, 30))
    assert (r.due_soon_days, r.due_day, r.overdue_every_days, r.leader_after_days) == (3, True, 1, 3)
    assert (r.weekly_day, r.weekly_time) == (1, time(8, 30))
    assert (s.digest.time, s.digest.chart) == (time(8, 30), True)
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    for key in ("work_start", "work_end", "round_time", "bundle_time", "due_soon_days", "due_day", "overdue_every_days",
                "overdue_office", "leader_after_days", "follower_every_step", "urgent_any_time", "weekly_day",
                "weekly_time", "[digest]", "chart"):
        assert key in text


def test_bundling_is_on_unless_turned_off(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[reminders]\nwork_start = \"08:30\"\n", encoding="utf-8")
    assert load_settings(cfg, environ={}).reminders.bundle_time == time(16, 0)
    cfg.write_text("[reminders]\nbundle_time = false\n", encoding="utf-8")
    assert load_settings(cfg, environ={}).reminders.bundle_time is None
    cfg.write_text("[reminders]\nbundle_time = \"15:30\"\n", encoding="utf-8")
    assert load_settings(cfg, environ={}).reminders.bundle_time == time(15, 30)


def test_friendly_forms(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[reminders]\nwork_start = 08:00:00\nwork_end = "17：30"\nweekly_day = "星期五"\n'
                   'round_time = "8:45"\n[digest]\ntime = "7:30"\nchart = false\n', encoding="utf-8")
    s = load_settings(cfg, environ={})
    assert (s.reminders.work_start, s.reminders.work_end, s.reminders.round_time) == (time(8), time(17, 30), time(8, 45))
    # A digest time before work_start (08:00 here) is sent at work_start.
    assert s.reminders.weekly_day == 5 and s.digest.time == time(8, 0) and s.digest.chart is False


@pytest.mark.parametrize(("content", "expected"), [
    ('[reminders]\nwork_start = "8点半"\n', "[reminders] work_start 应为“时:分”格式的时间"),
    ('[reminders]\nwork_end = "25:00"\n', "[reminders] work_end 应为“时:分”格式的时间"),
    ('[reminders]\nwork_start = "18:00"\nwork_end = "08:30"\n', "[reminders] work_end 应晚于 work_start"),
    ("[reminders]\ndue_soon_days = 45\n", "[reminders] due_soon_days 应在 0–30 之间"),
    ("[reminders]\noverdue_every_days = 0\n", "[reminders] overdue_every_days 应在 1–30 之间"),
    ("[reminders]\ndue_day = 1\n", "[reminders] due_day 应为布尔值"),
    ("[reminders]\nleader_after_days = true\n", "[reminders] leader_after_days 应为整数"),
    ("[reminders]\nweekly_day = 8\n", "[reminders] weekly_day 应为 1–7"),
    ('[reminders]\nweekly_day = "周八"\n', "[reminders] weekly_day 应为 1–7"),
    ("[reminders]\nweekly_day = true\n", "[reminders] weekly_day 应为整数 1–7"),
    ("[reminders]\nround = 9\n", "[reminders] 中有未知的键 round"),
    ('[digest]\ntime = "19:00"\n', "[digest] time 应早于 [reminders] work_end"),
    ("[digest]\nchart = \"yes\"\n", "[digest] chart 应为布尔值"),
])
def test_mistakes_name_the_file_and_key(tmp_path, content, expected):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, environ={})
    message = str(info.value)
    assert message.startswith(f"配置错误 {cfg}：") and expected in message and "\n" not in message


def test_schedules():
    s = load_settings(None, environ={})
    # The daily round: the latest 08:30 (work_start) at or before now, every day.
    assert latest_daily(CAL, s, at(date(2026, 3, 16), 8, 30)) == at(date(2026, 3, 16), 8, 30)
    assert latest_daily(CAL, s, at(date(2026, 3, 16), 8, 29)) == at(date(2026, 3, 15), 8, 30)
    # Weekly: Monday 08:30, with the round.
    assert latest_weekly(CAL, s, at(date(2026, 3, 18), 12)) == at(date(2026, 3, 16), 8, 30)
    assert latest_weekly(CAL, s, at(date(2026, 3, 16), 8)) == at(date(2026, 3, 9), 8, 30)
    # The digest: working days only — Tuesday after 清明 looks back to Friday 04-03.
    assert latest_digest(CAL, s, at(date(2026, 4, 7), 8, 29)) == at(date(2026, 4, 3), 8, 30)
    assert latest_digest(CAL, s, at(date(2026, 4, 7), 8, 30)) == at(date(2026, 4, 7), 8, 30)
