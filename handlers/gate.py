"""Who may talk to the bot at all, and what happens to everything no other handler takes.

The gate runs first (group -2) and fails closed: whatever goes wrong inside it, the update stops
there with an answer, and never reaches a handler that assumes the gate's checks passed.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from handlers.common import reply
from handlers.context import Ctx

log = logging.getLogger("duban.gate")

GATE_GROUP = -2

# A transient fault (the database is busy, restarting or unreachable) is not a refusal.
TRANSIENT_ERRORS = (DBAPIError, PoolTimeout, OSError)  # DBAPIError covers OperationalError
TRY_AGAIN = "系统暂时繁忙，您的操作未被处理，请稍后再试。"
INTERNAL_ERROR = "抱歉，处理时出现错误，您的操作未被处理，请稍后再试。如多次出现请联系督查室。"
EDIT_IGNORED = "修改已发送的消息不会被记录。如需更正，请重新发送一条消息。"
FORGED_TAP = "这个按钮已失效，请重新发送命令。"


def _command_of(text: str | None) -> str | None:
    """``/start@bot arg`` → ``/start``; None for text that is not a command (blank text included)."""
    words = (text or "").split(maxsplit=1)
    if not words or not words[0].startswith("/"):
        return None
    return words[0].split("@", 1)[0]


def _is_forged(update: Update) -> bool:
    """In a private chat the chat is the user: anything naming another chat did not come from Telegram
    as it documents private chats, and must not make the bot read or edit someone else's chat."""
    user, chat = update.effective_user, update.effective_chat
    return chat is not None and user is not None and chat.type == chat.PRIVATE and chat.id != user.id


async def _answer(update: Update, text: str, alert: bool = True) -> None:
    """Best effort: a reply to the update, as an alert for a tap and a plain message otherwise."""
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text[:200], show_alert=alert)
        elif update.effective_chat is not None:
            await update.effective_chat.send_message(text, parse_mode=None)
    except TelegramError as exc:
        log.info("event=gate_answer_failed error=%s", exc)


async def gate(update: Update, context: Ctx) -> None:
    """Runs before everything: strangers, groups, edits and anything malformed stop here."""
    try:
        await _check(update, context)
    except ApplicationHandlerStop:
        raise
    except TRANSIENT_ERRORS as exc:
        log.warning("event=gate_transient_error error=%r", exc)
        await _answer(update, TRY_AGAIN)
        raise ApplicationHandlerStop from None
    except Exception:
        log.exception("event=gate_error")
        await _answer(update, INTERNAL_ERROR)
        raise ApplicationHandlerStop from None


async def _check(update: Update, context: Ctx) -> None:
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        raise ApplicationHandlerStop  # polls, inline queries, channel posts …: nothing we take
    if chat.type != chat.PRIVATE:
        # No group is set up for the bot yet: answer commands once, ignore chatter.
        if update.message is not None and _command_of(update.message.text):
            await reply(update, "messages/group_not_enabled.html.j2")
        elif update.callback_query:
            await update.callback_query.answer("本群未开通督办助手")
        raise ApplicationHandlerStop
    if _is_forged(update):
        log.warning("event=forged_chat user=%s chat=%s", user.id, chat.id)
        if update.callback_query is not None:
            await update.callback_query.answer(FORGED_TAP, show_alert=True)
        raise ApplicationHandlerStop
    if update.message is None and update.callback_query is None and update.my_chat_member is None:
        # Edits (and business messages, reactions …) are not actions: an edit is answered once,
        # politely, so nobody thinks a corrected figure was recorded; the rest gets no answer.
        if update.edited_message is not None and await context.person(update) is not None:
            await _answer(update, EDIT_IGNORED)
        raise ApplicationHandlerStop
    if update.message is not None and _command_of(update.message.text) == "/start":
        return  # /start handles invitations for strangers itself
    if await context.person(update) is None:
        if update.callback_query:
            await update.callback_query.answer("请先通过督查室的邀请链接绑定账号", show_alert=True)
        elif update.message is not None:
            await reply(update, "messages/unknown_person.html.j2", office_name=context.services.settings.office.name)
        # Anything else from a stranger (a block notice) gets no answer: they said nothing.
        raise ApplicationHandlerStop


async def stale_button(update: Update, context: Ctx) -> None:
    """A button no handler took (an old keyboard, a finished dialog): say so, never leave it spinning."""
    await update.callback_query.answer("这个按钮已失效，请重新发送命令。", show_alert=True)


async def unknown_command(update: Update, context: Ctx) -> None:
    await reply(update, "messages/unknown_command.html.j2")


async def stray_message(update: Update, context: Ctx) -> None:
    """Text, photos or files outside any dialog: say how to use the bot instead of staying silent."""
    await reply(update, "messages/stray_message.html.j2")


def register(app: Application) -> None:
    app.add_handler(TypeHandler(Update, gate), group=GATE_GROUP)


def register_fallbacks(app: Application) -> None:
    """Last in group 0: only what no other handler took reaches these."""
    app.add_handler(CallbackQueryHandler(stale_button))
    app.add_handler(MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE, unknown_command))
    app.add_handler(MessageHandler(~filters.COMMAND & filters.ChatType.PRIVATE, stray_message))
