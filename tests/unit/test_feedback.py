"""Weekly feedback: reminders to quiet units, and a week without progress recorded as late feedback."""

from __future__ import annotations

import dataclasses
from datetime import date

from sqlalchemy import select
from test_urging import SETTINGS, at
from test_workflow_support import CAL, data_of, make_world, outbox, register, to

from bot.domain import assignments as asg
from bot.domain.feedback import feedback_sweep, late_key, week_start
from bot.domain.workflow import DeadlineSpec
from store.score import ScoreEvent
from store.urging import FeedbackWeek


async def sweep(db, now):
    async with db.session() as s:
        return await feedback_sweep(s, CAL, now, SETTINGS)


async def weeks(db) -> dict[tuple[int, date], FeedbackWeek]:
    async with db.session() as s:
        return {(w.assignment_id, w.week_start): w for w in (await s.scalars(select(FeedbackWeek))).all()}


async def events(db) -> list[ScoreEvent]:
    async with db.session() as s:
        return list((await s.scalars(select(ScoreEvent).order_by(ScoreEvent.id))).all())


def test_weeks_start_on_monday():
    assert week_start(date(2026, 3, 16)) == date(2026, 3, 16)
    assert week_start(date(2026, 3, 22)) == date(2026, 3, 16)


async def test_quiet_units_are_reminded_and_a_silent_week_costs_points_once(db, clock):
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True)  # Tue 03-10, due 03-19: weekly feedback on
    assert item.weekly_feedback
    ids = {a.unit_id: a.id for a in item.assignments}
    lead, a1, a2 = ids[w.unit("lead").id], ids[w.unit("a1").id], ids[w.unit("a2").id]
    # A unit that reported during the week it was assigned is fine; nothing is owed for that week.
    async with db.session() as s:
        await asg.add_progress(s, w.a2_liaison, a2, text="已开始排查。", now=at(date(2026, 3, 12)))

    # Monday 03-16 09:00: the week opens; every unit owes this week's feedback and is reminded
    # (a2's Thursday report was last week's: the reminder and the penalty judge the same week).
    seen = (await outbox(db))[-1].id
    result = await sweep(db, at(date(2026, 3, 16)))
    assert result.considered == 3
    msgs = await outbox(db, seen)
    assert {m.person_id for m in msgs} == {w.lead_liaison.id, w.a1_liaison.id, w.a2_liaison.id}
    (m,) = to(msgs, w.lead_liaison)
    assert "每周反馈提醒" in m.text and "督字〔2026〕1号" in m.text and "2026-03-22" in m.text
    assert "本周（2026-03-16至2026-03-22）本单位尚未反馈" in m.text
    assert data_of(m) == [[f"a:prg:{lead}"]]
    # Again: nothing new.
    assert (await sweep(db, at(date(2026, 3, 16), 15))).messages == 0

    # During the week: the lead unit reports; the second assisting unit cannot assist.
    async with db.session() as s:
        await asg.add_progress(s, w.lead_liaison, lead, text="已修复东环路。", now=at(date(2026, 3, 18)))
        await asg.decline_assist(s, w.a2_liaison, a2, reason="不属本局职责。", now=at(date(2026, 3, 19)))

    # Monday 03-23: last week closes.
    seen = (await outbox(db))[-1].id
    await sweep(db, at(date(2026, 3, 23)))
    rows = await weeks(db)
    wk = date(2026, 3, 16)
    assert (rows[(lead, wk)].status, rows[(a1, wk)].status, rows[(a2, wk)].status) == ("received", "missed", "excused")
    (e,) = await events(db)
    assert (e.rule, e.points, e.unit_id, e.item_id, e.assignment_id, e.automatic, e.year) == (
        "late_feedback", -2, w.unit("a1").id, item.id, a1, True, 2026)
    assert e.dedupe_key == late_key(a1, wk) and rows[(a1, wk)].score_event_id == e.id
    assert "2026-03-16至2026-03-22" in e.reason
    # This week (03-23…03-29) nobody has reported yet: both units still at work are reminded.
    assert {m.person_id for m in await outbox(db, seen)} == {w.lead_liaison.id, w.a1_liaison.id}
    assert (lead, date(2026, 3, 23)) in rows and (a2, date(2026, 3, 23)) not in rows

    # Running it again changes nothing.
    await sweep(db, at(date(2026, 3, 23), 10))
    assert len(await events(db)) == 1


async def test_a_week_the_bot_never_opened_costs_nothing(db, clock):
    w = await make_world(db, clock.now())
    await register(db, w, clock.now(), approve=True, assisting_unit_ids=[])
    # The bot was off from 03-13 to 03-30: the weeks of 03-16 and 03-23 were never opened.
    await sweep(db, at(date(2026, 3, 30)))
    assert await events(db) == []
    rows = await weeks(db)
    assert [k[1] for k in rows] == [date(2026, 3, 30)]


async def test_items_without_weekly_feedback_are_not_asked(db, clock):
    w = await make_world(db, clock.now())
    await register(db, w, clock.now(), approve=True, weekly_feedback=False)
    result = await sweep(db, at(date(2026, 3, 16)))
    assert result.considered == 0 and await weeks(db) == {}


async def test_holiday_monday_reminders_wait_for_the_next_working_morning(db, clock):
    w = await make_world(db, clock.now())
    await register(db, w, clock.now(), approve=True, assisting_unit_ids=[], deadline=None, importance="important")
    clock.set(at(date(2026, 4, 6)))
    seen = (await outbox(db))[-1].id
    await sweep(db, at(date(2026, 4, 6)))  # 清明 Monday
    (m,) = await outbox(db, seen)
    assert m.next_attempt_at == at(date(2026, 4, 7), 8, 30)


async def test_the_reminder_and_the_penalty_judge_the_same_calendar_week(db, clock):
    """Issue 12 point 4: a unit that reported on Friday was not reminded on Monday (it had sent
    something "within 7 days") and was then docked for that Monday's week. Now both use the
    calendar week (§5(三) 每周反馈, §8(七) −2)."""
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True, assisting_unit_ids=[w.unit("a1").id],
                          deadline=DeadlineSpec.on_date(date(2026, 4, 30)))
    ids = {a.unit_id: a.id for a in item.assignments}
    lead, a1 = ids[w.unit("lead").id], ids[w.unit("a1").id]
    await sweep(db, at(date(2026, 3, 16)))  # week W1 (03-16…03-22) opens
    async with db.session() as s:  # both report on Friday of W1
        await asg.add_progress(s, w.lead_liaison, lead, text="已完成设计。", now=at(date(2026, 3, 20), 16))
        await asg.add_progress(s, w.a1_liaison, a1, text="已配合勘查。", now=at(date(2026, 3, 20), 17))

    # Monday of W2: W1 closes received for both (no −2), and both are reminded for W2.
    seen = (await outbox(db))[-1].id
    await sweep(db, at(date(2026, 3, 23)))
    rows = await weeks(db)
    assert rows[(lead, date(2026, 3, 16))].status == rows[(a1, date(2026, 3, 16))].status == "received"
    assert await events(db) == []
    reminded = await outbox(db, seen)
    assert {m.person_id for m in reminded} == {w.lead_liaison.id, w.a1_liaison.id}
    assert all("本周（2026-03-23至2026-03-29）本单位尚未反馈" in m.text for m in reminded)

    # In W2 only the lead unit reports (on Friday again): a1 was reminded in W2 and is docked for W2 only.
    async with db.session() as s:
        await asg.add_progress(s, w.lead_liaison, lead, text="已开工。", now=at(date(2026, 3, 27), 10))
    await sweep(db, at(date(2026, 3, 30)))
    (e,) = await events(db)
    assert (e.rule, e.points, e.assignment_id) == ("late_feedback", -2, a1)
    assert "2026-03-23至2026-03-29" in e.reason
    rows = await weeks(db)
    assert rows[(lead, date(2026, 3, 23))].status == "received" and rows[(a1, date(2026, 3, 23))].status == "missed"


async def test_a_unit_that_reported_this_week_is_not_reminded_that_week(db, clock):
    """With the reminder late in the week (``weekly_day`` Friday) it only reaches the units that
    have not reported in that week yet — the same week the penalty judges at its end."""
    friday = dataclasses.replace(SETTINGS, reminders=dataclasses.replace(SETTINGS.reminders, weekly_day=5))
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True, assisting_unit_ids=[w.unit("a1").id],
                          deadline=DeadlineSpec.on_date(date(2026, 4, 30)))
    ids = {a.unit_id: a.id for a in item.assignments}
    lead, a1 = ids[w.unit("lead").id], ids[w.unit("a1").id]
    async with db.session() as s:
        await feedback_sweep(s, CAL, at(date(2026, 3, 13)), friday)  # Friday of the assignment week
        await asg.add_progress(s, w.lead_liaison, lead, text="方案已报分管领导。", now=at(date(2026, 3, 17), 11))
    seen = (await outbox(db))[-1].id
    async with db.session() as s:
        await feedback_sweep(s, CAL, at(date(2026, 3, 20)), friday)  # Friday of W (03-16…03-22)
    assert {m.person_id for m in await outbox(db, seen)} == {w.a1_liaison.id}  # the lead reported Tuesday
    async with db.session() as s:
        await feedback_sweep(s, CAL, at(date(2026, 3, 27)), friday)
    rows = await weeks(db)
    assert (rows[(lead, date(2026, 3, 16))].status, rows[(a1, date(2026, 3, 16))].status) == ("received", "missed")
    assert [e.assignment_id for e in await events(db)] == [a1]
