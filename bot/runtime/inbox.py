"""The durable inbox: every update is in the database before it is handled.

PTB confirms updates to Telegram too early for a crash: the Updater advances the getUpdates
offset as soon as a batch is in the Application's queue, and a webhook answers 200 as soon as
the update is queued — both before any handler ran. ``InboxQueue`` is that queue: its ``put``
writes the update first (one INSERT), so Telegram is only ever told "received" about updates the
database holds. ``InboxApplication`` marks each one handled afterwards (one UPDATE), and
``recover_inbox`` queues at start-up what a crash left unfinished, before polling starts.

What this guarantees: nothing received is lost; an update Telegram delivers again (it resends
unconfirmed ones after a restart) is dropped, because its id is known; an update is handled at
most twice, and only one can be: the one being handled at the moment of the crash (PTB handles
updates one at a time) is handled again after the restart — a repeated answer is better than a
lost one. A row re-queued once and still not finished is abandoned and logged (a poison update
must not crash every restart).

Several instances (issue 14): only the instance that polls may call ``recover_inbox``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.ext import Application

from bot.kernel.logs import LoggedApplication
from store import inbox as store_inbox
from store.db import Database

log = logging.getLogger("duban.inbox")

KEEP = timedelta(days=7)  # Telegram keeps unconfirmed updates 24 h; a week is ample for "known"
PRUNE_EVERY = timedelta(hours=1)
_DB_ERRORS = (SQLAlchemyError, OSError)


class Inbox:
    def __init__(self, db: Database, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.db = db
        self._sleep = sleep  # tests pass a fake: a database outage is waited out, not slept through
        self._pruned_at: datetime | None = None

    async def record(self, update: Update) -> bool:
        """Write the update; False when it is known already. Waits while the database is down.

        Waiting is safe: until this returns, the Updater does not confirm the batch (or the
        webhook does not answer), so Telegram keeps the update and sends it again.
        """
        payload = json.dumps(update.to_dict(), ensure_ascii=False, separators=(",", ":"))
        delay, failing = 1.0, False
        while True:
            try:
                # A plain connection, not an ORM session: this runs for every update.
                async with self.db.engine.begin() as conn:
                    new = await store_inbox.record(conn, update.update_id, payload, self.db.now())
            except _DB_ERRORS as exc:
                if not failing:  # once per outage, not once per retry
                    log.error("event=inbox_unavailable update_id=%s error=%s", update.update_id,
                              type(exc).__name__)
                failing = True
                await self._sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            if failing:
                log.warning("event=inbox_available update_id=%s", update.update_id)
            return new

    async def mark_handled(self, update_id: int) -> None:
        now = self.db.now()
        try:
            async with self.db.engine.begin() as s:
                await store_inbox.mark_handled(s, update_id, now)
                if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
                    self._pruned_at = now
                    await store_inbox.prune(s, now, KEEP)
        except _DB_ERRORS as exc:  # the answer went out; a restart would at worst repeat it once
            log.error("event=inbox_mark_failed update_id=%s error=%s", update_id, type(exc).__name__)

    async def take_unhandled(self) -> list[str]:
        now = self.db.now()
        async with self.db.session() as s:
            payloads, abandoned = await store_inbox.take_unhandled(s, now)
            await store_inbox.prune(s, now, KEEP)
        self._pruned_at = now
        for update_id in abandoned:
            log.warning("event=inbox_abandoned update_id=%s reason=unfinished_after_retry", update_id)
        return payloads


class InboxQueue(asyncio.Queue):
    """The Application's update queue; ``put`` (Updater and webhook alike) records first."""

    def __init__(self) -> None:
        super().__init__()
        self.inbox: Inbox | None = None

    async def put(self, item: object) -> None:
        if self.inbox is not None and isinstance(item, Update):
            if not await self.inbox.record(item):
                log.info("event=update_known update_id=%s", item.update_id)  # a redelivery
                return
        await super().put(item)

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
            await self.inbox.mark_handled(update.update_id)


def attach_inbox(app: Application, db: Database) -> Inbox:
    inbox = Inbox(db)
    app.inbox = inbox  # type: ignore[attr-defined]
    app.update_queue.inbox = inbox  # type: ignore[attr-defined]
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
