"""Builds the python-telegram-bot Application: handlers, context, services, request objects."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from telegram import BotCommand, BotCommandScopeDefault, Update
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults, Updater
from telegram.request import BaseRequest, HTTPXRequest

import handlers
from bot.domain.commands import STRANGER_COMMANDS
from bot.kernel.clock import Clock
from bot.kernel.config import Settings
from bot.kernel.logs import LoggedRequest
from bot.outbox.pacing import SharedLimiter
from bot.outbox.sender import DB_ERRORS, Sender
from bot.runtime.bundling import release_hook
from bot.runtime.inbox import InboxQueue, attach_inbox, recover_inbox
from bot.runtime.jobs import schedule_jobs
from bot.runtime.leader import Leadership, PgLeadership
from bot.runtime.persistence import DbPersistence, DialogStateApplication, forget_timeouts, restore_timeouts
from bot.runtime.senders import Senders
from bot.runtime.services import Services
from bot.runtime.sweeps import unreachable_hook
from handlers.common import refresh_all_menus
from handlers.context import ChatData, Ctx
from store import inbox as store_inbox
from store.db import Database

log = logging.getLogger("duban.app")


def build_application(
    settings: Settings,
    db: Database,
    clock: Clock,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    rate_limiter: bool = True,
    start_jobs: bool = True,
    shared_updates: bool | None = None,
) -> Application:
    """The Application with every handler; ``request`` lets tests and the sandbox swap the transport.

    ``start_jobs=False`` leaves the clock off: tests drive the sender and sweeps themselves.
    ``shared_updates``: other instances may handle this bot's updates at the same time (webhook
    mode behind a proxy; default: in webhook mode), so dialog state is re-read before each update
    (``bot.runtime.persistence``).
    """
    if shared_updates is None:
        shared_updates = settings.telegram.mode == "webhook"
    request = request or HTTPXRequest(connection_pool_size=16)
    get_updates_request = get_updates_request or HTTPXRequest(read_timeout=40)
    # Any: the rate limiter set below changes the builder's bot type parameter.
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder()
        .application_class(DialogStateApplication)
        .persistence(DbPersistence(db, shared=shared_updates))
        .update_queue(_ReceivingQueue())
        .token(settings.telegram.token)
        .base_url(settings.telegram.base_url)
        .base_file_url(settings.telegram.base_file_url)
        .request(LoggedRequest(request))
        .get_updates_request(get_updates_request)
        .context_types(ContextTypes(context=Ctx, chat_data=ChatData))
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=settings.office.tz))
        .post_init(_post_init)
        .post_stop(_post_stop)
    )
    if rate_limiter:
        # One budget with the sender (bot.outbox.pacing): replies first, no second limiter fighting it.
        builder = builder.rate_limiter(SharedLimiter(max_retries=2))
    app = builder.build()
    services = app.bot_data["services"] = Services(
        settings=settings, db=db, clock=clock, sender=Sender(db, app.bot, clock)
    )
    # A person who blocked the bot: the office is told once, with who and which items.
    services.sender.on_unreachable = unreachable_hook(services)
    # Routine notices held for working hours go out bundled, one message per person (issue 13).
    services.sender.release_held = release_hook(services)
    attach_inbox(app, db)
    # During a burst, the people behind the waiting updates are read together (handlers.context).
    app.bot_data["senders"] = Senders(db)
    handlers.register(app)
    if start_jobs:
        schedule_jobs(app)
    app.add_error_handler(_on_error)
    return app


async def _post_init(app: Application) -> None:
    """Run by run_polling/run_webhook after initialize(); ``start_polling`` calls it too.

    Before updates are fetched: what a crash left in the inbox is queued first. The per-person
    menus are refreshed in the background (one call per changed chat): answering comes first.
    """
    await app.bot.set_my_commands(
        [BotCommand(c.command, c.description) for c in STRANGER_COMMANDS], scope=BotCommandScopeDefault()
    )
    await recover_inbox(app)
    _in_background(app, refresh_all_menus(app.bot, app.bot_data["services"].db, app.bot_data), "menus")


def _in_background(app: Application, coro: Coroutine, name: str) -> None:
    tasks: set[asyncio.Task] = app.bot_data.setdefault("background", set())
    task = asyncio.create_task(_logged(coro, name), name=name)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def _logged(coro: Coroutine, name: str) -> None:
    try:
        await coro
    except Exception:  # a background chore must not go unnoticed, nor stop the bot
        log.exception("event=background_failed task=%s", name)


async def _post_stop(app: Application) -> None:
    """Background chores end with the bot (the menu refresh resumes at the next start)."""
    tasks: set[asyncio.Task] = app.bot_data.get("background", set())
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _on_error(update: object, context: Ctx) -> None:
    log.error("event=handler_error error=%r", context.error, exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat and update.effective_chat.type == "private":
        try:
            await update.effective_chat.send_message(
                "抱歉，处理时出现错误，请稍后再试。如多次出现请联系督查室。", parse_mode=None
            )
        except Exception:  # noqa: BLE001 — the error is already logged; the apology is best effort
            pass


# ---------------------------------------------------------------------- several instances (issue 14)


WEBHOOK_RECOVER_AFTER = timedelta(minutes=1)
WEBHOOK_RECOVER_EVERY = 30.0


def lead(
    app: Application,
    leadership: Leadership,
    polling: bool = True,
    poll_timeout: int = 10,
    recover_every: float = WEBHOOK_RECOVER_EVERY,
) -> Leadership:
    """Wire the Application to an election: the leader polls (``polling``) and drains the outbox.

    Elected: after ``settle_seconds`` (the old leader's last writes), dialog state reloaded (nobody
    else handles updates now), what the inbox holds unfinished queued, polling started, menus
    refreshed. Deposed: polling stops at once, updates queued but not started are dropped (they
    stay unfinished in the inbox: the next leader takes them), dialog timeouts of this process are
    forgotten. The sender follows ``is_leader``. Webhook mode (``polling=False``): every instance
    handles what it receives; the leader also takes over, every ``recover_every`` seconds, what a
    dead instance left unfinished (``_recover_others``).
    """
    app.bot_data["leadership"] = leadership
    if isinstance(leadership, PgLeadership):
        # A fail-over repeats at most the update being handled at the kill, not a burst's held marks.
        app.inbox.mark_batch = 1  # type: ignore[attr-defined]
        app.inbox.receiver = leadership.instance_key  # type: ignore[attr-defined]

    async def elected() -> None:
        # A deposed leader notices within its heartbeat and stops; what it recorded until then is
        # in the inbox before we look (a kill -9 leaves nothing running: the wait is only margin).
        await asyncio.sleep(getattr(leadership, "settle_seconds", 0.0))
        persistence = app.persistence
        if isinstance(persistence, DbPersistence) and not persistence.shared:
            await persistence.reload(app)
        await restore_timeouts(app)  # dialogs left open by a restart or by the instance before
        if polling:
            await recover_inbox(app)
        else:
            await _recover_others(app)
            _in_background(app, _recover_while_leading(app, leadership, recover_every), "inbox-recovery")
        if polling and not _updater(app).running:
            await _updater(app).start_polling(poll_interval=0, timeout=poll_timeout, allowed_updates=Update.ALL_TYPES)
        _in_background(app, refresh_all_menus(app.bot, app.bot_data["services"].db, app.bot_data), "menus")

    async def deposed() -> None:
        if not polling:  # webhook: it still handles what the proxy gives it; it only stops sending
            log.warning("event=standby")
            return
        if _updater(app).running:
            await _updater(app).stop()
        dropped = _drop_queued(app)
        timeouts = forget_timeouts(app)
        log.warning("event=standby dropped_updates=%d dialog_timeouts=%d", dropped, timeouts)

    leadership.on_elected, leadership.on_deposed = elected, deposed
    return leadership


async def _recover_others(app: Application) -> int:
    """Webhook mode: the inbox's unfinished updates older than ``WEBHOOK_RECOVER_AFTER`` that did
    not come to this instance and whose receiver is gone (its instance lock is free: it died). A
    slow update of a living instance stays with it, however long it takes, so no update is handled
    twice. Nothing is lost; a dead instance's updates wait up to ``WEBHOOK_RECOVER_AFTER`` + the
    leader's ``recover_every``."""
    inbox = getattr(app, "inbox", None)
    if inbox is None:
        return 0
    db: Database = inbox.db
    now = db.now()
    async with db.session() as s:
        payloads, abandoned = await store_inbox.take_unhandled(
            s, now, received_before=now - WEBHOOK_RECOVER_AFTER, not_alive=True
        )
    for update_id in abandoned:
        log.warning("event=inbox_abandoned update_id=%s reason=unfinished_after_retry", update_id)
    taken = 0
    for payload in payloads:
        update = Update.de_json(json.loads(payload), app.bot)
        if not app.update_queue.received(update.update_id):  # type: ignore[attr-defined]
            await app.update_queue.requeue(update)  # type: ignore[attr-defined]
            taken += 1
    if taken:
        log.warning("event=inbox_recovered count=%d", taken)
    return taken


async def _recover_while_leading(app: Application, leadership: Leadership, every: float) -> None:
    while leadership.is_leader:
        await asyncio.sleep(every)
        try:
            await _recover_others(app)
        except DB_ERRORS as exc:  # the next round tries again
            log.error("event=inbox_recovery_failed error=%s", type(exc).__name__)


class _ReceivingQueue(InboxQueue):
    """The inbox's queue that also remembers which updates came to this instance (noted before the
    inbox records them, so no row of ours is ever taken for another instance's)."""

    KEEP = 50_000

    def __init__(self) -> None:
        super().__init__()
        self._received: dict[int, None] = {}

    def received(self, update_id: int) -> bool:
        return update_id in self._received

    async def put(self, item: object) -> None:
        if isinstance(item, Update):
            self._received[item.update_id] = None
            if len(self._received) > self.KEEP:
                del self._received[next(iter(self._received))]
        await super().put(item)


def _drop_queued(app: Application) -> int:
    queue = app.update_queue
    dropped = 0
    while not queue.empty():
        queue.get_nowait()
        queue.task_done()
        dropped += 1
    return dropped


def is_leader(app: Application) -> bool:
    leadership: Leadership | None = app.bot_data.get("leadership")
    return leadership is None or leadership.is_leader


async def start_instance(
    app: Application,
    leadership: Leadership,
    polling: bool = True,
    poll_timeout: int = 10,
    recover_every: float = WEBHOOK_RECOVER_EVERY,
) -> None:
    """Start one of several instances: handle what is queued, stand for election (the runner, tests)."""
    lead(app, leadership, polling=polling, poll_timeout=poll_timeout, recover_every=recover_every)
    await app.initialize()
    await app.bot.set_my_commands(
        [BotCommand(c.command, c.description) for c in STRANGER_COMMANDS], scope=BotCommandScopeDefault()
    )
    await app.start()
    leadership.start()


def _updater(app: Application) -> Updater:
    assert app.updater is not None  # build_app keeps PTB's updater (polling mode uses it)
    return app.updater


async def stop_instance(app: Application) -> None:
    leadership: Leadership | None = app.bot_data.get("leadership")
    if leadership is not None:
        await leadership.stop()
    if _updater(app).running:
        await _updater(app).stop()
    await app.stop()
    await _post_stop(app)
    await app.shutdown()


async def start_polling(app: Application, poll_timeout: int = 10) -> None:
    """Start an Application in an event loop we own (the sandbox and the tests), as run_polling would."""
    await app.initialize()
    await _post_init(app)
    await _updater(app).start_polling(poll_interval=0, timeout=poll_timeout, allowed_updates=Update.ALL_TYPES)
    await app.start()
    await restore_timeouts(app)  # dialogs the previous run left open (the sandbox restarts too)


async def stop_polling(app: Application) -> None:
    await _updater(app).stop()
    await app.stop()
    await _post_stop(app)
    await app.shutdown()
