"""The durable inbox: updates fetched before a crash are answered after the restart, exactly once.

PTB confirms updates to Telegram before handling them. Here an Application fetches N /help
commands while Telegram is slow (its sendMessage calls are held), is killed (``crash``: nothing
of it runs again), and a fresh Application on the same database answers each command once.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import event, func, select
from telegram import Update

from bot.emulator.ptb_request import EmulatorRequest
from store.models import InboxUpdate
from tests.e2e.startup_helpers import HeldRequest, build, crash, start, until

N = 25


async def rows(db, status: str | None = None) -> int:
    async with db.session() as s:
        query = select(func.count()).select_from(InboxUpdate)
        if status:
            query = query.where(InboxUpdate.status == status)
        return await s.scalar(query)


@pytest.mark.parametrize("confirmed", [True, False], ids=["confirmed-to-telegram", "not-yet-confirmed"])
async def test_updates_in_flight_at_a_crash_are_answered_once_after_the_restart(emu, db, clock, tmp_path,
                                                                                 confirmed):
    people = [emu.person(f"用户{i}") for i in range(N)]
    slow = HeldRequest(EmulatorRequest(emu), lambda method, _params: method == "sendMessage")
    first_poll_done = False

    def hold_polls(method: str, _params: dict) -> bool:
        # "not yet confirmed": killed after fetching, before the next getUpdates confirmed the batch.
        return method == "getUpdates" and first_poll_done and not confirmed

    polls = HeldRequest(EmulatorRequest(emu), hold_polls)
    if not confirmed:  # all N wait at Telegram, so the first getUpdates fetches them in one batch
        for p in people:
            await emu.user_sends(p.id, "/help")
    a = build(emu, db, clock, tmp_path, request=slow, get_updates_request=polls)
    await start(a)
    if confirmed:
        for p in people:
            await emu.user_sends(p.id, "/help")
        await emu.wait_confirmed()  # Telegram considers all N delivered
    first_poll_done = True
    await until(lambda: slow.waiting == 1, "the first /help is being answered")
    await until(lambda: a.update_queue.qsize() == N - 1 or not confirmed and polls.waiting, "all fetched")
    assert await rows(db, "received") == N  # every one is in the database before it is handled

    await crash(a)
    assert all(p.inbox == [] for p in people)  # nobody was answered
    assert (emu._pending == []) is confirmed  # noqa: SLF001 — whether Telegram will resend them

    b = build(emu, db, clock, tmp_path)
    await start(b)
    await emu.settle()
    assert [len(p.inbox) for p in people] == [1] * N  # each answered, once (none lost, none twice)
    assert await rows(db, "handled") == N
    await b.updater.stop()
    await b.stop()


async def test_a_handled_update_is_never_handled_again(harness, db):
    someone = harness.emu.person("张三")
    await someone.send("/help")
    assert len(someone.inbox) == 1
    async with db.session() as s:
        row = await s.scalar(select(InboxUpdate))
    assert row.status == "handled" and row.handled_at is not None
    # Telegram sends it again (as after a crash before it was confirmed): known, so dropped.
    await harness.app.update_queue.put(Update.de_json(json.loads(row.payload), harness.app.bot))
    await harness.settle()
    assert len(someone.inbox) == 1
    assert await rows(db) == 1


async def test_an_update_left_unfinished_twice_is_abandoned_not_retried_forever(emu, db, clock, tmp_path):
    someone = emu.person("张三")
    message = await emu.user_sends(someone.id, "/help")
    payload = {"update_id": 777, "message": message}
    async with db.session() as s:
        s.add(InboxUpdate(update_id=777, payload=json.dumps(payload), status="received", attempts=1,
                          received_at=clock.now()))
    app = build(emu, db, clock, tmp_path)
    await start(app)
    await emu.settle()  # the copy Telegram still holds (update 1) is answered, the stuck one is not
    assert len(someone.inbox) == 1
    async with db.session() as s:
        assert await s.scalar(select(InboxUpdate.status).where(InboxUpdate.update_id == 777)) == "abandoned"
    await app.updater.stop()
    await app.stop()


async def test_old_finished_rows_are_pruned_at_start_up(emu, db, clock, tmp_path):
    from datetime import timedelta

    async with db.session() as s:
        for i, age in enumerate((8, 6)):
            s.add(InboxUpdate(update_id=900 + i, payload="{}", status="handled", attempts=0,
                              received_at=clock.now() - timedelta(days=age),
                              handled_at=clock.now() - timedelta(days=age)))
    app = build(emu, db, clock, tmp_path)
    await start(app)
    async with db.session() as s:
        assert list(await s.scalars(select(InboxUpdate.update_id))) == [901]  # the 8-day-old one is gone
    await app.updater.stop()
    await app.stop()


async def test_each_update_costs_one_insert_and_one_update(harness, db):
    someone = harness.emu.person("张三")
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        if "inbox" in statement:
            statements.append(statement.split(None, 1)[0].upper())

    for engine in db.sync_engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        await someone.send("/help")
    finally:
        for engine in db.sync_engines:
            event.remove(engine, "before_cursor_execute", count)
    assert statements == ["INSERT", "UPDATE"]
    assert len(someone.inbox) == 1
