"""Editing the keyboards and texts of messages already sent: the "✅ …" outcome in place of a used
button, a dialog's buttons taken off, the tapped question turned into its answer."""

from __future__ import annotations

import functools
import logging
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError

from bot.domain.actions import action_data
from handlers.context import Ctx

log = logging.getLogger("duban.actions")

REMEMBERED_OUTCOMES = 20  # per chat: a second tap on a just-used button keeps its label


@functools.lru_cache(maxsize=4096)
def view_button(label: str, item_id: int) -> InlineKeyboardButton:
    """An item's 查看 button, made once per label and item: a list page shows up to ten and every
    page turned made them again. PTB's buttons cannot change once made, so one serves every
    keyboard it appears in."""
    return InlineKeyboardButton(label[:60], callback_data=action_data("i:v", item_id))


def markup_of(rows: list[list[Any]] | None) -> InlineKeyboardMarkup | None:
    """``bot.outbox.queue.Button`` rows (what the domain builds) → an inline keyboard."""
    if not rows:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.text, callback_data=b.data) for b in row] for row in rows])


async def set_keyboard(context: Ctx, chat_id: int, message_id: int, markup: InlineKeyboardMarkup | None) -> None:
    """editMessageReplyMarkup. PTB sends the Defaults' parse_mode with it, which is no parameter of
    that method (the emulator's spec check refuses it): ``api_kwargs`` sets it to None, which PTB drops."""
    await context.bot.edit_message_reply_markup(
        chat_id, message_id, reply_markup=markup, api_kwargs={"parse_mode": None}
    )


async def drop_keyboard(context: Ctx, chat_id: int, message_id: int) -> None:
    """Take the buttons off a message (best effort: it may be gone or too old)."""
    try:
        await set_keyboard(context, chat_id, message_id, None)
    except TelegramError:
        pass


async def clear_tapped_keyboard(update: Update, context: Ctx) -> None:
    """Take the buttons off the message whose button was just tapped (best effort)."""
    message = update.callback_query.message if update.callback_query else None
    if isinstance(message, Message):
        await drop_keyboard(context, message.chat.id, message.message_id)


async def edit_tapped(update: Update, text: str, reply_markup: InlineKeyboardMarkup | None = None) -> bool:
    """Edit the text of the message whose button was tapped (best effort). False when it cannot be
    edited: gone or inaccessible (a forged or very old tap), not the bot's, or Telegram refused."""
    query = update.callback_query
    if query is None or not isinstance(query.message, Message):
        return False
    try:
        await query.edit_message_text(text, reply_markup=reply_markup, disable_web_page_preview=True)
    except TelegramError as exc:
        if "not modified" in str(exc).lower():
            return True
        log.info("event=tapped_message_not_edited user=%s error=%s", query.from_user.id, exc)
        return False
    return True


async def show_outcome(
    context: Ctx,
    chat_id: int,
    message_id: int,
    markup: InlineKeyboardMarkup | None,
    data: str,
    mode: str,
    label: str,
    item_id: int | None,
) -> None:
    """Replace the used button (``mode``: button, its row, or all of the keyboard) with ``label``.

    Only when the tapped message really carries ``data`` (a forged tap elsewhere changes nothing)."""
    if mode == "none" or markup is None:
        return
    rows = [list(r) for r in markup.inline_keyboard]
    if not any(b.callback_data == data for r in rows for b in r):
        return
    out = view_button(label, item_id) if item_id else None
    if mode == "all":
        new = [[out]] if out else []
    else:
        new = []
        for r in rows:
            if not any(b.callback_data == data for b in r):
                new.append(r)
            elif mode == "row":
                new.append([out] if out else [])
            elif out is None:
                new.append([b for b in r if b.callback_data != data])
            else:
                new.append([out if b.callback_data == data else b for b in r])
    new = [r for r in new if r]
    try:
        await set_keyboard(context, chat_id, message_id, InlineKeyboardMarkup(new) if new else None)
    except TelegramError as exc:  # too old, deleted, or not modified: the action itself succeeded
        log.info("event=keyboard_not_updated chat=%s message=%s error=%s", chat_id, message_id, exc)


def remember_outcome(context: Ctx, message_id: int, data: str) -> None:
    outcomes: list = context.chat_data.setdefault("outcomes", [])
    outcomes.append((message_id, data))
    del outcomes[:-REMEMBERED_OUTCOMES]


def outcome_shown(context: Ctx, message_id: int, data: str) -> bool:
    return (message_id, data) in context.chat_data.get("outcomes", ())
