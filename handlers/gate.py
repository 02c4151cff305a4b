"""Who may talk to the bot at all, and what happens to everything no other handler takes."""

from __future__ import annotations

from telegram import Update
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


async def gate(update: Update, context: Ctx) -> None:
    """Runs before everything: strangers and unconfigured groups stop here."""
    chat = update.effective_chat
    if chat is None or update.effective_user is None:
        return
    if chat.type != chat.PRIVATE:
        # No group is set up for the bot yet: answer commands once, ignore chatter.
        message = update.effective_message
        if message is not None and message.text and message.text.startswith("/"):
            await reply(update, "messages/group_not_enabled.html.j2")
        elif update.callback_query:
            await update.callback_query.answer("本群未开通督办助手")
        raise ApplicationHandlerStop
    message = update.effective_message
    is_start = bool(message and message.text and message.text.split(maxsplit=1)[0].split("@")[0] == "/start")
    if is_start:
        return  # /start handles invitations for strangers itself
    if await context.person(update) is None:
        if update.callback_query:
            await update.callback_query.answer("请先通过督查室的邀请链接绑定账号", show_alert=True)
        elif update.message is not None:
            await reply(update, "messages/unknown_person.html.j2", office_name=context.services.settings.office.name)
        # Anything else from a stranger (a block notice, an edit) gets no answer: they said nothing.
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
    app.add_handler(TypeHandler(Update, gate), group=-1)


def register_fallbacks(app: Application) -> None:
    """Last in group 0: only what no other handler took reaches these."""
    app.add_handler(CallbackQueryHandler(stale_button))
    app.add_handler(MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE, unknown_command))
    app.add_handler(MessageHandler(~filters.COMMAND & filters.ChatType.PRIVATE, stray_message))
