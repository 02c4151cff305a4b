"""The sender under faults: kills mid-broadcast (also with latency to Telegram), injected 5xx and
timeouts, a chat that always times out, a busy or read-only database, and the office's paged
/outbox. Time is the FakeClock's; the only real waiting is the injected network latency."""

from __future__ import annotations

import asyncio
import gc
import logging
import random
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from telegram.ext import ExtBot
from telegram.request import RequestData

from bot.domain.urging import undelivered
from bot.emulator import Emulator
from bot.emulator.ptb_request import EmulatorRequest
from bot.outbox.queue import enqueue
from bot.outbox.pacing import Pacing
from bot.outbox.sender import BACKOFF_SECONDS, STALE_CLAIM, Sender
from store.audit import Actor
from store.models import OutboxMessage, Person, PersonRole

FAST = dict(overall_per_second=1e6, per_chat_burst=10**6)  # the emulator's limits are off here


class Wire(EmulatorRequest):
    """The in-process transport with latency each way and a kill switch: ``kill_at`` (the n-th
    message Telegram accepts) cancels the sending task right after Telegram performed the call
    and before the answer is back — the ambiguous moment of a kill -9."""

    def __init__(self, emulator: Emulator, latency: float = 0.0) -> None:
        super().__init__(emulator)
        self.latency = latency
        self.accepted = 0
        self.kill_at: int | None = None
        self.stop_on_answer = False  # cancel the victim as the answer arrives, without a pause
        self.victim: asyncio.Task | None = None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         *args, **kwargs) -> tuple[int, bytes]:  # noqa: ANN002, ANN003
        if self.latency:
            await asyncio.sleep(self.latency / 2)
        status, body = await super().do_request(url, method, request_data, *args, **kwargs)
        if url.endswith("/sendMessage") and status == 200:
            self.accepted += 1
            if self.kill_at is not None and self.accepted >= self.kill_at and self.victim is not None:
                self.kill_at = None
                self.victim.cancel()
                await asyncio.sleep(0)  # the cancellation lands here: the answer never arrives
        if self.latency:
            await asyncio.sleep(self.latency / 2)
        if self.stop_on_answer and self.victim is not None:
            self.stop_on_answer = False
            self.victim.cancel()  # the answer is back in the same step: the call completes too
        return status, body


@pytest.fixture
async def wire(emu):
    transport = Wire(emu)
    bot = ExtBot(emu.token, request=transport)
    await bot.initialize()
    yield transport, bot
    await bot.shutdown()


async def make_people(db, clock, emu, n: int, role: str | None = None, bound: bool = True, prefix="联络员"):
    out = []
    async with db.session(Actor.system("test"), "test.setup") as s:
        for i in range(n):
            user = emu.person(f"{prefix}{i}")
            p = Person(name=f"{prefix}{i}", telegram_id=user.id if bound else None, created_at=clock.now())
            if role:
                p.role_rows.append(PersonRole(role=role))
            s.add(p)
            out.append((p, user))
    return out


async def broadcast(db, clock, pairs, text="<b>督办通知</b>：全县安全生产大检查", **kw) -> None:
    async with db.session() as s:
        for p, _ in pairs:
            await enqueue(s, await s.get(Person, p.id), text, now=clock.now(), **kw)


async def statuses(db) -> Counter:
    async with db.session() as s:
        return Counter((await s.scalars(select(OutboxMessage.status))).all())


async def recorded_sent(db) -> int:
    async with db.session() as s:
        return await s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status == "sent")) or 0


def received(pairs, text="督办通知") -> list[int]:
    return [len([m for m in u.inbox if text in (m.text or "")]) for _, u in pairs]


# --- kills -----------------------------------------------------------------------------------

async def recover_as_run_does(sender: Sender) -> None:
    """``Sender.run`` retries the start-up recovery while the database is busy. Here the killed
    sender lives in the same process: its cancelled transaction may hold SQLite's write lock a
    moment longer than a killed process would (the kernel ends that at once)."""
    for _ in range(100):
        try:
            await sender.recover_at_startup()
            return
        except OperationalError:
            gc.collect()
            await asyncio.sleep(0.1)
    await sender.recover_at_startup()


async def _kill_five_times(db, clock, emu, wire, *, latency: float) -> None:
    transport, bot = wire
    pairs = await make_people(db, clock, emu, 300)
    await broadcast(db, clock, pairs)
    rng = random.Random(7)
    transport.latency = latency
    for kill in range(5):
        sender = Sender(db, bot, clock, pacing=Pacing(**FAST))
        task = asyncio.create_task(sender.run(lambda: True))
        transport.victim = task
        if latency:
            # A kill at a random moment: in flight, recording, claiming or between messages.
            await asyncio.sleep(rng.uniform(0.3, 0.8))
            task.cancel()
        else:
            # The worst moment: Telegram performed the send, the answer is lost with the process.
            transport.kill_at = transport.accepted + rng.randint(20, 50)
        with pytest.raises(asyncio.CancelledError):
            await task
        # Whatever the latency, each kill adds at most the one message in flight that arrived
        # without being recorded (the next sender sends it again).
        assert sum(received(pairs)) - await recorded_sent(db) <= kill + 1
        if not db.is_sqlite:  # other instances may be alive: a claim is taken back once stale
            clock.advance(seconds=STALE_CLAIM.total_seconds() + 1)
    transport.latency = 0.0  # the rest of the broadcast need not take the test's time
    restarted = Sender(db, bot, clock, pacing=Pacing(**FAST))
    await recover_as_run_does(restarted)  # what the restarted process does first
    await restarted.drain_all()
    got = received(pairs)
    assert min(got) >= 1, "a message was lost"
    assert sum(got) - len(got) <= 5, f"{sum(got) - len(got)} duplicates after 5 kills"
    assert await statuses(db) == Counter({"sent": 300})


async def test_killed_five_times_mid_broadcast_of_300_none_lost_at_most_one_duplicate_each(db, clock, emu, wire):
    await _kill_five_times(db, clock, emu, wire, latency=0.0)


async def test_killed_five_times_with_100ms_latency_none_lost_at_most_one_duplicate_each(db, clock, emu, wire):
    await _kill_five_times(db, clock, emu, wire, latency=0.1)


async def test_a_sender_stopped_as_telegram_answers_stops(db, clock, emu, wire):
    # Python 3.11's wait_for returns the call's result when the cancel and the answer arrive in
    # one step (cpython gh-86296): the sender went on sending, and a stop waited forever.
    transport, bot = wire
    pairs = await make_people(db, clock, emu, 3)
    await broadcast(db, clock, pairs)
    sender = Sender(db, bot, clock, pacing=Pacing(**FAST))
    task = asyncio.create_task(sender.run(lambda: True))
    transport.victim, transport.stop_on_answer = task, True
    done, _ = await asyncio.wait({task}, timeout=5)
    assert done == {task} and task.cancelled()
    assert sum(received(pairs)) == 1  # the one in flight; the rest wait for the next sender


async def test_a_restart_takes_back_the_dead_senders_claim_at_once(db, clock, emu, wire):
    """SQLite has one owner: at start-up another token's claim belongs to a dead process."""
    if not db.is_sqlite:
        pytest.skip("PostgreSQL: instances share the database; a claim is taken back once stale")
    transport, bot = wire
    pairs = await make_people(db, clock, emu, 3)
    await broadcast(db, clock, pairs)
    dead = Sender(db, bot, clock, pacing=Pacing(**FAST))
    assert await dead._claim_next(set()) is not None  # claimed, then the process died
    sender = Sender(db, bot, clock, pacing=Pacing(**FAST))
    assert await sender.recover_at_startup() == 1
    await sender.drain_all()
    assert received(pairs) == [1, 1, 1]


# --- injected faults -----------------------------------------------------------------------

async def test_ten_percent_faults_nothing_dropped_silently(db, clock, emu, wire):
    transport, bot = wire
    pairs = await make_people(db, clock, emu, 300)
    rng = random.Random(11)
    faulty = rng.sample(pairs, 30)
    permanent = {p.id for p, _ in faulty[:4]}
    for i, (p, user) in enumerate(faulty):
        times = 100 if p.id in permanent else rng.randint(1, 3)
        kind = ("server_error", "timeout")[i % 2]
        extra = {"status": rng.choice((500, 502, 503))} if kind == "server_error" else {"delivered": i % 4 == 1}
        emu.faults.add(kind, method="sendMessage", chat_id=user.id, times=times, **extra)
    await broadcast(db, clock, pairs)
    sender = Sender(db, bot, clock, pacing=Pacing(**FAST))
    for _ in range(len(BACKOFF_SECONDS) + 3):  # through the whole ladder
        await sender.drain_all()
        clock.advance(hours=1)
    async with db.session() as s:
        rows = (await s.execute(select(OutboxMessage.person_id, OutboxMessage.status))).all()
        shown = {u.person_id for u in await undelivered(s, clock.now() - timedelta(days=7))}
    assert {status for _, status in rows} == {"sent", "failed"}  # nothing left pending or sending
    failed = {pid for pid, status in rows if status == "failed"}
    assert failed == permanent and failed <= shown  # every failure is in /outbox
    # Everyone reachable got the message. Of the four that always fail, only faulty[1]'s fault is a
    # timeout after delivery (Telegram sent it, the answer was lost): that one has it, failed or not.
    never = {p.id for (p, _), n in zip(pairs, received(pairs), strict=True) if n == 0}
    assert never == permanent - {faulty[1][0].id}


async def test_a_chat_that_always_times_out_ends_failed_after_the_ladder_and_is_shown(harness):
    h = harness
    (office, office_user), = await make_people(h.db, h.clock, h.emu, 1, role="office", prefix="王敏")
    (liaison, user), = await make_people(h.db, h.clock, h.emu, 1)
    h.emu.faults.add("timeout", method="sendMessage", chat_id=user.id, times=1000)
    await broadcast(h.db, h.clock, [(liaison, user)], text="<b>督办提醒</b>：请报送进展")
    for _ in range(len(BACKOFF_SECONDS) + 3):
        await h.sender.drain_all()
        h.clock.advance(hours=1)
    async with h.db.session() as s:
        (row,) = (await s.scalars(select(OutboxMessage))).all()
    assert row.status == "failed" and row.attempts == len(BACKOFF_SECONDS) + 1 and "timeout" in row.last_error
    await office_user.send("/outbox")
    view = office_user.last
    assert "多次重试仍发送失败" in view.text and "联络员0" in view.text and "督办提醒" in view.text
    assert "重新发送" in view.buttons


async def test_a_send_recorded_while_the_database_is_busy_is_not_sent_again(db, clock, emu, wire):
    transport, bot = wire
    pairs = await make_people(db, clock, emu, 2)
    await broadcast(db, clock, pairs)
    busy = {"left": 3}
    dbapi = db.engine.dialect.dbapi

    def refuse_the_record(conn, cursor, statement, params, context, executemany):  # noqa: ANN001
        if statement.lstrip().upper().startswith("UPDATE OUTBOX SET STATUS") and "sent" in repr(params) \
                and busy["left"] > 0:
            busy["left"] -= 1
            raise dbapi.OperationalError("database is locked")

    waits = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    event.listen(db.engine.sync_engine, "before_cursor_execute", refuse_the_record)
    try:
        sender = Sender(db, bot, clock, pacing=Pacing(**FAST), sleep=no_sleep)
        await sender.drain_all()
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", refuse_the_record)
    assert busy["left"] == 0 and len(waits) == 3 and waits == sorted(waits)  # retried, backing off
    assert await statuses(db) == Counter({"sent": 2})
    clock.advance(minutes=10)  # long past any stale-claim interval
    await Sender(db, bot, clock, pacing=Pacing(**FAST)).drain_all()
    assert received(pairs) == [1, 1]


# --- a read-only or locked database ----------------------------------------------------------

def _read_only(db, on: dict) -> object:
    """Every connection handed out while ``on["ro"]`` refuses writes, as a read-only file would."""

    def checkout(dbapi_conn, record, proxy) -> None:  # noqa: ANN001
        cur = dbapi_conn.cursor()
        if db.is_sqlite:
            cur.execute(f"PRAGMA query_only={'ON' if on['ro'] else 'OFF'}")
        elif on["ro"]:  # the driver opens the transaction the session will use: make it read-only
            cur.execute("SET TRANSACTION READ ONLY")
        cur.close()

    event.listen(db.engine.sync_engine, "checkout", checkout)
    return checkout


async def test_a_read_only_database_is_logged_once_backed_off_and_the_office_told(db, clock, emu, wire, caplog):
    transport, bot = wire
    (office, office_user), = await make_people(db, clock, emu, 1, role="office", prefix="王敏")
    pairs = await make_people(db, clock, emu, 3)
    await broadcast(db, clock, pairs, text="<b>督办提醒</b>：请报送进展")
    state = {"ro": True}
    hook = _read_only(db, state)
    sender = Sender(db, bot, clock, pacing=Pacing(**FAST))
    caplog.set_level(logging.INFO, logger="duban")
    try:
        waits = []
        for _ in range(12):  # 12 passes over ~4 minutes of FakeClock
            waits.append(await sender.step())
            clock.advance(seconds=waits[-1])
        down = [r for r in caplog.records if "db_unavailable" in r.getMessage()]
        assert len(down) == 1 and down[0].exc_info is None and "readonly" in down[0].getMessage()
        assert waits == sorted(waits) and waits[0] < waits[-1] <= 30  # backing off, capped
        assert received(pairs, "督办提醒") == [0, 0, 0]
        state["ro"] = False
        await sender.step()  # the database is back: send, and note what was delayed
        await sender.step()  # tell the office (first in the queue)
        await sender.drain_all()
    finally:
        event.remove(db.engine.sync_engine, "checkout", hook)
    assert len([r for r in caplog.records if "db_recovered" in r.getMessage()]) == 1
    assert received(pairs, "督办提醒") == [1, 1, 1]
    notice = [m.text for m in office_user.inbox if "消息发送曾暂停" in (m.text or "")]
    assert len(notice) == 1 and "只读" in notice[0] and "联络员" in notice[0]


async def test_a_locked_database_holds_the_sender_without_a_traceback_per_try(db, clock, emu, wire, caplog, tmp_path):
    if not db.is_sqlite:
        pytest.skip("SQLite's write lock")
    import sqlite3

    from sqlalchemy.engine import make_url

    transport, bot = wire
    pairs = await make_people(db, clock, emu, 2)
    await broadcast(db, clock, pairs)

    def no_wait(dbapi_conn, record, proxy) -> None:  # noqa: ANN001
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=0")
        cur.close()

    event.listen(db.engine.sync_engine, "checkout", no_wait)
    other = sqlite3.connect(make_url(db.url).database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    caplog.set_level(logging.INFO, logger="duban")
    sender = Sender(db, bot, clock, pacing=Pacing(**FAST))
    try:
        for _ in range(8):
            clock.advance(seconds=await sender.step())
        other.execute("ROLLBACK")
        await sender.step()
    finally:
        other.close()
        event.remove(db.engine.sync_engine, "checkout", no_wait)
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "db_unavailable" in m and "locked" in m]) == 1
    assert not [r for r in caplog.records if r.exc_info]
    assert received(pairs) == [1, 1]


# --- /outbox ---------------------------------------------------------------------------------

async def test_outbox_pages_sixty_unbound_people_every_one_shown(harness):
    h = harness
    (office, office_user), = await make_people(h.db, h.clock, h.emu, 1, role="office", prefix="王敏")
    pairs = await make_people(h.db, h.clock, h.emu, 60, bound=False, prefix="城关镇联络员")
    await broadcast(h.db, h.clock, pairs, text="<b>督办通知</b>：城区主干道破损路面修复，请于3个工作日内报送整改方案")
    await office_user.send("/outbox")
    page = office_user.last
    seen, pages = set(), 0
    while True:
        pages += 1
        assert "尚未绑定账号" in page.text and len(page.html) < 3500
        seen |= {f"城关镇联络员{i}" for i in range(60) if f"城关镇联络员{i}：" in page.text}
        if "下一页" not in page.buttons:
            break
        await office_user.tap("下一页", page)
        page = office_user.last
    assert pages >= 4 and seen == {f"城关镇联络员{i}" for i in range(60)}
    await office_user.tap("上一页", page)
    assert f"第 {pages - 1}/{pages} 页" in office_user.last.text


async def test_outbox_looks_back_from_the_last_try_not_the_day_it_was_written(harness):
    """Written before a long holiday, held until after it, then failing: it is news, and shown."""
    h = harness
    (office, office_user), = await make_people(h.db, h.clock, h.emu, 1, role="office", prefix="王敏")
    (liaison, user), = await make_people(h.db, h.clock, h.emu, 1)
    await broadcast(h.db, h.clock, [(liaison, user)], text="<b>督办提醒</b>：节后报送进展",
                    not_before=h.clock.now() + timedelta(days=9))
    h.emu.faults.add("server_error", method="sendMessage", chat_id=user.id, times=1000)
    h.clock.advance(days=9)
    for _ in range(len(BACKOFF_SECONDS) + 3):
        await h.sender.drain_all()
        h.clock.advance(hours=1)
    await office_user.send("/outbox")
    assert "联络员0" in office_user.last.text and "节后报送进展" in office_user.last.text
