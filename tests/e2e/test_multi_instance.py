"""Two instances on one PostgreSQL: two senders and two sweepers, nothing sent twice.

Each instance has its own engine (its own connections), its own bot and its own process lock,
as two processes would. The sweeps' advisory lock and the sender's SKIP LOCKED claims keep them
apart; the unique round keys make any overlap harmless.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import func, select, text
from telegram.ext import ExtBot

from bot.kernel.config import Settings
from bot.domain import items as items_svc
from bot.domain.workdays import WorkCalendar
from bot.domain.workflow import DeadlineSpec
from bot.kernel.clock import OFFICE_TZ
from bot.emulator.ptb_request import EmulatorRequest
from bot.outbox.sender import Pacing, Sender
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
async def two(db, clock, emu):
    if db.is_sqlite:
        pytest.skip("SQLite: one process owns the sweeps; two instances need PostgreSQL")
    second_db = Database(db.url, now=clock.now)
    bots = [ExtBot(emu.token, request=EmulatorRequest(emu)) for _ in range(2)]
    instances = []
    for database, bot in zip((db, second_db), bots):
        await bot.initialize()
        sender = Sender(database, bot, clock, pacing=Pacing(overall_per_second=10_000, per_chat_burst=10_000))
        instances.append(Services(settings=Settings(), db=database, clock=clock, sender=sender))
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
    assert all(len(r) == 1 for name, r in rounds.items() if name.startswith(("联络员", "负责人")) or name in ("王敏", "李强"))
    digests = Counter(name for name, u in users.items() for m in u.inbox[marks[u.id]:] if "每日督办摘要" in (m.text or ""))
    assert set(digests) == {"王敏", "李强", "赵建国", "陈志远"} and set(digests.values()) == {1}
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(SweepRun)) == len(SWEEPS)
        keys = (await s.execute(select(Reminder.assignment_id, Reminder.person_id, Reminder.level,
                                       Reminder.round_date))).all()
        assert len(keys) == len(set(keys)) and keys
        statuses = Counter((await s.scalars(select(OutboxMessage.status))).all())
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
    forced = await asyncio.gather(*(run_sweep(x, "escalation", now, force=True) for x in (a, b, a, b)))
    assert all(r is None or r.messages == 0 for r in forced)
