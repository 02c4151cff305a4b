"""The outbox sender against the emulator: every message delivered or visibly failed, none lost."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from telegram.ext import ExtBot

from bot.emulator import Emulator
from bot.emulator.ptb_request import EmulatorRequest
from bot.outbox.queue import Button, enqueue
from bot.outbox.sender import Pacing, Sender
from store.models import OutboxMessage, Person


@pytest.fixture
async def setup(db, clock):
    emu = Emulator(token="123456:TEST-TOKEN-sender", bot_username="duban_test_bot", limits=None)
    bot = ExtBot(emu.token, request=EmulatorRequest(emu), get_updates_request=EmulatorRequest(emu))
    await bot.initialize()
    sender = Sender(db, bot, clock, pacing=Pacing(overall_per_second=10_000, per_chat_burst=10_000))
    yield emu, sender
    await bot.shutdown()
    assert emu.violations == []


async def people(db, clock, emu, n: int) -> list[tuple[Person, object]]:
    out = []
    async with db.session() as s:
        for i in range(n):
            user = emu.person(f"联络员{i}")
            p = Person(name=f"联络员{i}", telegram_id=user.id, created_at=clock.now(), role_rows=[], unit=None)
            s.add(p)
            out.append((p, user))
    return out


async def queue(db, clock, person, text, **kw):
    async with db.session() as s:
        return await enqueue(s, await s.get(Person, person.id), text, now=clock.now(), **kw)


async def rows(db) -> list[OutboxMessage]:
    async with db.session() as s:
        return list((await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def test_messages_are_delivered_with_buttons_and_recorded(db, clock, setup):
    emu, sender = setup
    (p, user), = await people(db, clock, emu, 1)
    await queue(db, clock, p, "<b>督办通知</b>：请签收", buttons=[[Button("签收", "a:ack:1")]])
    assert await sender.drain_all() == 1
    assert user.last.text == "督办通知：请签收" and user.last.buttons == ["签收"]
    (row,) = await rows(db)
    assert row.status == "sent" and row.telegram_message_id == user.last.message_id and row.sent_at == clock.now()


async def test_dedupe_key_queues_once(db, clock, setup):
    emu, sender = setup
    (p, user), = await people(db, clock, emu, 1)
    assert await queue(db, clock, p, "提醒", dedupe_key="remind:1:2026-03-10") is not None
    assert await queue(db, clock, p, "提醒", dedupe_key="remind:1:2026-03-10") is None
    await sender.drain_all()
    assert [m.text for m in user.inbox] == ["提醒"]


async def test_429_waits_retry_after_then_delivers(db, clock, setup):
    emu, sender = setup
    (p, user), = await people(db, clock, emu, 1)
    emu.faults.add("rate_limit", method="sendMessage", retry_after=7)
    await queue(db, clock, p, "提醒")
    await sender.drain_all()
    (row,) = await rows(db)
    assert row.status == "pending" and row.next_attempt_at == clock.now() + timedelta(seconds=7)
    assert user.inbox == []
    clock.advance(seconds=6)
    assert await sender.drain() == 0
    clock.advance(seconds=1)
    await sender.drain_all()
    assert [m.text for m in user.inbox] == ["提醒"] and (await rows(db))[0].status == "sent"


async def test_server_errors_back_off_and_end_visibly_failed(db, clock, setup):
    emu, sender = setup
    (p, user), = await people(db, clock, emu, 1)
    emu.faults.add("server_error", method="sendMessage", times=100)
    await queue(db, clock, p, "提醒")
    for _ in range(10):
        await sender.drain_all()
        clock.advance(hours=1)
    (row,) = await rows(db)
    assert row.status == "failed" and row.last_error == "NetworkError: Bad Gateway"
    assert user.inbox == []


async def test_blocked_user_is_marked_unreachable_and_office_hook_runs_once(db, clock, setup):
    emu, sender = setup
    (p, user), = await people(db, clock, emu, 1)
    told = []

    async def tell_office(session, person, now):
        told.append(person.name)

    sender.on_unreachable = tell_office
    await emu.user_blocks(user.id)  # no app is polling here, so no settle
    await queue(db, clock, p, "第一条")
    await queue(db, clock, p, "第二条")
    await sender.drain_all()
    assert [r.status for r in await rows(db)] == ["unreachable", "unreachable"]
    assert told == ["联络员0"]
    async with db.session() as s:
        assert (await s.get(Person, p.id)).unreachable_since == clock.now()
    assert (await queue(db, clock, p, "第三条")).status == "unreachable"


@pytest.mark.parametrize("delivered", [False, True])
async def test_ambiguous_timeout_is_resent_at_most_one_duplicate(db, clock, setup, delivered):
    emu, sender = setup
    (p, user), = await people(db, clock, emu, 1)
    emu.faults.add("timeout", method="sendMessage", delivered=delivered)
    await queue(db, clock, p, "提醒")
    await sender.drain_all()
    clock.advance(seconds=5)
    await sender.drain_all()
    texts = [m.text for m in user.inbox]
    assert texts == (["提醒", "提醒"] if delivered else ["提醒"])
    assert (await rows(db))[0].status == "sent"


async def test_a_crash_mid_send_loses_nothing(db, clock, setup):
    emu, sender = setup
    pairs = await people(db, clock, emu, 3)
    for p, _ in pairs:
        await queue(db, clock, p, f"给{p.name}")
    # A sender claimed all three and died before sending.
    async with db.session() as s:
        await s.execute(update(OutboxMessage).values(status="sending", claimed_by="dead", claimed_at=clock.now()))
    assert await sender.drain() == 0  # a fresh claim is respected: the other sender may be alive
    clock.advance(minutes=3)
    await sender.drain_all()
    assert all([m.text for m in user.inbox] == [f"给{p.name}"] for p, user in pairs)


async def test_two_concurrent_drains_never_send_a_row_twice(db, clock, setup):
    emu, sender = setup
    pairs = await people(db, clock, emu, 40)
    for p, _ in pairs:
        await queue(db, clock, p, f"给{p.name}")
    other = Sender(db, sender.bot, clock, pacing=sender.pacing)
    await asyncio.gather(sender.drain_all(), other.drain_all(), sender.drain_all())
    assert all(len(user.inbox) == 1 for _, user in pairs)
    assert {r.status for r in await rows(db)} == {"sent"}


# --- pacing against Telegram's limits (issue 11): a fake monotonic clock, nothing sleeps --------


class Stamped(EmulatorRequest):
    """Notes the (fake) time at which the emulator accepted each message, per chat."""

    def __init__(self, emulator, clock) -> None:  # noqa: ANN001
        super().__init__(emulator)
        self.clock, self.accepted = clock, []

    async def do_request(self, url, method, request_data=None, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        status, body = await super().do_request(url, method, request_data, *args, **kwargs)
        if url.endswith("/sendMessage") and status == 200:
            self.accepted.append((self.clock(), int(request_data.json_parameters["chat_id"])))
        return status, body


@pytest.fixture
async def limited(db, clock):
    """The emulator with Telegram's limits on; the sender's pacing and the emulator share one fake
    monotonic clock, and the pacing's waits move it (and the bot's FakeClock) instead of sleeping."""
    from bot.emulator import FloodLimits
    from bot.emulator.limits import FakeClock as Monotonic

    mono = Monotonic()
    emu = Emulator(token="123456:TEST-TOKEN-sender", bot_username="duban_test_bot", limits=FloodLimits(), clock=mono)
    transport = Stamped(emu, mono)
    bot = ExtBot(emu.token, request=transport)
    await bot.initialize()

    async def wait(seconds: float) -> None:
        mono.advance(seconds)
        clock.advance(seconds=seconds)

    sender = Sender(db, bot, clock, pacing=Pacing(clock=mono, sleep=wait))
    yield emu, sender, transport
    await bot.shutdown()
    assert emu.violations == []


async def test_a_chat_waiting_for_its_slot_never_delays_the_others_and_no_429(db, clock, limited):
    emu, sender, transport = limited
    pairs = await people(db, clock, emu, 41)
    (busy, busy_user), others = pairs[0], pairs[1:]
    for i in range(6):  # queued first: the worst place for a busy chat
        await queue(db, clock, busy, f"第{i}条")
    for p, _ in others:
        await queue(db, clock, p, "通知")
    await sender.drain_all()
    assert emu.stats.rate_limited == 0
    assert len(busy_user.inbox) == 6 and all(len(u.inbox) == 1 for _, u in others)
    busy_times = [t for t, chat in transport.accepted if chat == busy_user.id]
    other_times = [t for t, chat in transport.accepted if chat != busy_user.id]
    assert max(other_times) < busy_times[2]  # 40 chats went while the busy one waited its slots
    assert all(b - a >= 1.0 for a, b in zip(busy_times, busy_times[1:]))  # 1/s, with the margin
    overall = sorted(busy_times + other_times)
    assert len(overall) / (overall[-1] - overall[0]) <= 30


async def test_after_a_429_only_that_chat_waits(db, clock, limited):
    emu, sender, transport = limited
    pairs = await people(db, clock, emu, 4)
    (busy, busy_user), others = pairs[0], pairs[1:]
    emu.faults.add("rate_limit", method="sendMessage", chat_id=busy_user.id, retry_after=5)
    for _ in range(2):
        await queue(db, clock, busy, "提醒")
    for p, _ in others:
        await queue(db, clock, p, "通知")
    await sender.drain_all()
    assert busy_user.inbox == [] and all(len(u.inbox) == 1 for _, u in others)
    async with db.session() as s:
        waiting = (await s.scalars(select(OutboxMessage.next_attempt_at).where(
            OutboxMessage.chat_id == busy_user.id))).all()
    assert len(waiting) == 2 and min(waiting) >= clock.now() + timedelta(seconds=4)  # both rows of that chat wait
    clock.advance(seconds=5)
    await sender.drain_all()
    assert [m.text for m in busy_user.inbox] == ["提醒", "提醒"] and emu.stats.rate_limited == 1
