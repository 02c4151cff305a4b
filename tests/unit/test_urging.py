"""The 催办 ladder: who is reminded when, one grouped message per person per round, nothing twice."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import delete, event, func, select, update
from test_workflow_support import CAL, data_of, make_world, outbox, register, to

from bot.kernel.config import ReminderSettings, Settings
from bot.domain import assignments as asg
from bot.domain import urging
from bot.domain.urging import DUE_SOON, DUE_TODAY, OVERDUE, Policy, Windows, escalation_sweep, step_for
from bot.domain.workflow import DeadlineSpec
from bot.kernel.clock import OFFICE_TZ
from store.models import Person, PersonRole
from store.urging import Reminder
from store.workflow import Assignment

SETTINGS = Settings()
R = SETTINGS.reminders
POLICY = Policy.from_settings(SETTINGS)


def at(day: date, hh: int = 9, mm: int = 0) -> datetime:
    """A local (Beijing) time as the aware UTC datetime the code works with."""
    return datetime.combine(day, time(hh, mm), tzinfo=OFFICE_TZ).astimezone(UTC)


async def sweep(db, now: datetime, settings: Settings = SETTINGS):
    async with db.session() as s:
        return await escalation_sweep(s, CAL, now, settings)


async def sign_all(db, when: datetime) -> None:
    """Every notice signed for (签收): the tests below are about the deadline ladder alone (an
    unsigned notice has rungs of its own, tests/unit/test_chasing.py)."""
    async with db.session() as s:
        await s.execute(update(Assignment).where(Assignment.state == "assigned")
                        .values(state="in_progress", acknowledged_at=when))


async def reminders(db) -> list[Reminder]:
    async with db.session() as s:
        return list((await s.scalars(select(Reminder).order_by(Reminder.id))).all())


# ---------------------------------------------------------------------------------- pure rules


@pytest.mark.parametrize(("left", "urgent", "level", "roles"), [
    (5, False, None, None),
    (4, False, None, None),
    (3, False, DUE_SOON, {"liaison"}),
    (1, False, DUE_SOON, {"liaison"}),
    (0, False, DUE_TODAY, {"liaison"}),
    (-1, False, OVERDUE, {"liaison", "unit_head", "office"}),
    (-7, False, OVERDUE, {"liaison", "unit_head", "office"}),
    (3, True, DUE_SOON, {"liaison", "follower"}),
    (-2, True, OVERDUE, {"liaison", "unit_head", "office", "follower"}),
])
def test_the_ladder(left, urgent, level, roles):
    step = step_for(left, urgent, R)
    assert (step.level, set(step.roles)) == (level, roles) if level else step is None


def test_the_ladder_follows_the_settings():
    r = dataclasses.replace(R, due_soon_days=0, due_day=False, overdue_every_days=2, overdue_office=False,
                            follower_every_step=False)
    assert step_for(2, False, r) is None and step_for(0, False, r) is None
    assert step_for(-1, True, r).roles == {"liaison", "unit_head"}
    assert step_for(-2, False, r) is None and step_for(-3, False, r).level == OVERDUE
    assert urging.leader_escalated(-3, R) and not urging.leader_escalated(-2, R)


@pytest.mark.parametrize(("now", "expected"), [
    (at(date(2026, 3, 10), 9), at(date(2026, 3, 10), 9)),  # Tuesday morning: now
    (at(date(2026, 3, 10), 7), at(date(2026, 3, 10), 8, 30)),  # before hours: today 08:30
    (at(date(2026, 3, 10), 18), at(date(2026, 3, 11), 8, 30)),  # 18:00 is after hours
    (at(date(2026, 3, 13), 20), at(date(2026, 3, 16), 8, 30)),  # Friday night → Monday
    (at(date(2026, 4, 4), 10), at(date(2026, 4, 7), 8, 30)),  # 清明 Sat–Mon → Tuesday
    (at(date(2026, 5, 9), 10), at(date(2026, 5, 9), 10)),  # an adjusted working Saturday (调休)
])
def test_routine_messages_wait_for_working_hours(now, expected):
    assert urging.routine_delivery(CAL, POLICY, now) == expected
    assert urging.delivery(CAL, POLICY, now, urgent=True) == now


def test_once_per_deadline_windows():
    w = Windows(CAL, R)
    # Due Thu 03-19: yellow from Mon 03-16 (3 left); the due-day window is the day itself.
    assert w.start(DUE_SOON, date(2026, 3, 19)) == date(2026, 3, 16)
    assert w.start(DUE_TODAY, date(2026, 3, 19)) == date(2026, 3, 19)
    # Due Sun 03-22: Fri 03-20 already has 0 working days left.
    assert w.start(DUE_TODAY, date(2026, 3, 22)) == date(2026, 3, 20)
    # Due Tue 04-07, after 清明 (04-04..06): yellow from Wed 04-01.
    assert w.start(DUE_SOON, date(2026, 4, 7)) == date(2026, 4, 1)


# ---------------------------------------------------------------------------------- the sweep


async def test_an_item_climbs_the_ladder_one_grouped_message_per_person_per_round(db, clock):
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True)  # approved Tue 03-10, due Thu 03-19
    await sign_all(db, clock.now())
    ids = {a.unit_id: a.id for a in item.assignments}

    # Far from the deadline: nothing.
    assert (await sweep(db, at(date(2026, 3, 12)))).reminders == 0

    # Mon 03-16: 3 working days left → each unit's liaison, once.
    seen = (await outbox(db))[-1].id
    result = await sweep(db, at(date(2026, 3, 16)))
    assert (result.reminders, result.messages, result.deferred) == (3, 3, 0)
    msgs = await outbox(db, seen)
    assert {m.person_id for m in msgs} == {w.lead_liaison.id, w.a1_liaison.id, w.a2_liaison.id}
    (m,) = to(msgs, w.lead_liaison)
    assert "您有1项督办事项即将到期" in m.text and "督字〔2026〕1号" in m.text and "城区主干道破损路面修复" in m.text
    assert "剩余3个工作日" in m.text and "2026-03-19" in m.text
    assert data_of(m) == [[f"i:v:{item.id}"]] and m.dedupe_key.startswith(f"urge:{w.lead_liaison.id}:2026-03-16:")
    assert not m.urgent and m.next_attempt_at == at(date(2026, 3, 16))

    # The same round again, and the next two days: nothing new (due_soon is once per deadline).
    assert (await sweep(db, at(date(2026, 3, 16)))).messages == 0
    assert (await sweep(db, at(date(2026, 3, 16), 15))).messages == 0
    assert (await sweep(db, at(date(2026, 3, 17)))).messages == 0
    assert (await sweep(db, at(date(2026, 3, 18)))).messages == 0

    # The deadline day: the liaisons again.
    seen = (await outbox(db))[-1].id
    await sweep(db, at(date(2026, 3, 19)))
    msgs = await outbox(db, seen)
    assert {m.person_id for m in msgs} == {w.lead_liaison.id, w.a1_liaison.id, w.a2_liaison.id}
    assert all("今日到期" in m.text and "今天到期" in m.text for m in msgs)

    # Overdue: liaisons, unit heads and the item's office follower (its registrant: the other
    # office person sees it in the digest), every working day — one message each.
    for day, overdue in ((date(2026, 3, 20), 1), (date(2026, 3, 23), 2)):
        seen = (await outbox(db))[-1].id
        result = await sweep(db, at(day))
        msgs = await outbox(db, seen)
        assert sorted(m.person_id for m in msgs) == sorted([
            w.lead_liaison.id, w.a1_liaison.id, w.a2_liaison.id, w.lead_head.id, w.a2_head.id, w.office.id])
        (office_msg,) = to(msgs, w.office)
        # The office hears about the item once, with each unit's share listed.
        assert "您有1项督办事项已超期" in office_msg.text and f"已超期{overdue}个工作日" in office_msg.text
        assert all(u in office_msg.text for u in ("城关镇", "县交通运输局", "县住建局"))
        assert "请督查室跟进督办" in office_msg.text
        (head_msg,) = to(msgs, w.lead_head)
        assert "请督促落实" in head_msg.text and "县交通运输局" not in head_msg.text
    # Saturday and Sunday: no round for routine items (Monday's round is the next one).
    assert (await sweep(db, at(date(2026, 3, 21)))).messages == 0

    rows = await reminders(db)
    keys = {(r.assignment_id, r.person_id, r.level, r.round_date) for r in rows}
    assert len(keys) == len(rows) and all(r.outbox_id for r in rows)
    assert {r.level for r in rows} == {DUE_SOON, DUE_TODAY, OVERDUE}
    assert {r.assignment_id for r in rows} == set(ids.values())  # every assignment climbed


async def test_one_message_lists_all_of_a_persons_items(db, clock):
    w = await make_world(db, clock.now())
    await register(db, w, clock.now(), approve=True, assisting_unit_ids=[])
    await register(db, w, clock.now(), approve=True, assisting_unit_ids=[], title="农村饮水安全巩固提升",
                   deadline=DeadlineSpec.on_date(date(2026, 3, 18)))
    await register(db, w, clock.now(), approve=True, assisting_unit_ids=[], title="涉密事项甲",
                   confidential=True, deadline=DeadlineSpec.on_date(date(2026, 3, 17)),
                   requirements="不得外传的内容")
    await sign_all(db, clock.now())
    seen = (await outbox(db))[-1].id
    await sweep(db, at(date(2026, 3, 16)))
    (m,) = to(await outbox(db, seen), w.lead_liaison)
    assert "您有3项督办事项即将到期" in m.text
    assert "城区主干道破损路面修复" in m.text and "农村饮水安全巩固提升" in m.text
    # The confidential item: its number only.
    assert "督字〔2026〕3号" in m.text and "涉密事项甲" not in m.text and "不得外传" not in m.text
    assert len([b for row in data_of(m) for b in row]) == 3
    # Worst first: the one due soonest leads.
    assert m.text.index("督字〔2026〕3号") < m.text.index("督字〔2026〕2号") < m.text.index("督字〔2026〕1号")


async def test_mixed_levels_in_one_round_are_sections_of_one_message(db, clock):
    w = await make_world(db, clock.now())
    await register(db, w, clock.now(), approve=True, assisting_unit_ids=[],
                   deadline=DeadlineSpec.on_date(date(2026, 3, 13)))  # overdue on 03-16
    await register(db, w, clock.now(), approve=True, assisting_unit_ids=[], title="农村饮水安全巩固提升",
                   deadline=DeadlineSpec.on_date(date(2026, 3, 16)))  # due on 03-16
    seen = (await outbox(db))[-1].id
    await sweep(db, at(date(2026, 3, 16)))
    (m,) = to(await outbox(db, seen), w.lead_liaison)
    assert "您有2项督办事项需要关注" in m.text
    assert m.text.index("已超期（1）") < m.text.index("今日到期（1）")


async def test_done_reported_and_extended_assignments_are_left_alone(db, clock):
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True)
    ids = {a.unit_id: a.id for a in item.assignments}
    async with db.session() as s:
        await asg.submit_report(s, w.a1_liaison, ids[w.unit("a1").id], text="已完成。", now=clock.now())
        await asg.decline_assist(s, w.a2_liaison, ids[w.unit("a2").id], reason="不属本局职责。", now=clock.now())
        req = await asg.request_extension(s, w.lead_liaison, ids[w.unit("lead").id], new_due=date(2026, 3, 31),
                                          reason="需要更多时间。", now=clock.now())
        await asg.approve_extension(s, w.office, req.id, now=clock.now())
    result = await sweep(db, at(date(2026, 3, 20)))  # past the original 03-19
    assert result.reminders == 0 and result.considered == 0
    # The moved deadline gets its own rungs.
    seen = (await outbox(db))[-1].id
    await sweep(db, at(date(2026, 3, 26)))
    (m,) = await outbox(db, seen)
    assert m.person_id == w.lead_liaison.id and "即将到期" in m.text and "2026-03-31" in m.text


async def test_outside_working_hours_a_routine_round_waits_and_counts_for_the_next_day(db, clock):
    w = await make_world(db, clock.now())
    await register(db, w, clock.now(), approve=True, assisting_unit_ids=[],
                   deadline=DeadlineSpec.on_date(date(2026, 3, 13)))
    seen = (await outbox(db))[-1].id
    result = await sweep(db, at(date(2026, 3, 16), 20))  # Monday 20:00
    assert result.deferred == result.messages == 3  # the liaison, the unit head, the item's office follower
    msgs = await outbox(db, seen)
    assert all(m.next_attempt_at == at(date(2026, 3, 17), 8, 30) for m in msgs)
    assert {r.round_date for r in await reminders(db)} == {date(2026, 3, 17)}
    # Tuesday's 09:00 round finds Tuesday's rungs reached: nothing twice.
    assert (await sweep(db, at(date(2026, 3, 17)))).messages == 0
    assert len(await outbox(db, seen)) == 3


async def test_urgent_items_reach_the_follower_and_go_on_holidays(db, clock):
    w = await make_world(db, clock.now())
    urgent = await register(db, w, clock.now(), approve=True, assisting_unit_ids=[], importance="urgent",
                            follower_id=w.office2.id, title="防汛应急排查",
                            deadline=DeadlineSpec.on_date(date(2026, 4, 2)))
    await register(db, w, clock.now(), approve=True, assisting_unit_ids=[],
                   deadline=DeadlineSpec.on_date(date(2026, 4, 2)))
    seen = (await outbox(db))[-1].id
    result = await sweep(db, at(date(2026, 4, 4), 10))  # 清明 Saturday: both overdue
    msgs = await outbox(db, seen)
    now_msgs = [m for m in msgs if m.next_attempt_at == at(date(2026, 4, 4), 10)]
    later = [m for m in msgs if m.next_attempt_at == at(date(2026, 4, 7), 8, 30)]
    assert len(now_msgs) + len(later) == len(msgs) == result.messages
    # Urgent: now, to the liaison, the unit head and the follower (the item's office side).
    assert {m.person_id for m in now_msgs} == {w.lead_liaison.id, w.lead_head.id, w.office2.id}
    assert all(m.urgent and "防汛应急排查" in m.text and "城区主干道" not in m.text for m in now_msgs)
    assert "专人跟踪" in to(now_msgs, w.office2)[0].text
    # Routine: waits for Tuesday morning (the office side: its registrant).
    assert {m.person_id for m in later} == {w.lead_liaison.id, w.lead_head.id, w.office.id}
    assert all(not m.urgent and "城区主干道" in m.text for m in later)
    # Sunday and Monday, still 清明: the same 「已超期」 would only repeat Saturday's — nothing.
    seen = msgs[-1].id
    await sweep(db, at(date(2026, 4, 5), 10))
    await sweep(db, at(date(2026, 4, 6), 10))
    assert await outbox(db, seen) == []
    # Tuesday, a working day: the count moved, the urgent item is reminded again.
    await sweep(db, at(date(2026, 4, 7), 10))
    msgs = await outbox(db, seen)
    assert any(m.urgent and f"i:v:{urgent.id}" in str(m.buttons) for m in msgs)


async def test_people_not_bound_yet_get_visible_unbound_rows(db, clock):
    w = await make_world(db, clock.now())
    await register(db, w, clock.now(), approve=True, lead_unit_id=w.unit("other").id, assisting_unit_ids=[],
                   deadline=DeadlineSpec.on_date(date(2026, 3, 13)))
    async with db.session() as s:
        liaison = await s.get(type(w.other_liaison), w.other_liaison.id)
        liaison.telegram_id = None  # invited, never bound
    seen = (await outbox(db))[-1].id
    await sweep(db, at(date(2026, 3, 16)))
    msgs = await outbox(db, seen)
    (m,) = to(msgs, w.other_liaison)
    assert m.status == "unbound"
    assert w.office.id in {m.person_id for m in msgs}  # the item's office follower still hears


async def test_the_sweep_reads_only_assignments_near_their_deadline(db, clock):
    w = await make_world(db, clock.now())
    await register(db, w, clock.now(), approve=True, deadline=DeadlineSpec.on_date(date(2026, 6, 30)))
    await register(db, w, clock.now(), approve=True, deadline=DeadlineSpec.on_date(date(2026, 3, 18)))
    result = await sweep(db, at(date(2026, 3, 16)))
    assert result.considered == 3  # the three units of the second item only
    async with db.session() as s:
        total = await s.scalar(select(func.count()).select_from(Assignment))
    assert total == 6


async def test_settings_change_the_ladder(db, clock):
    w = await make_world(db, clock.now())
    await register(db, w, clock.now(), approve=True, assisting_unit_ids=[],
                   deadline=DeadlineSpec.on_date(date(2026, 3, 13)))
    quiet = dataclasses.replace(SETTINGS, reminders=ReminderSettings(overdue_office=False, overdue_every_days=2))
    seen = (await outbox(db))[-1].id
    await sweep(db, at(date(2026, 3, 16)), quiet)  # overdue 1: reminded
    assert {m.person_id for m in await outbox(db, seen)} == {w.lead_liaison.id, w.lead_head.id}
    seen = (await outbox(db))[-1].id
    await sweep(db, at(date(2026, 3, 17)), quiet)  # overdue 2: skipped
    assert await outbox(db, seen) == []
    await sweep(db, at(date(2026, 3, 18)), quiet)  # overdue 3: reminded
    assert len(await outbox(db, seen)) == 2


def test_long_lists_are_cut_and_stay_under_telegrams_limit():
    due = [urging.DueAssignment(i, i, 1, "城关镇", "lead", date(2026, 3, 1), False, f"督字〔2026〕{i}号",
                                "很长的事项名称" * 10, False, False, None) for i in range(1, 200)]
    entries = [urging.Planned(7, d, OVERDUE, date(2026, 3, 16), -5, "office", at(date(2026, 3, 16)), False)
               for d in due]
    rnd = urging.group(entries)[0]

    class P:
        name = "王督查"

    text, buttons = urging.render_round(rnd, P())
    assert len(text.encode("utf-16-le")) // 2 < 4096
    assert "另有174项" in text and len([b for row in buttons for b in row]) == urging.MAX_BUTTONS


# ---------------------------------------------------------------------------------- how it writes


def writes_to(db, table: str) -> list[str]:
    """Record the statements that write ``table`` (an executemany counts once, as it is one call)."""
    seen: list[str] = []

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb in ("INSERT", "UPDATE", "DELETE") and f" {table} " in f" {statement} ".replace("\n", " "):
            seen.append(verb)

    return seen


async def test_each_rung_is_written_once_already_pointing_at_its_message(db, clock):
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True, deadline=DeadlineSpec.on_date(date(2026, 3, 13)))
    await sign_all(db, clock.now())
    seen = (await outbox(db))[-1].id
    writes = writes_to(db, "reminders")
    result = await sweep(db, at(date(2026, 3, 16)))  # overdue: liaisons, heads, the office
    assert writes == ["INSERT"]  # one bulk insert; no second pass linking rungs to messages
    msgs = {m.id: m for m in await outbox(db, seen)}
    rows = await reminders(db)
    # 3 units' liaisons, 2 unit heads, the item's office follower × 3 assignments; one message per person.
    assert (len(rows), len(msgs)) == (result.reminders, result.messages) == (3 + 2 + 3, 6)
    for r in rows:  # each rung names the message sent to its person about its item
        m = msgs[r.outbox_id]
        assert m.person_id == r.person_id and f"i:v:{item.id}" in str(m.buttons)
    # The same round again reads, finds every rung reached and writes nothing at all.
    writes.clear()
    outbox_writes = writes_to(db, "outbox")
    again = await sweep(db, at(date(2026, 3, 16)))
    assert (again.reminders, again.messages, writes, outbox_writes) == (0, 0, [], [])


async def test_a_repeat_round_reads_no_overdue_share_already_reminded(db, clock):
    """Issue 11: the sweep runs every minute; once today's overdue rungs are all written, a round
    must not read those shares again (at county scale: tens of thousands of rows each minute)."""
    w = await make_world(db, clock.now())
    await register(db, w, clock.now(), approve=True, deadline=DeadlineSpec.on_date(date(2026, 3, 13)))  # overdue
    await register(db, w, clock.now(), approve=True, assisting_unit_ids=[], title="农村饮水安全巩固提升",
                   deadline=DeadlineSpec.on_date(date(2026, 3, 18)))  # due soon: read while near its deadline
    first = await sweep(db, at(date(2026, 3, 16)))
    assert (first.considered, first.messages) == (4, 6)
    writes = writes_to(db, "reminders")
    outbox_writes = writes_to(db, "outbox")
    again = await sweep(db, at(date(2026, 3, 16), 10))
    # Only the due-soon share is read (its rung is once per deadline, found reached); no overdue one.
    assert (again.considered, again.reminders, again.messages, writes, outbox_writes) == (1, 0, 0, [], [])
    # A new overdue item of the same unit, whose people already have today's rungs of the other one:
    # read and reminded (the filter is per share and person, not per person).
    await register(db, w, clock.now(), approve=True, assisting_unit_ids=[], title="背街小巷路灯维修",
                   deadline=DeadlineSpec.on_date(date(2026, 3, 13)))
    await sign_all(db, clock.now())
    seen = (await outbox(db))[-1].id
    newer = await sweep(db, at(date(2026, 3, 16), 10, 30))
    assert (newer.considered, newer.reminders, newer.messages) == (2, 3, 3)
    assert all("背街小巷路灯维修" in m.text for m in await outbox(db, seen))
    # A rung still missing (a new liaison of the lead unit) makes those shares read again: the new
    # liaison alone hears, about the unit's three items (the due-soon one is new to them too).
    async with db.session() as s:
        s.add(Person(name="新联络员", unit_id=w.unit("lead").id, telegram_id=4242, created_at=clock.now(),
                     role_rows=[PersonRole(role="liaison")]))
    seen = (await outbox(db))[-1].id
    third = await sweep(db, at(date(2026, 3, 16), 11))
    (m,) = await outbox(db, seen)
    assert (third.considered, third.reminders, third.messages) == (3, 3, 1)
    assert "新联络员" in m.text and "已超期1个工作日" in m.text and "农村饮水安全巩固提升" in m.text


async def test_a_message_queued_before_under_the_same_key_is_not_queued_again(db, clock):
    """Rungs missing but their message on record (its key names exactly those rungs): the rungs
    are recorded, without a message, and nobody hears it twice."""
    w = await make_world(db, clock.now())
    await register(db, w, clock.now(), approve=True, assisting_unit_ids=[],
                   deadline=DeadlineSpec.on_date(date(2026, 3, 13)))
    first = await sweep(db, at(date(2026, 3, 16)))
    before = [m.id for m in await outbox(db)]
    async with db.session() as s:
        await s.execute(delete(Reminder))
    again = await sweep(db, at(date(2026, 3, 16)))
    assert (again.reminders, again.messages) == (first.reminders, 0) and [m.id for m in await outbox(db)] == before
    rows = await reminders(db)
    assert len(rows) == first.reminders and all(r.outbox_id is None for r in rows)


async def test_two_overlapping_rounds_send_each_message_once(db, clock):
    """Sweeps run one at a time (bot.runtime.sweeps locks them); should two still overlap on PostgreSQL,
    the second finds the first's messages by their dedupe keys and sends nothing."""
    if db.is_sqlite:
        pytest.skip("SQLite has one writer at a time: two rounds cannot overlap")
    w = await make_world(db, clock.now())
    await register(db, w, clock.now(), approve=True, deadline=DeadlineSpec.on_date(date(2026, 3, 13)))
    await sign_all(db, clock.now())
    seen = (await outbox(db))[-1].id
    results = await asyncio.gather(sweep(db, at(date(2026, 3, 16))), sweep(db, at(date(2026, 3, 16))))
    msgs = await outbox(db, seen)
    # 3 liaisons, 2 unit heads, the item's office follower (its registrant)
    assert sorted(r.messages for r in results) == [0, len(msgs)] and len(msgs) == 6
    assert len({m.person_id for m in msgs}) == len(msgs)
    rows = await reminders(db)
    assert len({(r.assignment_id, r.person_id, r.level, r.round_date) for r in rows}) == len(rows) == 8
