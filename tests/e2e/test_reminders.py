"""催办 end to end through the emulator with a controlled clock (FakeClock; nothing sleeps):
faults on the wire, a blocked person, the bot off for days, a holiday, a crash mid-broadcast,
and the office's view of what did not arrive."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import func, select
from telegram.ext import ExtBot

from bot.domain import items as items_svc
from bot.domain.workflow import DeadlineSpec
from bot.kernel.clock import OFFICE_TZ
from bot.emulator.ptb_request import EmulatorRequest
from bot.runtime.jobs import schedule_jobs
from bot.outbox.sender import STALE_CLAIM, Pacing, Sender
from bot.runtime.sweeps import SWEEPS, run_due, run_sweep
from store.audit import Actor
from store.models import OutboxMessage, Person, PersonRole, Unit
from store.urging import Reminder, SweepRun


def at(day: date, hh: int = 9, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=OFFICE_TZ).astimezone(UTC)


@dataclasses.dataclass
class County:
    people: dict  # name -> db Person
    users: dict  # name -> emulator Person
    units: dict  # name -> Unit

    def __getitem__(self, name: str):
        return self.users[name]


async def make_county(h, units: list[str], *, unbound: tuple[str, ...] = ()) -> County:
    """An office (王敏, 李强), its head, a leader, and a liaison + head per unit, bound to the emulator."""
    c = County({}, {}, {})
    spec = [("王敏", None, "office"), ("李强", None, "office"), ("赵建国", None, "office_head"),
            ("陈志远", None, "leader")]
    for i, u in enumerate(units):
        spec += [(f"联络员{i}", u, "liaison"), (f"负责人{i}", u, "unit_head")]
    async with h.db.session(Actor.system("test"), "test.setup") as s:
        for u in units:
            c.units[u] = Unit(name=u, kind="乡镇", created_at=h.clock.now())
            s.add(c.units[u])
        await s.flush()
        for name, unit, role in spec:
            user = h.emu.person(name)
            c.users[name] = user
            p = Person(name=name, unit=c.units[unit] if unit else None, created_at=h.clock.now(),
                       telegram_id=None if name in unbound else user.id, phone="13800000000")
            p.role_rows.append(PersonRole(role=role))
            s.add(p)
            c.people[name] = p
    return c


async def approve(h, c: County, *, lead: str, assists=(), **fields):
    cal = await h.app.bot_data["services"].calendar()
    base = dict(title="城区主干道破损路面修复", requirements="修复破损路面并报送照片。", source="deployment",
                importance="important", leader_ids=[c.people["陈志远"].id])
    base.update(fields)
    async with h.db.session() as s:
        item = await items_svc.register_item(
            s, c.people["王敏"], lead_unit_id=c.units[lead].id, assisting_unit_ids=[c.units[a].id for a in assists],
            calendar=cal, now=h.clock.now(), **base)
        await items_svc.submit_item(s, c.people["王敏"], item.id, now=h.clock.now())
    async with h.db.session() as s:
        item = await items_svc.approve_item(s, c.people["赵建国"], item.id, calendar=cal, now=h.clock.now())
    await h.settle()
    return item


def services(h):
    return h.app.bot_data["services"]


async def tick(h, when: datetime) -> dict:
    """What the clock job does at ``when``: run the due sweeps, then the sender drains."""
    h.clock.set(when)
    done = await run_due(services(h), when)
    await h.settle()
    return done


def texts(user, after: int = 0) -> list[str]:
    return [m.text for m in user.inbox if m.message_id > after]


def mark(users) -> dict:
    """The last message id each user has seen (to read only what comes next)."""
    return {u.id: (u.inbox[-1].message_id if u.inbox else 0) for u in users}


def new(user, marks: dict) -> list[str]:
    return texts(user, marks.get(user.id, 0))


async def count(db, model, *where) -> int:
    async with db.session() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where)) or 0


# ---------------------------------------------------------------------------------------------


async def test_the_round_reaches_everyone_through_429s_5xx_timeouts_and_a_block(harness):
    h = harness
    units = ["城关镇", "新马桥镇", "仲兴镇", "湖沟镇"]
    c = await make_county(h, units)
    await approve(h, c, lead="城关镇", assists=units[1:], deadline=DeadlineSpec.on_date(date(2026, 3, 13)))
    users = list(c.users.values())
    before = mark(users)
    # One liaison blocked the bot before the round (Telegram says so; the office is told at once).
    await c["联络员3"].block()
    told = [t for t in new(c["王敏"], before) if "消息无法送达" in t]
    assert len(told) == 1 and "联络员3（湖沟镇 联络员）" in told[0] and "督字〔2026〕1号" in told[0]
    # Faults on the wire: two 429s, three 502s, an ambiguous timeout that did arrive, one that did not.
    h.emu.faults.add("rate_limit", method="sendMessage", times=2, retry_after=1)
    h.emu.faults.add("server_error", method="sendMessage", times=3)
    h.emu.faults.add("timeout", method="sendMessage", delivered=True)
    h.emu.faults.add("timeout", method="sendMessage", delivered=False)

    await tick(h, at(date(2026, 3, 16)))  # Monday: overdue by one working day
    for _ in range(8):  # let the retries come due
        h.clock.advance(minutes=5)
        await h.settle()
    assert h.emu.faults.pending == []  # every injected fault was served
    async with h.db.session() as s:
        statuses = Counter((await s.scalars(select(OutboxMessage.status).where(
            OutboxMessage.dedupe_key.not_like("wf:approve-req:%")))).all())  # withdrawn once approved
    assert set(statuses) <= {"sent", "unreachable"} and statuses["unreachable"] >= 1
    # Everyone reachable got the round exactly once; a lost answer (timeout, delivered) costs one duplicate.
    rounds = {name: [t for t in new(u, before) if "督办提醒" in t] for name, u in c.users.items()}
    # The office side: the item's follower (its registrant 王敏) only; 李强 sees it in the digest.
    expected = {f"联络员{i}" for i in range(3)} | {f"负责人{i}" for i in range(4)} | {"王敏"}
    assert {n for n, r in rounds.items() if r} == expected
    assert sum(len(r) for r in rounds.values()) == len(expected) + 1
    assert all("已超期" in r[0] for n, r in rounds.items() if r)
    # The office was told once about the blocked liaison, not again when the round's 403 came.
    assert len([t for t in new(c["王敏"], before) if "消息无法送达" in t]) == 1
    # /outbox shows who did not get what.
    await c["王敏"].send("/outbox")
    view = c["王敏"].last.text
    assert "未送达的消息" in view and "对方已屏蔽机器人" in view and "联络员3" in view and "督办提醒" in view


async def test_failed_messages_are_visible_and_can_be_sent_again(harness):
    h = harness
    c = await make_county(h, ["城关镇"], unbound=("负责人0",))
    await approve(h, c, lead="城关镇", deadline=DeadlineSpec.on_date(date(2026, 3, 13)))
    h.emu.faults.add("server_error", method="sendMessage", chat_id=c["联络员0"].id, times=20)
    await tick(h, at(date(2026, 3, 16)))
    for _ in range(8):
        h.clock.advance(hours=1)
        await h.settle()
    async with h.db.session() as s:
        rows = (await s.execute(select(Person.name, OutboxMessage.status).join(
            Person, Person.id == OutboxMessage.person_id))).all()
    assert ("联络员0", "failed") in rows and ("负责人0", "unbound") in rows
    # In the office's digest the next morning (at work_start), and in /outbox.
    await tick(h, at(date(2026, 3, 17), 8, 30))
    digest = [t for t in texts(c["王敏"]) if "每日督办摘要" in t][-1]
    assert "未送达的消息" in digest and "联络员0（城关镇 联络员）" in digest and "多次重试仍发送失败" in digest
    assert "负责人0（城关镇 单位负责人）" in digest and "尚未绑定账号" in digest
    await c["王敏"].send("/outbox")
    assert "多次重试仍发送失败" in c["王敏"].last.text and "尚未绑定账号" in c["王敏"].last.text
    # The line is fixed; the office sends them again.
    h.emu.faults.clear()
    await c["王敏"].send("/outbox 重发")
    assert "已重新排队" in c["王敏"].last.text
    await h.settle()
    assert any("督办提醒" in t for t in texts(c["联络员0"]))


async def test_three_days_off_one_grouped_catch_up_nothing_twice(harness):
    h = harness
    c = await make_county(h, ["城关镇", "新马桥镇"])
    await approve(h, c, lead="城关镇", assists=["新马桥镇"], deadline=DeadlineSpec.on_date(date(2026, 3, 13)))
    await approve(h, c, lead="城关镇", title="农村饮水安全巩固提升", deadline=DeadlineSpec.on_date(date(2026, 3, 18)))
    done = await tick(h, at(date(2026, 3, 16), 9))  # Monday's round runs
    assert done["escalation"].messages > 0
    users = list(c.users.values())
    before = mark(users)
    # Off from Monday 09:05 to Thursday 15:00: the rounds of Tue, Wed and Thu 09:00 were missed.
    done = await tick(h, at(date(2026, 3, 19), 15))
    rounds = {name: [t for t in new(u, before) if "督办提醒" in t] for name, u in c.users.items()}
    # One grouped message each, as of today — not three.
    assert all(len(r) <= 1 for r in rounds.values())
    (liaison_round,) = rounds["联络员0"]
    assert "您有2项督办事项已超期" in liaison_round and "已超期4个工作日" in liaison_round
    assert "已超期1个工作日" in liaison_round  # the second item, due Wednesday
    # The digest caught up too, once per leader/office person.
    digests = {name: [t for t in new(u, before) if "每日督办摘要" in t] for name, u in c.users.items()}
    assert {n for n, d in digests.items() if d} == {"王敏", "李强", "赵建国", "陈志远"}
    assert all(len(d) == 1 for d in digests.values() if d)
    assert "超期3个工作日以上，请您督促" in digests["陈志远"][0]
    # The next ticks find everything done.
    before = mark(users)
    assert await tick(h, at(date(2026, 3, 19), 15, 1)) == {}
    assert await tick(h, at(date(2026, 3, 19), 17)) == {}
    assert all(new(u, before) == [] for u in users)
    # Friday's round is a new one.
    await tick(h, at(date(2026, 3, 20), 9))
    assert len([t for t in new(c["联络员0"], before) if "督办提醒" in t]) == 1
    async with h.db.session() as s:
        keys = (await s.execute(select(Reminder.assignment_id, Reminder.person_id, Reminder.level,
                                       Reminder.round_date))).all()
    assert len(keys) == len(set(keys))


async def test_a_holiday_no_routine_reminders_urgent_ones_go(harness):
    h = harness
    c = await make_county(h, ["城关镇", "新马桥镇"])
    await approve(h, c, lead="城关镇", deadline=DeadlineSpec.on_date(date(2026, 4, 2)))
    await approve(h, c, lead="新马桥镇", title="防汛隐患排查", importance="urgent",
                  follower_id=c.people["李强"].id, deadline=DeadlineSpec.on_date(date(2026, 4, 2)))
    await tick(h, at(date(2026, 4, 3), 9))  # Friday: both overdue; the regular round
    users = list(c.users.values())
    before = mark(users)
    await tick(h, at(date(2026, 4, 6), 9))  # 清明 Monday
    got = {name: new(u, before) for name, u in c.users.items()}
    assert got["联络员0"] == [] and got["负责人0"] == []  # routine: not on a holiday
    assert any("防汛隐患排查" in t for t in got["联络员1"]) and any("防汛隐患排查" in t for t in got["李强"])
    assert all("城区主干道" not in t for ts in got.values() for t in ts)
    # Tuesday morning: the held routine ones wait for the 09:00 round (not 08:30 alone), and the
    # round adds nothing twice: one message.
    before = mark(users)
    h.clock.set(at(date(2026, 4, 7), 8, 30))
    await h.settle()
    assert new(c["联络员0"], before) == []
    await tick(h, at(date(2026, 4, 7), 9))
    (morning,) = [t for t in new(c["联络员0"], before) if "督办提醒" in t]
    assert "城区主干道" in morning


class Killed(BaseException):
    """The process dies: nothing after this runs."""


class DyingBot:
    """Sends through the real bot until the ``after``-th message was accepted by Telegram, then
    the process dies — before the sender could record it; nothing is sent after that."""

    def __init__(self, bot: ExtBot, after: int) -> None:
        self.bot, self.after, self.accepted, self.dead = bot, after, 0, False

    async def send_message(self, *args, **kwargs):
        if self.dead:
            raise Killed()
        message = await self.bot.send_message(*args, **kwargs)
        self.accepted += 1
        if self.accepted >= self.after:
            self.dead = True
            raise Killed()
        return message


class DyingSender(Sender):
    """A sender in the dying process: once dead it writes nothing more to the database."""

    async def _finish(self, *args, **kwargs):
        if self.bot.dead:
            raise Killed()
        return await super()._finish(*args, **kwargs)

    async def _reschedule(self, *args, **kwargs):
        if self.bot.dead:
            raise Killed()
        return await super()._reschedule(*args, **kwargs)


async def test_killed_mid_broadcast_of_200_all_arrive_at_most_one_twice(db, clock, emu):
    """A 督办通知单 to 200 units (one item, 200 assignments) is a 200-message broadcast."""
    from bot.domain.workdays import WorkCalendar

    units = [f"单位{i:03d}" for i in range(200)]
    async with db.session(Actor.system("test"), "test.setup") as s:
        unit_rows = [Unit(name=u, kind="部门", created_at=clock.now()) for u in units]
        s.add_all(unit_rows)
        await s.flush()
        users = {}
        for i, u in enumerate(unit_rows):
            user = emu.person(f"联络员{i}")
            users[u.id] = user
            p = Person(name=f"联络员{i}", unit=u, telegram_id=user.id, created_at=clock.now())
            p.role_rows.append(PersonRole(role="liaison"))
            s.add(p)
        office = Person(name="王敏", created_at=clock.now())
        office.role_rows.append(PersonRole(role="office"))
        head = Person(name="赵建国", created_at=clock.now())
        head.role_rows.append(PersonRole(role="office_head"))
        leader = Person(name="陈志远", created_at=clock.now())
        leader.role_rows.append(PersonRole(role="leader"))
        s.add_all([office, head, leader])
    cal = WorkCalendar()
    async with db.session() as s:
        item = await items_svc.register_item(
            s, office, title="全县安全生产大检查", requirements="各单位开展自查并报送情况。", source="deployment",
            importance="important", lead_unit_id=unit_rows[0].id, assisting_unit_ids=[u.id for u in unit_rows[1:]],
            leader_ids=[leader.id], calendar=cal, now=clock.now())
        await items_svc.submit_item(s, office, item.id, now=clock.now())
    async with db.session() as s:
        await items_svc.approve_item(s, head, item.id, calendar=cal, now=clock.now())
    notices = await count(db, OutboxMessage, OutboxMessage.status == "pending")
    assert notices >= 200

    bot = ExtBot(emu.token, request=EmulatorRequest(emu))
    await bot.initialize()
    dying = DyingBot(bot, after=57)
    # Paced as in production (28 messages/s): the process dies right after Telegram accepted the
    # 57th message and before it was recorded.
    sender = DyingSender(db, dying, clock, pacing=Pacing())
    alive = asyncio.all_tasks()
    with pytest.raises(Killed):
        await sender.drain()
    zombies = asyncio.all_tasks() - alive  # the dead process's other sends never happen
    for task in zombies:
        task.cancel()
    await asyncio.gather(*zombies, return_exceptions=True)
    left = await count(db, OutboxMessage, OutboxMessage.status == "sending")
    assert 0 < left < notices

    # Only the one message in flight was claimed. Restart: a new sender sends the never-tried
    # rows, respects the fresh claim, then takes over the stale one.
    assert left == 1
    restarted = Sender(db, bot, clock, pacing=Pacing(overall_per_second=10_000, per_chat_burst=10_000))
    assert await restarted.drain_all() == notices - dying.accepted
    clock.advance(seconds=STALE_CLAIM.total_seconds() + 1)
    await restarted.drain_all()
    await bot.shutdown()
    assert await count(db, OutboxMessage, OutboxMessage.status.not_in(("sent", "unbound"))) == 0
    per_user = [len([m for m in u.inbox if "督办通知" in (m.text or "")]) for u in users.values()]
    assert all(n >= 1 for n in per_user)
    assert sum(per_user) - len(per_user) <= 1  # at most one message sent twice
    assert dying.accepted == 57


async def test_a_sweep_that_dies_midway_leaves_nothing_and_runs_again(harness, monkeypatch):
    h = harness
    c = await make_county(h, ["城关镇", "新马桥镇"])
    await approve(h, c, lead="城关镇", assists=["新马桥镇"], deadline=DeadlineSpec.on_date(date(2026, 3, 13)))
    from bot.domain import urging

    real = urging.enqueue_many

    async def dies_after_writing(*args, **kwargs):
        await real(*args, **kwargs)  # the messages are written … and the process dies
        raise RuntimeError("process killed")

    monkeypatch.setattr(urging, "enqueue_many", dies_after_writing)
    urge = OutboxMessage.dedupe_key.like("urge:%")
    h.clock.set(at(date(2026, 3, 16)))
    assert "escalation" not in await run_due(services(h))  # logged, rolled back; the others ran
    assert await count(h.db, OutboxMessage, urge) == 0 and await count(h.db, Reminder) == 0
    assert await count(h.db, SweepRun, SweepRun.name == "escalation") == 0
    monkeypatch.setattr(urging, "enqueue_many", real)
    done = await run_due(services(h))
    assert done["escalation"].messages == 5  # 2 liaisons, 2 heads, the item's office follower
    assert await count(h.db, OutboxMessage, urge) == 5


async def test_the_clock_job_catches_up_at_start_up(harness):
    """schedule_jobs: the sweep tick starts seconds after start-up (the catch-up), is coalesced,
    never overlaps itself, and is never dropped for being late."""
    h = harness
    schedule_jobs(h.app)
    jobs = {j.name: j for j in h.app.job_queue.jobs()}
    try:
        sweep = jobs["sweeps"].job
        assert sweep.coalesce is True and sweep.max_instances == 1 and sweep.misfire_grace_time is None
        lead = (jobs["sweeps"].next_t - datetime.now(UTC)).total_seconds()
        assert 0 < lead <= 5  # the start-up catch-up comes seconds after start, not a minute later
        assert jobs["outbox"].job.coalesce is True
        assert set(SWEEPS) == {"escalation", "weekly_feedback", "digest", "monthly_report"}
    finally:
        for j in jobs.values():
            j.schedule_removal()


async def test_forced_runs_and_reruns_are_harmless(harness):
    h = harness
    c = await make_county(h, ["城关镇"])
    await approve(h, c, lead="城关镇", deadline=DeadlineSpec.on_date(date(2026, 3, 13)))
    now = at(date(2026, 3, 16))
    h.clock.set(now)
    first = await run_sweep(services(h), "escalation", now)
    again = await run_sweep(services(h), "escalation", now)
    forced = await run_sweep(services(h), "escalation", now, force=True)
    assert first.messages == 3 and again is None and forced.messages == 0  # liaison, head, the office follower


async def test_sandbox_hook_runs_the_sweeps_and_sends(harness):
    """What the sandbox page calls after moving its clock (bot/demo/runner.Sandbox.after_clock_change)."""
    from bot.demo.runner import Sandbox

    h = harness
    c = await make_county(h, ["城关镇"])
    await approve(h, c, lead="城关镇", deadline=DeadlineSpec.on_date(date(2026, 3, 13)))
    h.clock.set(at(date(2026, 3, 16)))
    sb = Sandbox(h.emu, None, h.app, h.db, h.clock, {})
    await sb.after_clock_change()
    assert "督办提醒" in c["联络员0"].last.text


def new_messages(user, marks: dict) -> list:
    return [m for m in user.inbox if m.message_id > marks.get(user.id, 0)]


DIGEST_READERS = ("王敏", "李强", "赵建国", "陈志远")


async def test_the_digest_is_one_message_at_work_start_and_its_chart_comes_on_a_tap(harness):
    h = harness
    c = await make_county(h, ["城关镇", "新马桥镇"])
    await approve(h, c, lead="城关镇", assists=["新马桥镇"], deadline=DeadlineSpec.on_date(date(2026, 3, 13)))
    users = list(c.users.values())
    before = mark(users)
    # Tuesday 08:00 is before work_start (08:30): no digest yet.
    await tick(h, at(date(2026, 3, 17), 8))
    assert not any("每日督办摘要" in (m.text or "") for u in users for m in new_messages(u, before))
    await tick(h, at(date(2026, 3, 17), 8, 30))
    digests = {n: [m for m in new_messages(c[n], before) if "每日督办摘要" in (m.text or "")] for n in DIGEST_READERS}
    assert all(len(d) == 1 for d in digests.values())
    # One message: a short digest is the chart with the text as its caption, and the item's button.
    (leader,) = digests["陈志远"]
    assert leader.photo and "您负责审阅的" in leader.text and leader.buttons == ["查看 督字〔2026〕1号"]
    assert [m.message_id for m in new_messages(c["陈志远"], before) if m.photo] == [leader.message_id]  # no second chart
    assert not any("每日督办摘要" in (m.text or "") for n, u in c.users.items() if n not in DIGEST_READERS
                   for m in new_messages(u, before))

    # Many more items due: the office's digest outgrows a caption; the text goes with a button.
    for n in range(12):
        await approve(h, c, lead="新马桥镇", assists=["城关镇"], title=f"农村公路养护第{n + 1}段",
                      deadline=DeadlineSpec.on_date(date(2026, 3, 18)))
    before = mark(users)
    await tick(h, at(date(2026, 3, 18), 8, 30))
    wang = c["王敏"]
    (office,) = [m for m in new_messages(wang, before) if "每日督办摘要" in (m.text or "")]
    assert office.photo is None and office.buttons[0] == "📊 查看图表" and len(office.text) > 1024
    assert not any(m.photo for m in new_messages(wang, before))
    await wang.tap("📊 查看图表", office)
    assert wang.last.photo and "全县督办事项状态图（截至 2026-03-18 08:30）" in wang.last.text
    assert (await wang.download(wang.last))[:8] == b"\x89PNG\r\n\x1a\n"
    # The button carries no one's name: a liaison forging it is refused and gets no chart.
    liaison = c["联络员0"]
    seen = len(liaison.inbox)
    await liaison.forge_tap("dg:chart")
    assert liaison.answers[-1]["show_alert"] and "没有权限" in liaison.last_answer and len(liaison.inbox) == seen


async def test_digest_on_demand_for_leaders_and_office_only(harness):
    h = harness
    c = await make_county(h, ["城关镇", "新马桥镇"])
    await approve(h, c, lead="城关镇", assists=["新马桥镇"], deadline=DeadlineSpec.on_date(date(2026, 3, 13)))
    h.clock.set(at(date(2026, 3, 18), 15))
    leader = c["陈志远"]
    seen = len(leader.inbox)
    await leader.send("/digest")
    (answer,) = leader.inbox[seen:]  # one message: the chart, the text as its caption
    assert answer.photo and "每日督办摘要" in answer.text and "超期3个工作日以上，请您督促" in answer.text
    assert answer.buttons == ["查看 督字〔2026〕1号"]
    seen = len(c["王敏"].inbox)
    await c["王敏"].send("/digest")
    (answer,) = c["王敏"].inbox[seen:]
    assert answer.photo and "全县" in answer.text
    await c["联络员0"].send("/digest")
    assert "每日督办摘要" not in c["联络员0"].last.text
    await c["联络员0"].send("/outbox")
    assert "未送达的消息" not in c["联络员0"].last.text


async def test_unblocking_lets_messages_through_again(harness):
    h = harness
    c = await make_county(h, ["城关镇"])
    await approve(h, c, lead="城关镇", deadline=DeadlineSpec.on_date(date(2026, 3, 13)))
    await c["联络员0"].block()
    async with h.db.session() as s:
        assert (await s.get(Person, c.people["联络员0"].id)).unreachable_since is not None
    await tick(h, at(date(2026, 3, 16)))
    assert not any("督办提醒" in t for t in texts(c["联络员0"]))
    await c["联络员0"].unblock()
    async with h.db.session() as s:
        assert (await s.get(Person, c.people["联络员0"].id)).unreachable_since is None
    # The office can send again what waited for them.
    await c["王敏"].send("/outbox 重发")
    await h.settle()
    assert any("督办提醒" in t for t in texts(c["联络员0"]))
    # The next round reaches them directly.
    await tick(h, at(date(2026, 3, 17)))
    assert len([t for t in texts(c["联络员0"]) if "督办提醒" in t]) == 2


async def test_a_person_who_binds_later_gets_what_waited_on_request(harness):
    h = harness
    c = await make_county(h, ["城关镇"], unbound=("联络员0",))
    await approve(h, c, lead="城关镇", deadline=DeadlineSpec.on_date(date(2026, 3, 13)))
    await tick(h, at(date(2026, 3, 16)))
    assert texts(c["联络员0"]) == []
    async with h.db.session() as s:
        (await s.get(Person, c.people["联络员0"].id)).telegram_id = c["联络员0"].id  # bound (/start code)
    await c["王敏"].send("/outbox 重发")
    await h.settle()
    got = texts(c["联络员0"])
    assert any("督办通知" in t for t in got) and any("督办提醒" in t for t in got)


async def test_a_chart_file_that_vanished_fails_visibly_instead_of_looping(harness, tmp_path):
    from bot.outbox.queue import enqueue

    h = harness
    c = await make_county(h, ["城关镇"])
    async with h.db.session() as s:
        person = await s.get(Person, c.people["陈志远"].id)
        await enqueue(s, person, "📊 状态图", now=h.clock.now(), kind="photo",
                      file_path=str(tmp_path / "gone.png"), dedupe_key="chart-gone")
    await h.settle()
    async with h.db.session() as s:
        row = await s.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == "chart-gone"))
    assert row.status == "failed" and "文件无法读取" in row.last_error
