"""Two instances on one PostgreSQL: two senders and two sweepers, nothing sent twice.

Each instance has its own engine (its own connections), its own bot and its own process lock,
as two processes would. The sweeps' advisory lock and the sender's SKIP LOCKED claims keep them
apart; the unique round keys make any overlap harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import func, select, text
from telegram.ext import ExtBot

from bot.kernel.config import Settings, StorageSettings
from bot.domain import items as items_svc
from bot.domain.workdays import WorkCalendar
from bot.domain.workflow import DeadlineSpec
from bot.kernel.clock import OFFICE_TZ
from bot.emulator.ptb_request import EmulatorRequest
from bot.outbox.pacing import Pacing
from bot.outbox.sender import Sender
from bot.runtime import app as app_module
from bot.runtime.services import Services
from bot.runtime.sweeps import SWEEPS, run_due, run_sweep
from store.audit import Actor
from store.db import Database
from store.models import OutboxMessage, Person, PersonRole, Unit
from store.urging import Reminder, SweepRun

CAL = WorkCalendar()


def at(day: date, hh: int = 9, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=OFFICE_TZ).astimezone(UTC)


@pytest.fixture
async def two(db, clock, emu, tmp_path):
    if db.is_sqlite:
        pytest.skip("SQLite: one process owns the sweeps; two instances need PostgreSQL")
    second_db = Database(db.url, now=clock.now)
    bots = [ExtBot(emu.token, request=EmulatorRequest(emu)) for _ in range(2)]
    instances = []
    for database, bot in zip((db, second_db), bots):
        await bot.initialize()
        sender = Sender(database, bot, clock, pacing=Pacing(overall_per_second=10_000, per_chat_burst=10_000))
        # The digest's charts go to the test's own folder, never the checkout's data/files (a file
        # there makes python -m bot refuse a missing SQLite database: tests/unit/test_config.py).
        settings = Settings(storage=StorageSettings(files_dir=str(tmp_path / "files")))
        instances.append(Services(settings=settings, db=database, clock=clock, sender=sender))
    yield instances
    for bot in bots:
        await bot.shutdown()
    await second_db.dispose()


async def county(db, clock, emu, n_units: int = 12):
    users = {}
    async with db.session(Actor.system("test"), "test.setup") as s:
        units = [Unit(name=f"单位{i:02d}", kind="乡镇", created_at=clock.now()) for i in range(n_units)]
        s.add_all(units)
        await s.flush()
        spec = [("王敏", None, "office"), ("李强", None, "office"), ("赵建国", None, "office_head"),
                ("陈志远", None, "leader")]
        spec += [(f"联络员{i}", u, "liaison") for i, u in enumerate(units)]
        spec += [(f"负责人{i}", u, "unit_head") for i, u in enumerate(units)]
        people = {}
        for name, unit, role in spec:
            user = emu.person(name)
            users[name] = user
            p = Person(name=name, unit=unit, telegram_id=user.id, created_at=clock.now())
            p.role_rows.append(PersonRole(role=role))
            s.add(p)
            people[name] = p
    for i in range(0, n_units, 3):  # items of three units each, overdue on the round day
        async with db.session() as s:
            item = await items_svc.register_item(
                s, people["王敏"], title=f"事项{i}", requirements="按要求办理。", source="deployment",
                importance="important", lead_unit_id=units[i].id, assisting_unit_ids=[units[i + 1].id, units[i + 2].id],
                leader_ids=[people["陈志远"].id], deadline=DeadlineSpec.on_date(date(2026, 3, 13)),
                calendar=CAL, now=clock.now())
            await items_svc.submit_item(s, people["王敏"], item.id, now=clock.now())
        async with db.session() as s:
            await items_svc.approve_item(s, people["赵建国"], item.id, calendar=CAL, now=clock.now())
    return users


async def test_two_senders_and_two_sweepers_share_one_database(db, clock, emu, two):
    a, b = two
    users = await county(db, clock, emu)
    await asyncio.gather(a.sender.drain_all(), b.sender.drain_all())  # the notices
    marks = {u.id: len(u.inbox) for u in users.values()}

    # Monday 09:00: both instances tick at once, then both drain at once — twice over.
    now = at(date(2026, 3, 16))
    clock.set(now)
    for _ in range(2):
        results = await asyncio.gather(run_due(a, now), run_due(b, now), run_due(a, now), run_due(b, now))
        await asyncio.gather(a.sender.drain_all(), b.sender.drain_all(), a.sender.drain_all())
    ran = Counter(name for r in results for name in r)
    assert all(n <= 1 for n in ran.values())

    rounds = {name: [m.text for m in u.inbox[marks[u.id]:] if "督办提醒" in (m.text or "")]
              for name, u in users.items()}
    # The office side: the item's follower (its registrant 王敏) only, issue 13.
    assert all(len(r) == 1 for name, r in rounds.items() if name.startswith(("联络员", "负责人")) or name == "王敏")
    digests = Counter(name for name, u in users.items() for m in u.inbox[marks[u.id]:] if "每日督办摘要" in (m.text or ""))
    assert set(digests) == {"王敏", "李强", "赵建国", "陈志远"} and set(digests.values()) == {1}
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(SweepRun)) == len(SWEEPS)
        keys = (await s.execute(select(Reminder.assignment_id, Reminder.person_id, Reminder.level,
                                       Reminder.round_date))).all()
        assert len(keys) == len(set(keys)) and keys
        statuses = Counter((await s.scalars(select(OutboxMessage.status).where(
            OutboxMessage.dedupe_key.not_like("wf:approve-req:%")))).all())  # withdrawn once approved
    assert set(statuses) == {"sent"}


async def test_a_sweep_held_by_one_instance_is_skipped_by_the_other(db, clock, emu, two):
    a, b = two
    await county(db, clock, emu, n_units=3)
    now = at(date(2026, 3, 16))
    clock.set(now)
    key = SWEEPS["escalation"].lock_key
    # Instance A is in the middle of the round (holds the lock in an open transaction).
    async with a.db.session() as s:
        assert await s.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key})
        assert await run_sweep(b, "escalation", now) is None  # B skips it
        assert await run_sweep(b, "escalation", now, force=True) is None  # even when forced
    # A's transaction ended; B can run it now, once.
    first = await run_sweep(b, "escalation", now)
    assert first is not None and first.messages > 0
    assert await run_sweep(a, "escalation", now) is None  # done: A finds the round complete
    async with a.db.session() as s:
        queued = await s.scalar(select(func.count()).select_from(OutboxMessage))
    forced = await asyncio.gather(*(run_sweep(x, "escalation", now, force=True) for x in (a, b, a, b)))
    # Forced again, concurrently: whichever instance gets the lock, the round is not sent twice.
    assert sum(r.messages for r in forced if r is not None) == 0
    async with a.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(OutboxMessage)) == queued


# --- Issue 14: one poller elected, hot standby, dialogs that survive, one pace -------------------

import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from telegram import Update  # noqa: E402

from bot.demo.county import demo_people, seed_directory  # noqa: E402
from bot.emulator import Emulator  # noqa: E402
from bot.emulator.limits import FloodLimits  # noqa: E402
from bot.outbox.queue import enqueue  # noqa: E402
from bot.runtime import single  # noqa: E402
from bot.runtime.inbox import Inbox  # noqa: E402
from store.dialog_state import DialogState  # noqa: E402
from store.models import InboxUpdate  # noqa: E402
from store.workflow import Item  # noqa: E402
from tests.e2e import instances as inst  # noqa: E402


def pg_only(db) -> None:  # noqa: ANN001
    if db.is_sqlite:
        pytest.skip("several instances need PostgreSQL (SQLite: one process, see the refusal test)")


async def demo(db, clock, emu) -> dict:  # noqa: ANN001
    people = {dp.name: emu.person(dp.name) for dp in demo_people()}
    await seed_directory(db, clock.now(), lambda dp: people[dp.name].id)
    return people


@pytest.fixture
async def pair(db, clock, emu, tmp_path):
    """Two instances polling for one bot on one PostgreSQL database, the demo county seeded."""
    pg_only(db)
    people = await demo(db, clock, emu)
    both = [await inst.start(name, db.url, emu, clock, tmp_path / "files") for name in "AB"]
    inst.settle_all(emu, both)
    yield both, people
    for one in both:
        await inst.stop(one)


def others(both: list, one) -> object:  # noqa: ANN001
    return next(x for x in both if x is not one)


async def test_one_instance_polls_and_every_update_is_answered_once(pair, emu):
    both, people = pair
    leader = await inst.leader_of(both)
    standby = others(both, leader)
    assert leader.polling and not standby.polling and standby.leadership.role == "standby"
    liaisons = [p for name, p in people.items() if name in {dp.name for dp in demo_people() if "liaison" in dp.roles}]
    for person in liaisons:  # a burst: two commands each, not waiting for the answers
        await emu.user_sends(person.id, "/help")
        await emu.user_sends(person.id, "/help")
    await emu.settle()
    for person in liaisons:
        assert [m.text for m in person.inbox].count(person.last.text) == 2 and "/items" in person.last.text
    assert emu.stats.errors[409] == 0  # nobody else polled
    async with leader.db.session() as s:
        statuses = Counter((await s.scalars(select(InboxUpdate.status))).all())
    assert statuses == {"handled": 2 * len(liaisons)}


async def test_a_dialog_started_on_the_leader_is_finished_on_the_standby_after_a_kill(pair, emu, db):
    both, people = pair
    office = people["王敏"]
    leader = await inst.leader_of(both)
    await office.send("/new")
    await office.tap("不涉密")
    await office.send("城区主干道破损路面修复")
    assert "办理要求" in office.last.text
    async with db.session() as s:  # written through at once, not at PTB's next interval
        assert await s.scalar(select(func.count()).select_from(DialogState).where(DialogState.scope == "conversation"))

    await inst.kill(leader)
    standby = others(both, leader)
    taken_over = await inst.wait_for(lambda: standby.polling, timeout=10)
    assert taken_over < 10

    await office.send("两周内完成城区主干道破损路面修复，并报送修复前后照片。")
    assert office.last.buttons[0] == "县政府重要工作部署"  # the next step, on the other instance
    await office.tap("县政府重要工作部署")
    assert office.last.buttons == ["一般", "重要", "紧急"]
    await office.send("/cancel")
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Item)) == 0


async def test_killing_the_leader_mid_stream_loses_nothing_and_repeats_at_most_one(pair, emu):
    both, people = pair
    leader = await inst.leader_of(both)
    standby = others(both, leader)
    crowd = [people[dp.name] for dp in demo_people() if "liaison" in dp.roles]
    for person in crowd:
        await emu.user_sends(person.id, "/help")
    # The leader is killed while it works through the burst.
    await inst.wait_for(lambda: sum(len(p.inbox) for p in crowd) >= 2)
    await inst.kill(leader)
    assert await inst.wait_for(lambda: standby.polling, timeout=10) < 10
    for person in crowd:
        await emu.user_sends(person.id, "/help")
    await emu.settle()
    answers = [len(p.inbox) for p in crowd]
    assert min(answers) >= 2  # nothing lost: both commands of everyone answered
    assert sum(answers) - 2 * len(crowd) <= 1  # at most the one being handled at the kill, again


async def test_a_leader_that_loses_its_lock_connection_stops_polling_and_the_standby_takes_over(pair, emu, db):
    both, people = pair
    leader = await inst.leader_of(both)
    standby = others(both, leader)
    pid = leader.leadership.backend_pid
    async with db.engine.connect() as conn:  # as a PostgreSQL restart or a network cut would
        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    await inst.wait_for(lambda: not leader.polling and standby.polling, timeout=10)
    assert leader.leadership.role == "standby" and standby.leadership.role == "leader"
    office = people["王敏"]
    await office.send("/help")
    assert len(office.inbox) == 1


async def test_webhook_mode_every_instance_receives_and_a_dialog_moves_between_them(db, clock, emu, tmp_path):
    """Behind a reverse proxy every instance gets updates: each step of /new on the other one."""
    pg_only(db)
    people = await demo(db, clock, emu)
    both = [await inst.start(name, db.url, emu, clock, tmp_path / "files", polling=False, shared_updates=True)
            for name in "AB"]
    inst.settle_all(emu, both)
    handled: list[str] = []
    for one in both:
        original = one.app.process_update

        async def tracked(update, _one=one, _original=original):  # noqa: ANN001
            handled.append(_one.name)
            await _original(update)

        one.app.process_update = tracked

    task = asyncio.create_task(inst.proxy(emu, both))
    try:
        office = people["王敏"]
        await office.send("/new")
        await office.tap("不涉密")
        await office.send("城区主干道破损路面修复")
        await office.send("两周内完成城区主干道破损路面修复，并报送修复前后照片。")
        await office.tap("县政府重要工作部署")
        await office.tap("重要")
        await office.send("城关")
        await office.tap("城关镇")
        await office.tap("无协办单位，下一步")
        await office.tap("不需要，下一步")  # no 分工 per unit (issue 12)
        await office.tap("默认：7个工作日")
        await office.tap("需要每周反馈（默认）")
        await office.tap("陈志远")
        await office.tap("完成（已选1位）")
        assert "审阅领导：陈志远" in office.last.text
        await office.tap("提交审批")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for one in both:
            await inst.stop(one)
    assert set(handled) == {"A", "B"} and handled[:4] == ["A", "B", "A", "B"]
    async with db.session() as s:
        items = (await s.scalars(select(Item))).all()
    assert [i.title for i in items] == ["城区主干道破损路面修复"]


async def test_webhook_mode_a_dead_leaders_updates_are_taken_over_and_nothing_is_lost(db, clock, emu, tmp_path):
    pg_only(db)
    people = await demo(db, clock, emu)
    both = [await inst.start(name, db.url, emu, clock, tmp_path / "files", polling=False, shared_updates=True)
            for name in "AB"]
    inst.settle_all(emu, both)
    task = asyncio.create_task(inst.proxy(emu, both))
    crowd = [people[dp.name] for dp in demo_people() if "liaison" in dp.roles]
    try:
        leader = await inst.leader_of_any(both)
        other = others(both, leader)
        for person in crowd:  # spread over both instances by the proxy
            await emu.user_sends(person.id, "/help")
        await inst.wait_for(lambda: sum(len(p.inbox) for p in crowd) >= 2)
        await inst.kill(leader)  # what it had queued is recorded and unfinished
        await inst.wait_for(lambda: other.leadership.is_leader, timeout=10)
        for person in crowd:
            await emu.user_sends(person.id, "/help")
        await emu.settle()
        # A minute later the dead instance's unfinished updates are surely not in live hands.
        clock.advance(minutes=1, seconds=1)
        await inst.wait_for(lambda: min(len(p.inbox) for p in crowd) >= 2, timeout=10)
        await emu.settle()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for one in both:
            await inst.stop(one)
    answers = [len(p.inbox) for p in crowd]
    assert min(answers) >= 2 and sum(answers) - 2 * len(crowd) <= 1


async def test_webhook_mode_a_slow_update_of_a_living_instance_is_not_taken_over(db, clock, emu, tmp_path):
    """The leader takes over only what a dead instance left: an update a living one is still
    working on after a minute stays with it and is answered once."""
    pg_only(db)
    people = await demo(db, clock, emu)
    both = [await inst.start(name, db.url, emu, clock, tmp_path / "files", polling=False, shared_updates=True)
            for name in "AB"]
    inst.settle_all(emu, both)
    released = asyncio.Event()
    try:
        leader = await inst.leader_of_any(both)
        slow = others(both, leader)
        original = slow.app.process_update

        async def stuck(update, _original=original):  # noqa: ANN001 — a handler waiting on something slow
            await released.wait()
            await _original(update)

        slow.app.process_update = stuck
        office = people["王敏"]
        await emu.user_sends(office.id, "/help")
        (raw,) = (await emu.request("getUpdates", {"timeout": 0})).body["result"]
        await emu.request("getUpdates", {"offset": raw["update_id"] + 1, "timeout": 0})  # the proxy's 200
        await slow.app.update_queue.put(Update.de_json(raw, slow.app.bot))
        clock.advance(minutes=2)  # far past WEBHOOK_RECOVER_AFTER: a dead instance's update would be taken
        assert await app_module._recover_others(leader.app) == 0
        released.set()
        await inst.wait_for(lambda: len(office.inbox) == 1)
        await slow.app.update_queue.join()
        await asyncio.sleep(0.3)  # a few of the leader's recovery rounds (every 0.1 s here)
        assert len(office.inbox) == 1 and "/items" in office.last.text
    finally:
        released.set()  # a failing test must not leave the instance waiting at its stop
        for one in both:
            await inst.stop(one)


async def test_two_instances_send_at_one_pace_with_no_429(db, clock, tmp_path):
    """Both run their sender loop; only the leader sends, within Telegram's 30/s (emulator's limits on)."""
    pg_only(db)
    limited = Emulator(token="123456:TEST-TOKEN-e2e", bot_username="duban_test_bot", limits=FloodLimits())
    people = [limited.person(f"收件人{i:03d}") for i in range(75)]
    async with db.session(Actor.system("test"), "test.setup") as s:
        rows = [Person(name=p.name, telegram_id=p.id, created_at=clock.now()) for p in people]
        s.add_all(rows)
        await s.flush()
        for row in rows:
            await enqueue(s, row, f"通知：{row.name}", now=clock.now())
    both = [await inst.start(name, db.url, limited, clock, tmp_path / "files", heartbeat_seconds=1.0) for name in "AB"]
    try:
        for one in both:
            one.run_sender(Pacing())  # the production budget: 29/s overall
        async def all_sent() -> bool:
            async with db.session() as s:
                return await s.scalar(select(func.count()).select_from(OutboxMessage)
                                      .where(OutboxMessage.status != "sent")) == 0
        for _ in range(400):
            if await all_sent():
                break
            await asyncio.sleep(0.05)
        leader = next(one for one in both if one.leadership.is_leader)
        async with db.session() as s:
            senders = set((await s.scalars(select(OutboxMessage.claimed_by))).all())
    finally:
        for one in both:
            await inst.stop(one)
    assert await all_sent()
    assert limited.stats.rate_limited == 0 and limited.stats.calls["sendMessage"] == len(people)
    assert senders == {leader.sender.token}


async def test_two_instances_record_one_update_once(db, clock, emu):
    pg_only(db)
    second = Database(db.url, now=clock.now)
    try:
        person = emu.person("王敏")
        raw = await emu.user_sends(person.id, "/help")
        update = Update.de_json(emu.pending_updates[-1], None)
        assert raw is not None
        results = await asyncio.gather(*(Inbox(d).record(update) for d in (db, second, db, second)))
    finally:
        await second.dispose()
    assert sorted(results) == [False, False, False, True]


async def test_two_instances_record_overlapping_batches_each_update_once(db, clock):
    """Polling batches (one INSERT each, ``ON CONFLICT DO NOTHING``) from two connections at once."""
    pg_only(db)
    from store import inbox as store_inbox

    second = Database(db.url, now=clock.now)
    batches = [[(i, "{}") for i in range(1, 41)], [(i, "{}") for i in range(21, 61)]]

    async def record(database: Database, batch: list) -> set[int]:  # noqa: ANN001
        async with database.autocommit.begin() as conn:
            return await store_inbox.record_many(conn, batch, clock.now())

    try:
        first_new, second_new = await asyncio.gather(record(db, batches[0]), record(second, batches[1]))
    finally:
        await second.dispose()
    assert first_new | second_new == set(range(1, 61)) and not first_new & second_new


def test_a_second_process_on_one_sqlite_file_is_refused(tmp_path):
    path = tmp_path / "duban.sqlite3"
    config = tmp_path / "config.toml"
    config.write_text(f'[telegram]\ntoken = "123456:TEST"\n[database]\nurl = "sqlite:///{path}"\n'
                      f'[storage]\nfiles_dir = "{tmp_path / "files"}"\n', encoding="utf-8")
    held = single.hold(str(path))  # the first bot process
    try:
        done = subprocess.run([sys.executable, "-m", "bot", "run", "--config", str(config)],
                              capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2],
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    finally:
        single.release(held)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"启动失败：SQLite 数据库文件 {path.resolve()} 已由另一个机器人进程使用（进程号 {os.getpid()}）。"
        "同一个 SQLite 文件只能由一个进程运行；如需同时运行多个实例，请改用 PostgreSQL。"]
