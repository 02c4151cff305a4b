"""Pieces every dialog shares: the unit picker (type part of a name, tap a button), the cancel
button and /cancel, the polite notice when a dialog times out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ConversationHandler

from bot.domain.actions import parse_id
from bot.domain.directory import find_units, unit_by_id
from bot.kernel.render import render
from handlers.common import reply
from handlers.context import Ctx
from handlers.keyboards import clear_tapped_keyboard

if TYPE_CHECKING:
    from store.models import Unit

MAX_UNIT_BUTTONS = 10
END = ConversationHandler.END


# --------------------------------------------------------------------------------------------
# The unit picker
# --------------------------------------------------------------------------------------------


async def unit_buttons(
    context: Ctx, text: str, data_prefix: str, *, exclude: Collection[int] = (), selected: Collection[str] = ()
) -> tuple[list[list[InlineKeyboardButton]], bool]:
    """Up to ten units whose name contains ``text``, one button a row (``<data_prefix>:<id>``, ✅ on
    the ``selected`` ids); True when there were more."""
    async with context.services.db.session() as s:
        found = [
            u for u in await find_units(s, text[:50], limit=MAX_UNIT_BUTTONS + 1 + len(exclude)) if u.id not in exclude
        ]
    rows = [
        [InlineKeyboardButton(("✅ " if str(u.id) in selected else "") + u.name, callback_data=f"{data_prefix}:{u.id}")]
        for u in found[:MAX_UNIT_BUTTONS]
    ]
    return rows, len(found) > MAX_UNIT_BUTTONS


async def unit_choices(update: Update, context: Ctx, data_prefix: str, *, cancel_data: str) -> int | None:
    """Answer a typed unit name with the matching units as buttons (and 取消), or say none matched;
    the id of the message with the buttons."""
    text = update.message.text.strip()[:50]
    rows, more = await unit_buttons(context, text, data_prefix)
    if not rows:
        await reply(update, "chat/unit_search.html.j2", query=text, found=False, more=False)
        return None
    rows.append(cancel_row(cancel_data))
    sent = await update.effective_chat.send_message(
        render("chat/unit_search.html.j2", query=text, found=True, more=more),
        reply_markup=InlineKeyboardMarkup(rows),
        disable_web_page_preview=True,
    )
    return sent.message_id


async def tapped_unit(context: Ctx, data: str, *, active: bool = False) -> Unit | None:
    """The unit a picker button names (its id after the last colon); None for a forged or stale one."""
    async with context.services.db.session() as s:
        return await unit_by_id(s, parse_id(data.rsplit(":", 1)[-1]), active=active)


# --------------------------------------------------------------------------------------------
# Leaving a dialog: 取消, /cancel, the timeout
# --------------------------------------------------------------------------------------------


def cancel_row(data: str) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton("取消", callback_data=data)]


Cleanup = Callable[[Update, Ctx, dict], Awaitable[None]]


def cancel_handler(
    slot: str, template: str, *, clear_tapped: bool = True, cleanup: Cleanup | None = None, **template_context: object
) -> Callable[[Update, Ctx], Awaitable[int]]:
    """The dialog's 取消 button and /cancel: forget its answers, take the buttons off, say so."""

    async def cancel(update: Update, context: Ctx) -> int:
        st = context.chat_data.close(slot)
        if update.callback_query:
            await update.callback_query.answer("已取消")
            if clear_tapped:
                await clear_tapped_keyboard(update, context)
        if cleanup is not None and st is not None:
            await cleanup(update, context, st)
        await reply(update, template, **template_context)
        return END

    return cancel


def timeout_notice(
    slot: str,
    template: str,
    *,
    cleanup: Cleanup | None = None,
    label_of: Callable[[dict], str] | None = None,
    **template_context: object,
) -> Callable:
    """The TIMEOUT handler of a dialog: forget its answers and tell the person it was dropped."""

    async def timed_out(update: Update, context: Ctx) -> None:
        st = context.chat_data.close(slot)
        if cleanup is not None and st is not None:
            await cleanup(update, context, st)
        if update.effective_chat is not None:
            extra = {"label": label_of(st or {})} if label_of is not None else {}
            await context.bot.send_message(update.effective_chat.id, render(template, **template_context, **extra))

    return timed_out
