"""The durable inbox: every update is in the database before it is handled.

PTB confirms updates to Telegram too early for a crash: the Updater advances the getUpdates
offset as soon as a batch is in the Application's queue, and a webhook answers 200 as soon as
the update is queued — both before any handler ran. So every update is written first:

* polling: ``RecordingRequest`` wraps the getUpdates transport and writes the whole batch in one
  INSERT before PTB even parses it (and hands PTB the batch it parsed); PTB confirms a batch with
  its *next* getUpdates call, which it cannot make before this one returned, so Telegram is only
  ever told "received" about updates the database holds;
* anything else (a webhook, a test) goes through ``InboxQueue.put``, which writes the update
  itself (one INSERT) before queueing it.

``InboxApplication`` marks updates handled afterwards: at once when nothing else waits in the
queue (one UPDATE, the usual case); while more wait (a burst), the marks of the updates handled
within ``MARK_DELAY`` are written together, in one UPDATE, by a task that runs beside the next
update (at most ``MARK_BATCH`` held). ``recover_inbox`` queues at start-up what a crash left
unfinished, before polling starts.

What this guarantees: nothing received is lost; an update Telegram delivers again (it resends
unconfirmed ones after a restart) is dropped, because its id is known; an update is handled at
most twice: after a crash the update being handled is handled again, and so are the ones
answered within the last ``MARK_DELAY`` before it whose mark was still held (during a burst only;
when an update takes longer than that, as with a slow link to Telegram, its mark is written while
the next is handled) — a repeated answer is better than a lost one. An instance in an election
(issue 14) sets ``Inbox.mark_batch`` to 1: a killed leader repeats at most one update. A row
re-queued once and still not finished is abandoned and logged (a poison update must not crash
every restart).

Several instances (issue 14): only the instance that polls may call ``recover_inbox``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from telegram._utils.types import JSONDict, ODVInput  # the types PTB gives these parameters

import asyncio
import itertools
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

from bot.kernel.logs import LoggedApplication
from store import inbox as store_inbox
from store.db import Database

log = logging.getLogger("duban.inbox")

KEEP = timedelta(days=7)  # Telegram keeps unconfirmed updates 24 h; a week is ample for "known"
PRUNE_EVERY = timedelta(hours=1)
MARK_BATCH = 16  # marks held at most during a burst
MARK_DELAY = 0.01  # seconds a held mark waits for others before it is written
_DB_ERRORS = (SQLAlchemyError, OSError)


class Inbox:
    def __init__(self, db: Database, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.db = db
        self._sleep = sleep  # tests pass a fake: a database outage is waited out, not slept through
        self._pruned_at: datetime | None = None
        # Several instances (issue 14) set 1: a killed leader then repeats at most one update.
        self.mark_batch = MARK_BATCH
        # Several instances on PostgreSQL: this process's instance key, written on each row it
        # receives (``bot.runtime.leader.PgLeadership.instance_key``).
        self.receiver: int | None = None
        # update_id -> new? for the updates of the last getUpdates batch, written already
        self.recorded: dict[int, bool] = {}
        self._handled: list[int] = []  # handled, not yet marked (a burst)
        self._later: asyncio.Task | None = None
        # One mark write at a time: a flush returns only once every mark taken before it is
        # written, so when the queue runs empty (or the Application stops) all are in the database.
        self._marking = asyncio.Lock()

    async def _write(self, what: str, write: Callable[[], Awaitable[object]]) -> object:
        """Run ``write`` until it succeeds; waits while the database is down.

        Waiting is safe: until the update is written, the Updater does not confirm the batch (or
        the webhook does not answer), so Telegram keeps the update and sends it again.
        """
        delay, failing = 1.0, False
        while True:
            try:
                result = await write()
            except _DB_ERRORS as exc:
                if not failing:  # once per outage, not once per retry
                    log.error("event=inbox_unavailable update_id=%s error=%s", what, type(exc).__name__)
                failing = True
                await self._sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            if failing:
                log.warning("event=inbox_available update_id=%s", what)
            return result

    async def record(self, update: Update) -> bool:
        """Write the update; False when it is known already. Waits while the database is down."""
        known = self.recorded.pop(update.update_id, None)
        if known is not None:  # written with its getUpdates batch
            return known
        payload = json.dumps(update.to_dict(), ensure_ascii=False, separators=(",", ":"))

        async def write() -> bool:
            # A plain connection, not an ORM session: this runs for every update.
            async with self.db.autocommit.begin() as conn:
                return await store_inbox.record(conn, update.update_id, payload, self.db.now(), self.receiver)

        return bool(await self._write(str(update.update_id), write))

    async def record_batch(self, updates: list[dict]) -> None:
        """Write a getUpdates batch (Telegram's own JSON) in one INSERT, before PTB parses it."""
        rows = [
            (u["update_id"], json.dumps(u, ensure_ascii=False, separators=(",", ":")))
            for u in updates
            if isinstance(u, dict) and isinstance(u.get("update_id"), int)
        ]
        self.recorded.clear()  # the previous batch is queued by now (or was not parseable)
        if not rows:
            return

        async def write() -> set[int]:
            async with self.db.autocommit.begin() as conn:
                return await store_inbox.record_many(conn, rows, self.db.now(), self.receiver)

        new = await self._write(f"{rows[0][0]}..{rows[-1][0]}", write)
        self.recorded.update((i, i in new) for i, _ in rows)  # type: ignore[operator]

    async def handled(self, update_id: int, more_waiting: bool) -> None:
        """Mark handled: now, or — while more updates wait and few marks are held — within MARK_DELAY."""
        self._handled.append(update_id)
        if not more_waiting or len(self._handled) >= self.mark_batch:
            await self.flush()
        elif self._later is None or self._later.done():
            self._later = asyncio.create_task(self._flush_later(), name="inbox:marks")

    async def _flush_later(self) -> None:
        await asyncio.sleep(MARK_DELAY)
        # Shielded: a stop that cancels this task while it writes must not lose the marks it took.
        await asyncio.shield(self.flush())

    async def close(self) -> None:
        """Write the marks still held (the Application stops)."""
        if self._later is not None and not self._later.done():
            self._later.cancel()
        await self.flush()

    async def flush(self) -> None:
        async with self._marking:
            ids, self._handled = self._handled, []  # taken with the lock held: no mark written twice
            if not ids:
                return
            now = self.db.now()
            try:
                await store_inbox.mark_handled(self.db, ids, now)
                if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
                    self._pruned_at = now
                    async with self.db.autocommit.begin() as s:
                        await store_inbox.prune(s, now, KEEP)
            except _DB_ERRORS as exc:  # the answers went out; a restart would at worst repeat them once
                log.error("event=inbox_mark_failed update_ids=%s error=%s", ",".join(map(str, ids)), type(exc).__name__)

    async def mark_handled(self, update_id: int) -> None:
        await self.handled(update_id, more_waiting=False)

    async def take_unhandled(self) -> list[str]:
        now = self.db.now()
        async with self.db.session() as s:
            payloads, abandoned = await store_inbox.take_unhandled(s, now)
            await store_inbox.prune(s, now, KEEP)
        self._pruned_at = now
        for update_id in abandoned:
            log.warning("event=inbox_abandoned update_id=%s reason=unfinished_after_retry", update_id)
        return payloads


class RecordingRequest(BaseRequest):
    """The getUpdates transport, writing each batch to the inbox before PTB sees it."""

    def __init__(self, inner: BaseRequest, inbox: Inbox) -> None:
        self._inner = inner
        self.inbox = inbox
        self._parsed: tuple[bytes, object] | None = None  # the last batch, parsed here, for PTB

    @property
    def read_timeout(self) -> float | None:
        return self._inner.read_timeout

    async def initialize(self) -> None:
        await self._inner.initialize()

    async def shutdown(self) -> None:
        await self._inner.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        status, payload = await self._inner.do_request(
            url,
            method,
            request_data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )
        self._parsed = None
        if status == 200 and url.endswith("/getUpdates"):
            try:
                body = json.loads(payload.decode("utf-8", "replace"))  # as PTB's parse_json_payload reads it
            except ValueError:
                return status, payload  # PTB reports it; nothing of it will be queued
            if isinstance(body, dict) and body.get("ok") and isinstance(body.get("result"), list):
                await self.inbox.record_batch(body["result"])
            self._parsed = (payload, body)
        return status, payload

    def parse_json_payload(self, payload: bytes) -> JSONDict:  # type: ignore[override]  # PTB's is static
        """PTB parses the answer it just got from ``do_request``: a batch parsed there is not parsed twice."""
        parsed, self._parsed = self._parsed, None
        if parsed is not None and parsed[0] is payload:
            return parsed[1]  # type: ignore[return-value]
        return BaseRequest.parse_json_payload(payload)


class InboxQueue(asyncio.Queue):
    """The Application's update queue; ``put`` (Updater and webhook alike) records first."""

    def __init__(self) -> None:
        super().__init__()
        self.inbox: Inbox | None = None
        self.updates_waiting = 0  # Updates only: PTB's stop signal does not count

    def _put(self, item: object) -> None:
        if isinstance(item, Update):
            self.updates_waiting += 1
        super()._put(item)

    def _get(self) -> object:
        item = super()._get()
        if isinstance(item, Update):
            self.updates_waiting -= 1
        return item

    async def put(self, item: object) -> None:
        if self.inbox is not None and isinstance(item, Update):
            if not await self.inbox.record(item):
                log.info("event=update_known update_id=%s", item.update_id)  # a redelivery
                return
        await super().put(item)

    def senders_waiting(self, limit: int) -> list[int]:
        """The senders of the first ``limit`` updates waiting (``bot.runtime.senders``)."""
        return [
            item.effective_user.id
            for item in itertools.islice(self._queue, limit)  # type: ignore[attr-defined]
            if isinstance(item, Update) and item.effective_user is not None
        ]

    async def requeue(self, item: object) -> None:
        """Queue an update the inbox holds already (start-up recovery)."""
        await super().put(item)


class InboxApplication(LoggedApplication):
    """Marks each update handled once its handlers ran (also when they failed: no replay)."""

    inbox: Inbox | None = None

    async def process_update(self, update: object) -> None:
        try:
            await super().process_update(update)
        except Exception:
            await self._done(update)
            raise
        await self._done(update)  # not on cancellation: an interrupted update stays unfinished

    async def _done(self, update: object) -> None:
        if self.inbox is not None and isinstance(update, Update):
            queue = self.update_queue
            waiting = isinstance(queue, InboxQueue) and queue.updates_waiting > 0
            await self.inbox.handled(update.update_id, more_waiting=waiting)

    async def stop(self) -> None:
        await super().stop()
        if self.inbox is not None:
            await self.inbox.close()  # marks held for a burst the stop cut short


def attach_inbox(app: Application, db: Database) -> Inbox:
    inbox = Inbox(db)
    app.inbox = inbox  # type: ignore[attr-defined]
    app.update_queue.inbox = inbox  # type: ignore[attr-defined]
    # PTB keeps (getUpdates' transport, everything else's) in Bot._request; the first records.
    get_updates_request, request = app.bot._request  # noqa: SLF001
    app.bot._request = (RecordingRequest(get_updates_request, inbox), request)  # noqa: SLF001
    return inbox


async def recover_inbox(app: Application) -> int:
    """Before polling starts: queue, oldest first, the updates a crash left unfinished."""
    inbox: Inbox | None = getattr(app, "inbox", None)
    if inbox is None:
        return 0
    payloads = await inbox.take_unhandled()
    for payload in payloads:
        await app.update_queue.requeue(Update.de_json(json.loads(payload), app.bot))  # type: ignore[attr-defined]
    if payloads:
        log.warning("event=inbox_recovered count=%d", len(payloads))
    return len(payloads)
