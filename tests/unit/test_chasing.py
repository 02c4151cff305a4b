"""Issue 12 point 4, the round's other rungs and the office's 催办 by hand: an unsigned notice
(liaison after one working day, unit head after two), a plan's milestones on the deadline
ladder's rhythm, and one manual 催办 per item, unit and working day (bot.domain.chasing,
bot.domain.manual_urge)."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from sqlalchemy import select
from test_urging import R, SETTINGS, at, reminders, sweep
from test_workflow_support import CAL, counts, data_of, make_world, outbox, register, to

from bot.domain import assignments as asg
from bot.domain.assignments import MilestoneIn
from bot.domain.chasing import milestone_step, unsigned_step
from bot.domain.errors import DomainError, NotAllowed
from bot.domain.manual_urge import urge_item
from bot.domain.urging import MANUAL, MS_LATE, MS_SOON, MS_TODAY, UNSIGNED, UNSIGNED_HEAD
from bot.domain.workflow import AlreadyHandled, DeadlineSpec, InvalidState
from store.events import ItemEvent


def test_the_unsigned_steps():
    assert unsigned_step(0) is None
    assert unsigned_step(1) == (UNSIGNED, ("liaison",))
    assert unsigned_step(2) == unsigned_step(5) == (UNSIGNED_HEAD, ("liaison", "unit_head"))


@pytest.mark.parametrize(("left", "level", "roles"), [
    (4, None, None),
    (3, MS_SOON, ("liaison",)),
    (1, MS_SOON, ("liaison",)),
    (0, MS_TODAY, ("liaison",)),
    (-1, MS_LATE, ("liaison", "unit_head")),
    (-6, MS_LATE, ("liaison", "unit_head")),
])
def test_milestones_follow_the_deadline_ladder(left, level, roles):
    assert milestone_step(left, R) == ((level, roles) if level else None)


def test_milestones_follow_the_ladders_settings():
    r = dataclasses.replace(R, due_soon_days=1, due_day=False, overdue_every_days=2)
    assert milestone_step(2, r) is None and milestone_step(0, r) is None
    assert milestone_step(-1, r)[0] == MS_LATE and milestone_step(-2, r) is None and milestone_step(-3, r)[0] == MS_LATE


# ---------------------------------------------------------------------------------- unsigned notices


async def test_an_unsigned_notice_reaches_the_liaison_then_the_head_once_each(db, clock):
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True,  # Tue 03-10 09:00, due in April: far off
                          deadline=DeadlineSpec.on_date(date(2026, 4, 30)))
    ids = {a.unit_id: a.id for a in item.assignments}
    # The notice's own day: nothing.
    assert (await sweep(db, at(date(2026, 3, 10), 15))).messages == 0

    # Wed 03-11: one working day without 签收 → each unit's liaisons, with a 签收 button.
    seen = (await outbox(db))[-1].id
    result = await sweep(db, at(date(2026, 3, 11)))
    msgs = await outbox(db, seen)
    assert {m.person_id for m in msgs} == {w.lead_liaison.id, w.a1_liaison.id, w.a2_liaison.id}
    assert result.by_level == {UNSIGNED: 3}
    (m,) = to(msgs, w.lead_liaison)
    assert "您有1项督办事项未签收" in m.text and "通知单下发已1个工作日，尚未签收" in m.text
    assert "请点击“签收”" in m.text and "督字〔2026〕1号" in m.text
    assert data_of(m) == [[f"a:ack:{ids[w.unit('lead').id]}"], [f"i:v:{item.id}"]]
    assert m.dedupe_key.startswith(f"urge:{w.lead_liaison.id}:2026-03-11:")  # the round's own message
    # The same round again: nothing.
    assert (await sweep(db, at(date(2026, 3, 11), 10))).messages == 0

    # 县交通运输局 signs on Wednesday afternoon.
    async with db.session() as s:
        await asg.acknowledge(s, w.a1_liaison, ids[w.unit("a1").id], now=at(date(2026, 3, 11), 15))

    # Thu 03-12: two working days → the unit heads of the units still unsigned, and their liaisons again.
    seen = (await outbox(db))[-1].id
    await sweep(db, at(date(2026, 3, 12)))
    msgs = await outbox(db, seen)
    assert {m.person_id for m in msgs} == {w.lead_liaison.id, w.lead_head.id, w.a2_liaison.id, w.a2_head.id}
    (head,) = to(msgs, w.a2_head)
    assert "未签收" in head.text and "通知单下发已2个工作日" in head.text and "请督促联络员及时签收办理" in head.text
    assert data_of(head) == [[f"i:v:{item.id}"]]  # the head does not sign; the liaison does

    # Each step once: Friday and the next week bring nothing more about signing.
    assert (await sweep(db, at(date(2026, 3, 13)))).messages == 0
    assert (await sweep(db, at(date(2026, 3, 16)))).messages == 0
    levels = sorted((r.level, r.round_date.isoformat()) for r in await reminders(db))
    assert levels == [(UNSIGNED, "2026-03-11")] * 3 + [(UNSIGNED_HEAD, "2026-03-12")] * 4


async def test_a_notice_sent_after_hours_counts_from_the_morning_it_arrived(db, clock):
    w = await make_world(db, clock.now())
    clock.set(at(date(2026, 3, 13), 20))  # Friday evening: the notice reaches the unit on Monday morning
    await register(db, w, clock.now(), approve=True, assisting_unit_ids=[],
                   deadline=DeadlineSpec.on_date(date(2026, 4, 30)))
    assert (await sweep(db, at(date(2026, 3, 14)))).messages == 0  # Saturday
    assert (await sweep(db, at(date(2026, 3, 16)))).messages == 0  # Monday: the day it arrived
    seen = (await outbox(db))[-1].id
    await sweep(db, at(date(2026, 3, 17)))  # Tuesday: one working day
    assert [m.person_id for m in await outbox(db, seen)] == [w.lead_liaison.id]


async def test_a_signed_notice_is_not_chased(db, clock):
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True, assisting_unit_ids=[],
                          deadline=DeadlineSpec.on_date(date(2026, 4, 30)))
    async with db.session() as s:
        await asg.acknowledge(s, w.lead_liaison, item.assignments[0].id, now=clock.now())
    assert (await sweep(db, at(date(2026, 3, 12)))).messages == 0


# ---------------------------------------------------------------------------------- milestones


async def planned(db, w, item, steps, when):
    async with db.session() as s:
        return await asg.submit_plan(s, w.lead_liaison, item.assignments[0].id, text="总体方案", now=when,
                                     milestones=[MilestoneIn(d, t) for d, t in steps])


async def test_milestones_are_reminded_before_on_and_after_their_day(db, clock):
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True, assisting_unit_ids=[],
                          deadline=DeadlineSpec.on_date(date(2026, 4, 30)))
    plan = await planned(db, w, item, [(date(2026, 3, 18), "完成现场勘查"), (date(2026, 3, 20), "完成设计方案")],
                         clock.now())  # submitting the plan signs for the notice
    survey, design = (m.id for m in plan.milestones)

    # Fri 03-13: 3 working days before the survey → the liaison, once.
    seen = (await outbox(db))[-1].id
    await sweep(db, at(date(2026, 3, 13)))
    (m,) = await outbox(db, seen)
    assert m.person_id == w.lead_liaison.id
    assert "您有1项督办事项的时间节点即将到期" in m.text and "节点 2026-03-18 完成现场勘查 · 剩余3个工作日" in m.text
    assert "节点完成后请点击“节点完成”" in m.text
    assert data_of(m) == [[f"m:ok:{survey}"], [f"i:v:{item.id}"]]
    assert m.buttons[0][0]["text"] == "节点完成 03-18 完成现场勘查"
    # Tue 03-17: the design milestone enters its window; the survey's was sent already.
    assert (await sweep(db, at(date(2026, 3, 16)))).messages == 0
    seen = (await outbox(db))[-1].id
    await sweep(db, at(date(2026, 3, 17)))
    (m,) = await outbox(db, seen)
    assert "完成设计方案" in m.text and "完成现场勘查" not in m.text
    # Wed 03-18, the survey's day: 今日到期.
    seen = (await outbox(db))[-1].id
    await sweep(db, at(date(2026, 3, 18)))
    (m,) = await outbox(db, seen)
    assert "时间节点今日到期" in m.text and "完成现场勘查 · 今天到期" in m.text
    # Thu 03-19: overdue → the liaison and the unit head, every working day until it is marked done.
    for day, n in ((date(2026, 3, 19), 1), (date(2026, 3, 20), 2)):
        seen = (await outbox(db))[-1].id
        await sweep(db, at(day))
        msgs = await outbox(db, seen)
        assert {m.person_id for m in msgs} == {w.lead_liaison.id, w.lead_head.id}
        (head,) = to(msgs, w.lead_head)
        assert f"完成现场勘查 · 已超期{n}个工作日" in head.text and "请督促按工作方案落实" in head.text
    async with db.session() as s:
        await asg.complete_milestone(s, w.lead_liaison, survey, now=at(date(2026, 3, 20), 11))
        await asg.complete_milestone(s, w.lead_liaison, design, now=at(date(2026, 3, 20), 11))
    assert (await sweep(db, at(date(2026, 3, 23)))).messages == 0
    rows = await reminders(db)
    assert {r.level for r in rows} == {f"{MS_SOON}:{survey}", f"{MS_SOON}:{design}", f"{MS_TODAY}:{survey}",
                                       f"{MS_LATE}:{survey}", f"{MS_TODAY}:{design}"}


async def test_only_the_latest_plans_milestones_count(db, clock):
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True, assisting_unit_ids=[],
                          deadline=DeadlineSpec.on_date(date(2026, 4, 30)))
    await planned(db, w, item, [(date(2026, 3, 16), "旧节点")], clock.now())
    await planned(db, w, item, [(date(2026, 4, 10), "新节点")], clock.now())
    assert (await sweep(db, at(date(2026, 3, 16)))).messages == 0


async def test_deadline_unsigned_and_milestone_rungs_are_one_message(db, clock):
    w = await make_world(db, clock.now())
    first = await register(db, w, clock.now(), approve=True, assisting_unit_ids=[],
                           deadline=DeadlineSpec.on_date(date(2026, 3, 19)))
    await planned(db, w, first, [(date(2026, 3, 17), "完成现场勘查")], clock.now())
    clock.set(at(date(2026, 3, 13), 10))
    await register(db, w, clock.now(), approve=True, assisting_unit_ids=[], title="农村饮水安全巩固提升",
                   deadline=DeadlineSpec.on_date(date(2026, 4, 30)))
    seen = (await outbox(db))[-1].id
    await sweep(db, at(date(2026, 3, 16)))  # Monday: due soon, a milestone tomorrow, a notice unsigned
    (m,) = to(await outbox(db, seen), w.lead_liaison)
    assert "您有2项督办事项需要关注" in m.text
    assert m.text.index("未签收") < m.text.index("即将到期") < m.text.index("时间节点即将到期")
    codes = [row[0]["data"].rsplit(":", 1)[0] for row in m.buttons]
    assert codes == ["a:ack", "m:ok", "i:v"]  # 签收 and 节点完成 from the message itself, then 查看


# ---------------------------------------------------------------------------------- 催办 by hand


async def urge(db, w, item, when, who=None, settings=SETTINGS):
    async with db.session() as s:
        return await urge_item(s, who or w.office, item.id, calendar=CAL, settings=settings, now=when)


async def test_one_tap_chases_every_open_unit_once_a_day(db, clock):
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True, deadline=DeadlineSpec.on_date(date(2026, 4, 30)))
    ids = {a.unit_id: a.id for a in item.assignments}
    async with db.session() as s:  # 县住建局 has reported its part: not chased
        await asg.submit_report(s, w.a2_liaison, ids[w.unit("a2").id], text="已完成配合工作。",
                                now=at(date(2026, 3, 10), 10))
    seen = (await outbox(db))[-1].id
    urged = await urge(db, w, item, at(date(2026, 3, 10), 14))
    assert urged.chased == [("城关镇", ["陈联络"]), ("县交通运输局", ["周联络"])] and not urged.waits
    msgs = await outbox(db, seen)
    assert {m.person_id for m in msgs} == {w.lead_liaison.id, w.a1_liaison.id}
    (m,) = to(msgs, w.lead_liaison)
    assert "督查室催办" in m.text and "王督查" in m.text and "城区主干道破损路面修复" in m.text
    assert "督办通知单尚未签收" in m.text and m.next_attempt_at == at(date(2026, 3, 10), 14)
    assert data_of(m) == [[f"a:ack:{ids[w.unit('lead').id]}"], [f"i:v:{item.id}"]]
    async with db.session() as s:
        events = (await s.scalars(select(ItemEvent).where(ItemEvent.kind == "urge"))).all()
    assert sorted(e.assignment_id for e in events) == sorted([ids[w.unit("lead").id], ids[w.unit("a1").id]])
    assert all(e.actor_id == w.office.id for e in events)
    assert {(r.level, r.round_date) for r in await reminders(db)} == {(MANUAL, date(2026, 3, 10))}

    # A second tap the same day (by anyone of the office): refused in Chinese, nothing written.
    before = await counts(db)
    with pytest.raises(AlreadyHandled, match="今天已催办过"):
        await urge(db, w, item, at(date(2026, 3, 10), 16), who=w.office2)
    assert await counts(db) == before
    # The next working day it may be sent again.
    assert (await urge(db, w, item, at(date(2026, 3, 11), 10))).chased


async def test_the_round_and_the_tap_count_for_each_other(db, clock):
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True, assisting_unit_ids=[],
                          deadline=DeadlineSpec.on_date(date(2026, 4, 30)))
    # Chased by hand early on Wednesday: the 09:00 round leaves the liaison's 未签收 rung out …
    await urge(db, w, item, at(date(2026, 3, 11), 8, 40))
    seen = (await outbox(db))[-1].id
    await sweep(db, at(date(2026, 3, 11)))
    assert await outbox(db, seen) == []
    # … and reaches it the next day (two working days now: the head too).
    seen = (await outbox(db))[-1].id
    await sweep(db, at(date(2026, 3, 12)))
    assert {m.person_id for m in await outbox(db, seen)} == {w.lead_liaison.id, w.lead_head.id}
    # The round reminded the unit about the item today: a tap sends nothing and says why.
    with pytest.raises(DomainError, match="今天的催办提醒已发送"):
        await urge(db, w, item, at(date(2026, 3, 12), 10))


async def test_after_hours_the_tap_waits_for_the_morning_unless_urgent(db, clock):
    w = await make_world(db, clock.now())
    routine = await register(db, w, clock.now(), approve=True, assisting_unit_ids=[],
                             deadline=DeadlineSpec.on_date(date(2026, 4, 30)))
    urgent = await register(db, w, clock.now(), approve=True, assisting_unit_ids=[], importance="urgent",
                            follower_id=w.office.id, title="防汛隐患排查", deadline=DeadlineSpec.on_date(date(2026, 4, 30)))
    seen = (await outbox(db))[-1].id
    friday_night = at(date(2026, 3, 13), 21)
    waited = await urge(db, w, routine, friday_night)
    assert waited.waits and waited.deliver_at == at(date(2026, 3, 16), 8, 30)  # Monday's morning round
    at_once = await urge(db, w, urgent, friday_night)
    assert not at_once.waits
    by_item = {m.item_ids[0]: m for m in await outbox(db, seen)}
    assert by_item[routine.id].next_attempt_at == at(date(2026, 3, 16), 8, 30) and by_item[routine.id].bundle == "round"
    assert by_item[urgent.id].next_attempt_at == friday_night and by_item[urgent.id].urgent
    # It counts for Monday: a second tap over the weekend is refused.
    with pytest.raises(AlreadyHandled):
        await urge(db, w, routine, at(date(2026, 3, 15), 10))


async def test_only_office_staff_chase_and_only_open_items(db, clock):
    w = await make_world(db, clock.now())
    draft = await register(db, w, clock.now())
    item = await register(db, w, clock.now(), approve=True, assisting_unit_ids=[])
    before = await counts(db)
    with pytest.raises(NotAllowed):
        await urge(db, w, item, clock.now(), who=w.lead_liaison)
    with pytest.raises(NotAllowed):
        await urge(db, w, item, clock.now(), who=w.head)
    with pytest.raises(InvalidState, match="不能催办"):
        await urge(db, w, draft, clock.now())
    assert await counts(db) == before
