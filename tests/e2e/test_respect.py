"""Issue 13, respect for people's time, end to end through the emulator on a controlled clock:
an action after hours reaches people with the next morning round; information notices bundled
once a day; the Monday round and weekly reminder as one message; an urgent overdue item reminded
once over a holiday; a reply to a reminder lands on its item, or the bot asks which."""

from __future__ import annotations

import dataclasses
from datetime import date, time

from sqlalchemy import select
from test_reminders import approve, at, count, make_county, mark, new, services, tick

from bot.domain import assignments as asg
from bot.domain import items as items_svc
from bot.domain.workflow import DeadlineSpec
from store.models import OutboxMessage
from store.workflow import Assignment, ExtensionRequest, Progress


def _bundle_at(h, hh: int, mm: int = 0) -> None:
    s = services(h)
    s.settings = dataclasses.replace(s.settings, reminders=dataclasses.replace(s.settings.reminders,
                                                                               bundle_time=time(hh, mm)))


async def test_an_approval_in_the_evening_reaches_the_unit_with_the_next_morning_round(harness):
    h = harness
    c = await make_county(h, ["城关镇"])
    h.clock.set(at(date(2026, 3, 10), 20, 30))  # Tuesday evening: the office head approves from home
    users = list(c.users.values())
    before = mark(users)
    await approve(h, c, lead="城关镇", deadline=DeadlineSpec.working_days(7))
    await tick(h, at(date(2026, 3, 10), 23))
    await tick(h, at(date(2026, 3, 11), 7))
    await tick(h, at(date(2026, 3, 11), 8, 29))
    assert [t for u in users for t in new(u, before)] == []  # nobody is woken up
    await tick(h, at(date(2026, 3, 11), 8, 30))  # Wednesday's work starts: its morning round
    (notice,) = new(c["联络员0"], before)
    assert "督办通知单" in notice
    assert any("督办通知单" in t for t in new(c["负责人0"], before))
    assert any("立项已审批" in t for t in new(c["王敏"], before))  # the registrant: she did not act
    assert not any(t.startswith("📋 督办通知单") for t in new(c["赵建国"], before))  # he approved: answered in his chat
    assert [t for t in new(c["李强"], before) if "每日督办摘要" not in t] == []  # not his item
    # Sent at 08:30, not before.
    async with h.db.session() as s:
        sent = (await s.scalars(select(OutboxMessage.sent_at).where(
            OutboxMessage.status == "sent", OutboxMessage.dedupe_key.not_like("digest%")))).all()
    assert sent and min(sent) == at(date(2026, 3, 11), 8, 30)


async def test_with_bundling_on_a_days_notices_come_bundled(harness):
    """``bundle_time`` 16:00: a unit's information notices of the day come as one message at 16:00;
    the office's requests come at its desk times (morning round, 11:30, 16:00), bundled too."""
    h = harness
    _bundle_at(h, 16)
    c = await make_county(h, ["城关镇"])
    h.clock.set(at(date(2026, 3, 9), 9, 15))  # Monday: two items for 城关镇
    first = await approve(h, c, lead="城关镇", title="城区主干道破损路面修复")
    second = await approve(h, c, lead="城关镇", title="农贸市场消防通道整治")
    await tick(h, at(date(2026, 3, 9), 9, 30))
    await tick(h, at(date(2026, 3, 9), 16))  # Monday's desk times pass (the office hears of the approvals)
    liaison, office = c["联络员0"], c["王敏"]
    # The notices asking the unit to act went at once.
    assert len([m for m in liaison.inbox if "督办通知单" in (m.text or "")]) == 2
    for item in (first, second):  # signed for on Monday: no 未签收 reminder in Tuesday's round
        await liaison.send(f"/item {item.number}")
        await liaison.tap("签收")
    await tick(h, at(date(2026, 3, 10), 9))  # Tuesday's digest and round
    users = list(c.users.values())
    before = mark(users)
    async with h.db.session() as s:
        aids = (await s.scalars(select(Assignment.id).where(Assignment.item_id.in_([first.id, second.id]))
                                .order_by(Assignment.item_id))).all()
    for n, aid in enumerate(aids):  # the liaison asks for two extensions in the morning
        h.clock.set(at(date(2026, 3, 10), 10, 15 * n))
        async with h.db.session() as s:
            await asg.request_extension(s, c.people["联络员0"], aid, new_due=date(2026, 3, 31),
                                        reason="需协调资金，申请延期。", now=h.clock.now())
        await h.settle()
    assert new(office, before) == []
    await tick(h, at(date(2026, 3, 10), 11, 29))
    assert new(office, before) == []
    await tick(h, at(date(2026, 3, 10), 11, 30))  # the office's late-morning bundle: both requests
    (requests,) = new(office, before)
    assert requests.count("延期申请") >= 2 and "城区主干道" in requests and "农贸市场" in requests
    ask = office.inbox[-1]
    assert [b.startswith(("1号", "2号")) for b in ask.buttons] == [True] * 4  # 同意/不同意 name their item
    # The office grants both after lunch: the unit hears at 16:00, in one message.
    async with h.db.session() as s:
        reqs = (await s.scalars(select(ExtensionRequest.id).order_by(ExtensionRequest.id))).all()
    for n, req in enumerate(reqs):
        h.clock.set(at(date(2026, 3, 10), 13 + n))
        async with h.db.session() as s:
            await asg.approve_extension(s, c.people["王敏"], req, now=h.clock.now())
        await h.settle()
    before = mark(users)
    await tick(h, at(date(2026, 3, 10), 15, 59))
    assert new(liaison, before) == []
    await tick(h, at(date(2026, 3, 10), 16))
    (bundle,) = new(liaison, before)
    assert bundle.count("延期申请已同意") == 2 and "城区主干道" in bundle and "农贸市场" in bundle
    # A unit's people get at most 2 routine messages a day: a third waits for the next morning.
    h.clock.set(at(date(2026, 3, 10), 16, 30))
    await approve(h, c, lead="城关镇", title="背街小巷路灯维修")  # the second today: at once
    assert len(new(liaison, before)) == 2 and "背街小巷路灯维修" in new(liaison, before)[-1]
    h.clock.set(at(date(2026, 3, 10), 17))
    await approve(h, c, lead="城关镇", title="公园绿地补植")  # would be the third
    assert len(new(liaison, before)) == 2
    await tick(h, at(date(2026, 3, 11), 9))
    assert len(new(liaison, before)) == 3 and "公园绿地补植" in new(liaison, before)[-1]


async def test_monday_round_and_weekly_reminder_are_one_message(harness):
    h = harness
    c = await make_county(h, ["城关镇"])
    h.clock.set(at(date(2026, 3, 10), 10))  # Tuesday; due Thursday next week, weekly feedback on
    await approve(h, c, lead="城关镇", weekly_feedback=True, deadline=DeadlineSpec.on_date(date(2026, 3, 19)))
    await tick(h, at(date(2026, 3, 13), 9))
    users = list(c.users.values())
    before = mark(users)
    await tick(h, at(date(2026, 3, 16), 9))  # Monday: 3 working days left, and the week opens
    (morning,) = new(c["联络员0"], before)
    assert "督办提醒" in morning and "即将到期" in morning and "每周反馈提醒" in morning


async def test_an_urgent_overdue_item_is_reminded_once_over_national_day(harness):
    h = harness
    c = await make_county(h, ["城关镇"])
    h.clock.set(at(date(2026, 9, 21), 10))
    await approve(h, c, lead="城关镇", title="防汛隐患排查", importance="urgent", follower_id=c.people["李强"].id,
                  deadline=DeadlineSpec.on_date(date(2026, 9, 29)))
    await tick(h, at(date(2026, 9, 30), 9))  # Wednesday: overdue by one working day
    users = list(c.users.values())
    before = mark(users)
    for day in range(1, 8):  # 国庆 10-01 … 10-07, the sweeps at 09:00 and in the evening
        await tick(h, at(date(2026, 10, day), 9))
        await tick(h, at(date(2026, 10, day), 21))
    for name in ("联络员0", "负责人0", "李强"):
        reminders = [t for t in new(c[name], before) if "防汛隐患排查" in t]
        assert len(reminders) == 1, (name, reminders)  # on 10-01 only
    assert new(c["王敏"], before) == []  # 李强 follows it
    await tick(h, at(date(2026, 10, 8), 9))  # the first working day: the count moved, reminded again
    assert len([t for t in new(c["联络员0"], before) if "督办提醒" in t and "防汛隐患排查" in t]) == 2


async def test_a_reply_to_a_one_item_reminder_is_recorded_on_that_item(harness):
    h = harness
    c = await make_county(h, ["城关镇"])
    item = await approve(h, c, lead="城关镇", deadline=DeadlineSpec.on_date(date(2026, 3, 19)))
    await tick(h, at(date(2026, 3, 16), 9))  # 即将到期
    liaison = c["联络员0"]
    reminder = next(m for m in reversed(liaison.inbox) if "督办提醒" in (m.text or ""))
    await liaison.reply(reminder, "路面修复已完成八成，本周内完工。")
    assert "进展已记录" in liaison.last.text
    async with h.db.session() as s:
        (text,) = (await s.scalars(select(Progress.text).join(Assignment, Assignment.id == Progress.assignment_id)
                                   .where(Assignment.item_id == item.id))).all()
    assert text == "路面修复已完成八成，本周内完工。"


async def test_a_reply_to_a_reminder_about_two_items_asks_which_and_records_nothing(harness):
    h = harness
    c = await make_county(h, ["城关镇"])
    first = await approve(h, c, lead="城关镇", title="城区主干道破损路面修复",
                          deadline=DeadlineSpec.on_date(date(2026, 3, 19)))
    second = await approve(h, c, lead="城关镇", title="农贸市场消防通道整治",
                           deadline=DeadlineSpec.on_date(date(2026, 3, 18)))
    await tick(h, at(date(2026, 3, 16), 9))
    liaison = c["联络员0"]
    reminder = next(m for m in reversed(liaison.inbox) if "督办提醒" in (m.text or ""))
    assert "城区主干道" in reminder.text and "农贸市场" in reminder.text  # one message, two items
    await liaison.send_photo(b"\xff\xd8\xff\xe0 fake jpeg", caption="现场照片", reply_to=reminder)
    ask = liaison.last
    assert "涉及2项督办事项，请选择" in ask.text and "未记录" in ask.text
    labels = ask.buttons
    assert len(labels) == 2 and all(label.startswith("反馈进展 督字〔2026〕") for label in labels)
    assert await count(h.db, Progress) == 0  # never guessed
    # Choosing one opens 反馈进展 for that item's assignment.
    await liaison.tap(labels[1], ask)
    await liaison.send("消防通道已清理完毕。")
    await liaison.tap("完成")
    async with h.db.session() as s:
        rows = (await s.execute(select(Assignment.item_id, Progress.text)
                                .join(Assignment, Assignment.id == Progress.assignment_id))).all()
    chosen = {first.id: "督字〔2026〕1号", second.id: "督字〔2026〕2号"}
    assert [(chosen[i], t) for i, t in rows] == [(labels[1].removeprefix("反馈进展 "), "消防通道已清理完毕。")]


async def test_an_office_person_takes_over_an_item_and_its_notices_follow(harness):
    h = harness
    c = await make_county(h, ["城关镇"])
    item = await approve(h, c, lead="城关镇")  # registered by 王敏: she follows it
    li, wang, liaison = c["李强"], c["王敏"], c["联络员0"]
    await li.send("/follow 1 张三")
    assert "督查室没有名为「张三」的在职工作人员" in li.last.text
    await liaison.send("/follow 1")
    assert "您没有权限使用 设置跟踪专人" in liaison.last.text
    await li.send("/follow")
    assert "用法：/follow 事项编号" in li.last.text
    await li.send("/follow 1")
    assert "已将李强设为<b>督字〔2026〕1号</b>的跟踪专人" in li.last.html
    before = mark(list(c.users.values()))
    async with h.db.session() as s:
        aid = await s.scalar(select(Assignment.id).where(Assignment.item_id == item.id))
        await asg.submit_report(s, c.people["联络员0"], aid, text="已办结。", now=h.clock.now())
    await h.settle()
    assert any("办结报告待审核" in t for t in new(li, before))
    assert new(wang, before) == []
    # Handing it back tells 王敏.
    await li.send("/follow 1 王敏")
    assert any("将您设为" in t and "跟踪专人" in t for t in new(wang, before))


async def test_a_reply_to_a_bundle_of_notices_without_buttons_asks_which_item(harness):
    """The 16:00 bundle carries no buttons; a reply to it still lands on an item — the bot asks which."""
    h = harness
    _bundle_at(h, 16)
    c = await make_county(h, ["城关镇"])
    h.clock.set(at(date(2026, 3, 9), 9, 15))
    await approve(h, c, lead="城关镇", title="城区主干道破损路面修复")
    await approve(h, c, lead="城关镇", title="农贸市场消防通道整治")
    async with h.db.session() as s:
        aids = (await s.scalars(select(Assignment.id).order_by(Assignment.item_id))).all()
    for aid in aids:  # signed for at once
        async with h.db.session() as s:
            await asg.acknowledge(s, c.people["联络员0"], aid, now=h.clock.now())
    await tick(h, at(date(2026, 3, 10), 9))  # Tuesday: two extensions asked and granted in the morning
    for n, aid in enumerate(aids):
        h.clock.set(at(date(2026, 3, 10), 10, n))
        async with h.db.session() as s:
            await asg.request_extension(s, c.people["联络员0"], aid, new_due=date(2026, 3, 31),
                                        reason="需协调资金，申请延期。", now=h.clock.now())
        h.clock.set(at(date(2026, 3, 10), 11, n))
        async with h.db.session() as s:
            req = await s.scalar(select(ExtensionRequest.id).where(ExtensionRequest.assignment_id == aid))
            await asg.approve_extension(s, c.people["王敏"], req, now=h.clock.now())
        await h.settle()
    liaison = c["联络员0"]
    before = mark([liaison])
    await tick(h, at(date(2026, 3, 10), 16))
    (bundle,) = new(liaison, before)
    assert bundle.count("延期申请已同意") == 2
    message = liaison.inbox[-1]
    assert message.buttons == []
    await liaison.reply(message, "两项工作均已制定资金方案。")
    ask = liaison.last
    assert "涉及2项督办事项，请选择" in ask.text and len(ask.buttons) == 2
    assert await count(h.db, Progress) == 0  # never guessed
    # A reply to a message about nothing the unit handles (its /help) gets the hint, not silence.
    await liaison.send("/help")
    await liaison.reply(liaison.last, "收到")
    assert "不能直接回复反馈" in liaison.last.text


async def test_after_the_holiday_the_urgent_round_and_the_weekly_reminder_are_one_message(harness):
    h = harness
    c = await make_county(h, ["城关镇"])
    h.clock.set(at(date(2026, 9, 21), 10))
    await approve(h, c, lead="城关镇", title="防汛隐患排查", importance="urgent", follower_id=c.people["李强"].id,
                  deadline=DeadlineSpec.on_date(date(2026, 9, 29)))
    await approve(h, c, lead="城关镇", title="老旧小区改造", weekly_feedback=True,
                  deadline=DeadlineSpec.on_date(date(2026, 12, 30)))
    await tick(h, at(date(2026, 9, 30), 9))
    for day in range(1, 8):  # 国庆 10-01 … 10-07; the weekly reminder's Monday (10-05) is a day off
        await tick(h, at(date(2026, 10, day), 9))
        await tick(h, at(date(2026, 10, day), 21))
    liaison = c["联络员0"]
    before = mark([liaison])
    await tick(h, at(date(2026, 10, 8), 8, 30))
    await tick(h, at(date(2026, 10, 8), 9))  # the first working day's morning
    await tick(h, at(date(2026, 10, 8), 12))
    morning = new(liaison, before)
    assert len(morning) == 1, morning
    assert "防汛隐患排查" in morning[0] and "每周反馈提醒" in morning[0] and "老旧小区改造" in morning[0]


async def test_an_approval_request_not_yet_delivered_is_withdrawn_once_decided(harness):
    """The head's 立项审批 request waits for his 11:30 desk time; he approves at 10:30 from /item: at
    11:30 nothing asks him to decide what he decided (nor stale buttons in his chat)."""
    h = harness
    _bundle_at(h, 16)
    c = await make_county(h, ["城关镇"])
    cal = await services(h).calendar()
    head = c["赵建国"]
    h.clock.set(at(date(2026, 3, 10), 10))
    async with h.db.session() as s:
        item = await items_svc.register_item(
            s, c.people["王敏"], title="城区主干道破损路面修复", requirements="修复破损路面并报送照片。",
            source="deployment", importance="important", leader_ids=[c.people["陈志远"].id],
            lead_unit_id=c.units["城关镇"].id, assisting_unit_ids=[], calendar=cal, now=h.clock.now())
        await items_svc.submit_item(s, c.people["王敏"], item.id, now=h.clock.now())
    await h.settle()
    before = mark([head])
    assert new(head, before) == []  # held for 11:30
    h.clock.set(at(date(2026, 3, 10), 10, 30))
    async with h.db.session() as s:
        await items_svc.approve_item(s, c.people["赵建国"], item.id, calendar=cal, now=h.clock.now())
    await tick(h, at(date(2026, 3, 10), 11, 30))
    assert not any("立项审批" in t for t in new(head, before))
    async with h.db.session() as s:
        (status,) = (await s.scalars(select(OutboxMessage.status).where(
            OutboxMessage.dedupe_key.like("wf:approve-req:%")))).all()
    assert status == "cancelled"
