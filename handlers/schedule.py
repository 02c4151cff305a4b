"""A holiday schedule uploaded in the chat: office staff send the year's ``.toml`` file, see what it
says (and whether it is the fictional example), then 载入 or 取消.

载入 runs ``bot.domain.schedules.load_schedule`` — the very call ``python -m bot workdays load``
makes — so the year is stored, provisional deadlines are recounted and the units told, in one
transaction. The office no longer needs a shell for it.
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.cli.workdays import schedule_summary
from bot.domain.errors import DomainError
from bot.domain.schedules import load_schedule, loaded_years
from bot.domain.workdays import ScheduleError, builtin_years, parse_schedule
from bot.kernel.render import render
from handlers import dialogs
from handlers.common import requires
from handlers.context import Ctx, actor
from handlers.dialogs import Dialog
from handlers.widgets import cancel_handler, timeout_notice

log = logging.getLogger("duban.schedule")

TIMEOUT_SECONDS: float = 900
END = ConversationHandler.END
CONFIRM = 0
SLOT = "schedule_upload"  # the dialog's answers in the chat's dialog slot (handlers.context.ChatData)
LOAD, CANCEL = "sch:ok", "sch:x"
MAX_BYTES = 64 * 1024  # a year's schedule is a few hundred bytes; more is not a schedule file
ROLES = ("office", "office_head")


async def _say(update: Update, step: str, markup: InlineKeyboardMarkup | None = None, **ctx: object) -> Message:
    return await update.effective_chat.send_message(
        render("schedule/chat.html.j2", step=step, **ctx), reply_markup=markup, disable_web_page_preview=True
    )


async def _clear_keyboard(update: Update) -> None:
    query = update.callback_query
    if query is not None and isinstance(query.message, Message):
        try:  # PTB would send the Defaults' parse_mode, which is no parameter of this method
            await query.edit_message_reply_markup(None, api_kwargs={"parse_mode": None})
        except TelegramError:
            pass


@requires(*ROLES, what="载入放假安排", denied=END)
async def file_received(update: Update, context: Ctx) -> int:
    document = update.message.document
    name = document.file_name or "文件"
    if document.file_size and document.file_size > MAX_BYTES:
        await _say(update, "error", file=name, message="文件太大，不像放假安排文件（通常不足 1 KB）")
        return END
    tg_file = await context.bot.get_file(document.file_id)
    data = bytes(await tg_file.download_as_bytearray())
    try:
        schedule = parse_schedule(data)
    except ScheduleError as exc:
        await _say(update, "error", file=name, message=str(exc))
        return END
    async with context.services.db.session() as s:
        loaded = await loaded_years(s)  # the years loaded before, to say what is replaced
    context.chat_data.open(SLOT, text=data.decode("utf-8-sig"), year=schedule.year, file=name)
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton("载入", callback_data=LOAD), InlineKeyboardButton("取消", callback_data=CANCEL)]]
    )
    await _say(
        update,
        "preview",
        keyboard,
        file=name,
        summary=schedule_summary(schedule),
        schedule=schedule,
        replaces=schedule.year in loaded,
        builtin=schedule.year in builtin_years(),
    )
    return CONFIRM


@requires(*ROLES, what="载入放假安排", denied=END)
async def load_tapped(update: Update, context: Ctx) -> int:
    svc = context.services
    person = await context.known_person(update)
    state = context.chat_data.close(SLOT)
    await _clear_keyboard(update)
    if not state:
        await update.callback_query.answer("该操作已结束，请重新发送文件。", show_alert=True)
        return END
    try:
        async with svc.db.session(actor(person), "calendar.load") as s:
            schedule, changed = await load_schedule(s, state["text"], person.name, svc.clock.now())
    except (ScheduleError, DomainError) as exc:
        await update.callback_query.answer()
        await _say(update, "error", file=state["file"], message=str(exc))
        return END
    svc.calendar_changed()
    log.info("event=schedule_loaded year=%s by=%s recounted=%s", schedule.year, person.id, changed)
    await update.callback_query.answer("已载入")
    await _say(update, "loaded", summary=schedule_summary(schedule), changed=changed, schedule=schedule)
    return END


async def wrong_input(update: Update, context: Ctx) -> None:
    await _say(update, "wrong")


async def stale_button(update: Update, context: Ctx) -> None:
    await update.callback_query.answer("该操作已结束，请重新发送文件。", show_alert=True)


def register(app: Application) -> None:
    private = filters.ChatType.PRIVATE
    # Not a reply: a reply to a notice is progress (handlers.replies), whatever the file is.
    toml = filters.Document.FileExtension("toml") & ~filters.REPLY & private
    dialogs.add(
        app,
        Dialog(
            entry_points=[MessageHandler(toml, file_received)],
            states={
                CONFIRM: [CallbackQueryHandler(load_tapped, pattern=rf"^{LOAD}$")],
                ConversationHandler.TIMEOUT: [
                    TypeHandler(Update, timeout_notice(SLOT, "schedule/chat.html.j2", step="timeout"))
                ],
            },
            fallbacks=[MessageHandler(~filters.COMMAND & private, wrong_input)],
            allow_reentry=True,
            timeout=lambda: TIMEOUT_SECONDS,
            name="schedule_upload",
            label="载入放假安排",
            cancel_data=CANCEL,
            cancel=cancel_handler(SLOT, "schedule/chat.html.j2", step="cancelled"),
        ),
    )
    app.add_handler(CallbackQueryHandler(stale_button, pattern=r"^sch:"))
