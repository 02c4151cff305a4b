"""The durable inbox under a burst: one INSERT per getUpdates batch, marks grouped, nothing lost.

Updates that wait at Telegram when the bot starts arrive in one getUpdates batch. The batch is
written in one INSERT before PTB parses it (so before it can confirm it); handled updates are
marked together while more wait in the queue, at most ``MARK_BATCH`` at a time, and the last at
once when the queue runs empty.
"""

from __future__ import annotations

import json
import math

from sqlalchemy import event, func, select
from telegram import Update

from bot.runtime import inbox as inbox_module
from bot.runtime.inbox import MARK_BATCH
from store.models import InboxUpdate
from tests.e2e.startup_helpers import build, start

N = 40


async def count(db, status: str) -> int:
    async with db.session() as s:
        return await s.scalar(select(func.count()).select_from(InboxUpdate).where(InboxUpdate.status == status))


async def test_a_burst_is_written_in_one_insert_and_marked_in_groups(emu, db, clock, tmp_path, monkeypatch):
    # Marks wait for others only while the queue holds updates, MARK_DELAY at most: made long here,
    # so the groups depend on the queue alone, not on how fast this machine answers.
    monkeypatch.setattr(inbox_module, "MARK_DELAY", 3600.0)
    people = [emu.person(f"用户{i}") for i in range(N)]
    for p in people:  # all waiting at Telegram: the first getUpdates fetches them together
        await emu.user_sends(p.id, "/help")
    statements: list[str] = []

    def listen(_conn, _cursor, statement, *_args) -> None:
        if statement.startswith("INSERT INTO inbox"):
            statements.append("INSERT")
        elif statement.startswith("UPDATE inbox") and "update_id IN" in statement:  # marks, not recovery
            statements.append("MARK")

    for engine in db.sync_engines:
        event.listen(engine, "before_cursor_execute", listen)
    app = build(emu, db, clock, tmp_path)
    try:
        await start(app)
        await emu.settle()
    finally:
        for engine in db.sync_engines:
            event.remove(engine, "before_cursor_execute", listen)
    assert [len(p.inbox) for p in people] == [1] * N  # each answered once
    assert await count(db, "handled") == N
    assert statements.count("INSERT") == 1
    # at most MARK_BATCH per UPDATE while the queue still held updates, and the last ones at once
    assert 1 < statements.count("MARK") <= math.ceil(N / MARK_BATCH) + 1
    await app.updater.stop()
    await app.stop()


async def test_a_known_update_in_a_batch_is_dropped_and_the_rest_handled(emu, db, clock, tmp_path):
    first, second = emu.person("张三"), emu.person("李四")
    app = build(emu, db, clock, tmp_path)
    await start(app)
    await first.send("/help")
    async with db.session() as s:
        row = await s.scalar(select(InboxUpdate))
    await app.updater.stop()
    await app.stop()
    # Telegram delivers the handled update again (a restart before it was confirmed), in one
    # batch with a new one: the known one is dropped, the new one answered.
    await emu.user_sends(second.id, "/help")
    emu._pending.insert(0, json.loads(row.payload))
    b = build(emu, db, clock, tmp_path)
    await start(b)
    await emu.settle()
    assert (len(first.inbox), len(second.inbox)) == (1, 1)
    assert await count(db, "handled") == 2
    await b.updater.stop()
    await b.stop()


async def test_a_webhook_style_put_still_records_the_update_itself(harness, db):
    someone = harness.emu.person("王五")
    await someone.send("/help")
    async with db.session() as s:
        row = await s.scalar(select(InboxUpdate))
    update = Update.de_json(json.loads(row.payload), harness.app.bot)
    fresh = Update.de_json({**json.loads(row.payload), "update_id": row.update_id + 1000}, harness.app.bot)
    await harness.app.update_queue.put(update)  # known: dropped
    await harness.app.update_queue.put(fresh)  # not from getUpdates: written by put, then handled
    await harness.settle()
    assert len(someone.inbox) == 2
    assert await count(db, "handled") == 2
    assert fresh.to_dict() == Update.de_json(json.loads(
        await _payload(db, row.update_id + 1000)), harness.app.bot).to_dict()


async def _payload(db, update_id: int) -> str:
    async with db.session() as s:
        return await s.scalar(select(InboxUpdate.payload).where(InboxUpdate.update_id == update_id))
