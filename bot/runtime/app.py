"""Builds the python-telegram-bot Application: handlers, context, services, request objects."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine

from telegram import BotCommand, BotCommandScopeDefault, Update
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults
from telegram.request import BaseRequest, HTTPXRequest

import handlers
from bot.kernel.clock import Clock
from bot.domain.commands import STRANGER_COMMANDS
from bot.kernel.config import Settings
from bot.runtime.jobs import schedule_jobs
from bot.outbox.pacing import SharedLimiter
from bot.runtime.inbox import InboxApplication, InboxQueue, attach_inbox, recover_inbox
from bot.kernel.logs import LoggedRequest
from bot.outbox.sender import Sender
from bot.runtime.services import Services
from bot.runtime.sweeps import unreachable_hook
from bot.runtime.bundling import release_hook
from handlers.common import refresh_all_menus
from handlers.context import ChatData, Ctx
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
) -> Application:
    """The Application with every handler; ``request`` lets tests and the sandbox swap the transport.

    ``start_jobs=False`` leaves the clock off: tests drive the sender and sweeps themselves.
    """
    request = request or HTTPXRequest(connection_pool_size=16)
    get_updates_request = get_updates_request or HTTPXRequest(read_timeout=40)
    builder = (
        ApplicationBuilder()
        .application_class(InboxApplication)
        .update_queue(InboxQueue())
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
    services = app.bot_data["services"] = Services(settings=settings, db=db, clock=clock,
                                                   sender=Sender(db, app.bot, clock))
    # A person who blocked the bot: the office is told once, with who and which items.
    services.sender.on_unreachable = unreachable_hook(services)
    # Routine notices held for working hours go out bundled, one message per person (issue 13).
    services.sender.release_held = release_hook(services)
    attach_inbox(app, db)
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
    except Exception:  # noqa: BLE001 — a background chore must not go unnoticed, nor stop the bot
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
            await update.effective_chat.send_message("抱歉，处理时出现错误，请稍后再试。如多次出现请联系督查室。",
                                                     parse_mode=None)
        except Exception:  # noqa: BLE001 — the error is already logged; the apology is best effort
            pass


async def start_polling(app: Application, poll_timeout: int = 10) -> None:
    """Start an Application in an event loop we own (the sandbox and the tests), as run_polling would."""
    await app.initialize()
    await _post_init(app)
    await app.updater.start_polling(poll_interval=0, timeout=poll_timeout, allowed_updates=Update.ALL_TYPES)
    await app.start()


async def stop_polling(app: Application) -> None:
    await app.updater.stop()
    await app.stop()
    await _post_stop(app)
    await app.shutdown()
