"""When routine notices may go (bot.domain.notices.slot) and how parts merge (bot.outbox.bundles)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time

import pytest

from bot.domain.notices import desk_times, slot
from bot.domain.urging import Policy
from bot.domain.workdays import WorkCalendar
from bot.kernel.clock import OFFICE_TZ
from bot.kernel.config import ReminderSettings, Settings
from bot.outbox.bundles import MAX_TEXT, SEPARATOR, merge_parts
from store.models import OutboxMessage

CAL = WorkCalendar()
PLAIN = Settings(reminders=ReminderSettings(bundle_time=None))  # notices at once
BUNDLED = dataclasses.replace(PLAIN, reminders=dataclasses.replace(PLAIN.reminders, bundle_time=time(16)))
ACT = [[{"text": "签收", "data": "a:ack:1"}]]
INFO = [[{"text": "查看", "data": "i:v:1"}]]


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=OFFICE_TZ).astimezone(UTC)


TUE, WED = date(2026, 3, 10), date(2026, 3, 11)


@pytest.mark.parametrize(("settings", "created", "buttons", "desk", "expected"), [
    (PLAIN, at(TUE, 10), ACT, False, at(TUE, 10)),  # asks to act, in hours: now
    (PLAIN, at(TUE, 10), INFO, False, at(TUE, 10)),  # no bundle_time: now
    (PLAIN, at(TUE, 21, 16), ACT, False, at(WED, 8, 30)),  # evening: the next morning round
    (PLAIN, at(TUE, 7), ACT, False, at(TUE, 8, 30)),  # before hours: this morning's round
    (PLAIN, at(date(2026, 9, 30), 19, 41), INFO, False, at(date(2026, 10, 8), 8, 30)),  # into National Day
    (BUNDLED, at(TUE, 10), INFO, False, at(TUE, 16)),  # information: the bundle time
    (BUNDLED, at(TUE, 16, 30), INFO, False, at(WED, 8, 30)),  # after it: the next morning
    (BUNDLED, at(TUE, 10), ACT, False, at(TUE, 10)),  # a unit asked to act: now
    (BUNDLED, at(TUE, 10), ACT, True, at(TUE, 11, 30)),  # the office: the next desk time
    (BUNDLED, at(TUE, 12), ACT, True, at(TUE, 16)),
    (BUNDLED, at(TUE, 17), ACT, True, at(WED, 8, 30)),
])
def test_slot(settings, created, buttons, desk, expected):
    assert slot(CAL, Policy.from_settings(settings), settings, created, buttons, desk) == expected


def test_desk_times_are_three_with_bundling():
    assert desk_times(BUNDLED) == [time(8, 30), time(11, 30), time(16)]


def part(i: int, text: str, buttons=None, items=(1,)) -> OutboxMessage:
    return OutboxMessage(id=i, kind="text", text=text, buttons=buttons, item_ids=list(items))


def test_parts_merge_into_one_message_naming_every_item_and_labelled_buttons():
    (m,) = merge_parts([part(1, "甲", ACT, (1,)), part(2, "乙", INFO, (2, 1)), part(3, "丙", None, (3,))],
                       {1: "1号", 2: "2号"})
    assert m.text == SEPARATOR.join(["甲", "乙", "丙"]) and m.item_ids == [1, 2, 3]
    assert [[b["text"] for b in row] for row in m.buttons] == [["1号 签收"], ["2号 查看"]]


def test_one_part_keeps_its_buttons_and_long_parts_split():
    (m,) = merge_parts([part(1, "甲", ACT)], {1: "1号"})
    assert m.buttons == ACT
    long = "字" * (MAX_TEXT // 2 + 10)
    groups = merge_parts([part(1, long), part(2, long), part(3, "短")])
    assert [[r.id for r in g.rows] for g in groups] == [[1], [2, 3]]
    assert all(len(g.text) <= MAX_TEXT for g in groups)
