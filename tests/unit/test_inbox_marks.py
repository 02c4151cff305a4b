"""The inbox's getUpdates recording and its grouped marks.

A getUpdates batch is written before PTB reads it, and parsed once for both.

The grouped marks: a mark taken for writing is written before the queue counts as done.

During a burst, marks wait ``MARK_DELAY`` for others and a timer task writes them. The last update
of the burst writes its own mark at once; it must not report the burst finished while the timer's
group is still on its way to the database (a test or a stop reading "handled" then finds rows
missing), and a stop must not cancel that write half-way (those updates would be answered again
after a restart).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from sqlalchemy import select
from telegram.request import BaseRequest

from bot.runtime import inbox as inbox_module
from bot.runtime.inbox import Inbox, RecordingRequest
from store import inbox as store_inbox
from store.models import InboxUpdate


@dataclass
class SlowMarks:
    """The first mark write waits for ``release`` (a database slow to answer)."""

    held: list[int] = field(default_factory=list)
    writing: asyncio.Event = field(default_factory=asyncio.Event)  # the held write has begun
    release: asyncio.Event = field(default_factory=asyncio.Event)


def _slow_marks(monkeypatch) -> SlowMarks:
    slow = SlowMarks()
    real = store_inbox.mark_handled

    async def mark_handled(s, ids, now):
        if not slow.writing.is_set():
            slow.held = list(ids)
            slow.writing.set()
            await slow.release.wait()
        await real(s, ids, now)

    monkeypatch.setattr(store_inbox, "mark_handled", mark_handled)
    monkeypatch.setattr(inbox_module, "MARK_DELAY", 0)
    return slow


async def _received(db, ids: list[int]) -> None:
    async with db.autocommit.begin() as conn:
        await store_inbox.record_many(conn, [(i, json.dumps({"update_id": i})) for i in ids], db.now())


async def _handled(db) -> set[int]:
    async with db.session() as s:
        return set(await s.scalars(select(InboxUpdate.update_id).where(InboxUpdate.status == "handled")))


async def test_the_last_update_of_a_burst_returns_only_when_every_mark_is_written(db, monkeypatch):
    inbox = Inbox(db)
    await _received(db, [1, 2, 3])
    slow = _slow_marks(monkeypatch)
    await inbox.handled(1, more_waiting=True)
    await inbox.handled(2, more_waiting=True)
    async with asyncio.timeout(10):
        await slow.writing.wait()
    assert slow.held == [1, 2]  # the timer took 1 and 2 and waits on the database
    last = asyncio.create_task(inbox.handled(3, more_waiting=False))
    # The queue is empty now, but 1 and 2 are not in the database: the last mark must wait. (A
    # bounded wait: on a slow machine the old behaviour could go unnoticed, never the reverse.)
    done, _ = await asyncio.wait({last}, timeout=0.3)
    assert not done
    slow.release.set()
    await last
    assert await _handled(db) == {1, 2, 3}


async def test_a_stop_while_held_marks_are_written_keeps_them(db, monkeypatch):
    inbox = Inbox(db)
    await _received(db, [1, 2])
    slow = _slow_marks(monkeypatch)
    await inbox.handled(1, more_waiting=True)
    async with asyncio.timeout(10):
        await slow.writing.wait()
    await inbox.handled(2, more_waiting=True)  # held for the next group
    closing = asyncio.create_task(inbox.close())  # the Application stops while 1 is being written
    await asyncio.sleep(0)
    slow.release.set()
    await closing
    assert await _handled(db) == {1, 2}


class _Transport(BaseRequest):
    """Answers every call with ``body``: what Telegram's getUpdates would send."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(self, url, method, request_data=None, **timeouts) -> tuple[int, bytes]:
        return 200, self.body


async def test_a_batch_is_written_before_ptb_reads_it_and_parsed_once(db, monkeypatch):
    batch = [{"update_id": 41, "message": {"text": "你好"}}, {"update_id": 42, "message": {"text": "/help"}}]
    body = json.dumps({"ok": True, "result": batch}, ensure_ascii=False).encode()
    request = RecordingRequest(_Transport(body), Inbox(db))
    parses = []
    real_loads = json.loads
    monkeypatch.setattr(json, "loads", lambda s, *a, **k: parses.append(s) or real_loads(s, *a, **k))
    # what PTB's Bot does for getUpdates: post, which calls do_request and then parse_json_payload
    assert await request.post("https://api.telegram.org/bot1:x/getUpdates") == batch
    assert len(parses) == 1
    async with db.session() as s:
        rows = (
            await s.execute(select(InboxUpdate.update_id, InboxUpdate.payload).order_by(InboxUpdate.update_id))
        ).all()
    assert [(i, real_loads(p)) for i, p in rows] == [(41, batch[0]), (42, batch[1])]
    # any other answer is parsed by PTB's own reader, as before
    request._inner = _Transport(b'{"ok": true, "result": true}')
    assert await request.post("https://api.telegram.org/bot1:x/deleteWebhook") is True
