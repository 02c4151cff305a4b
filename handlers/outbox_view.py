"""/outbox for office staff: the messages that did not reach their person (failed after retries,
recipient blocked the bot, recipient not bound yet), so nothing is dropped silently. The list is
paged (上一页/下一页), each page well under Telegram's 4096 characters however many people are
listed; 「重新发送」 (or "/outbox 重发") queues the failed ones again. Also follows Telegram's word
that a person blocked or unblocked the bot (``my_chat_member``): the office is told at once, not
only when a send fails.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from telegram import ChatMember, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, ChatMemberHandler, CommandHandler, filters

from bot.domain.urging import (
    UNDELIVERED_STATES,
    pending_count,
    person_blocked,
    person_unblocked,
    retry_failed,
    undelivered,
)
from bot.kernel.render import render
from handlers.common import reply, requires
from handlers.context import Ctx, actor
from handlers.keyboards import edit_tapped

log = logging.getLogger("duban.outbox_view")

WINDOW = timedelta(days=7)  # by the time a message was last tried, not when it was written
RETRY_WORDS = {"重发", "重新发送", "retry"}
PAGE_SIZE = 15  # people per page: a line is at most ~150 characters, so a page stays near 2,500
MAX_PAGE_TEXT = 3800
_PAGE_DATA = re.compile(r"ob:p:(\d{1,4})")


async def _page(context: Ctx, page: int) -> tuple[str, InlineKeyboardMarkup | None]:
    svc = context.services
    since = svc.clock.now() - WINDOW
    async with svc.db.session() as s:
        rows = await undelivered(s, since)
        pending = await pending_count(s)
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    first = (page - 1) * PAGE_SIZE
    shown = list(enumerate(rows, start=1))[first : first + PAGE_SIZE]  # numbered across pages
    groups = [
        {"status_title": rows_[0][1].status_title, "rows": rows_}
        for status in UNDELIVERED_STATES
        if (rows_ := [(n, r) for n, r in shown if r.status == status])
    ]
    text = render(
        "urging/undelivered.html.j2",
        since=since,
        groups=groups,
        pending=pending,
        page=page,
        pages=pages,
        total=len(rows),
        days=WINDOW.days,
    )
    if len(text) > MAX_PAGE_TEXT:  # never refused by Telegram, whatever the names and headlines
        text = text[:MAX_PAGE_TEXT].rsplit("\n", 1)[0] + "\n……"
    nav = []
    if page > 1:
        nav.append(InlineKeyboardButton("上一页", callback_data=f"ob:p:{page - 1}"))
    if page < pages:
        nav.append(InlineKeyboardButton("下一页", callback_data=f"ob:p:{page + 1}"))
    buttons = [nav] if nav else []
    if rows:
        buttons.append([InlineKeyboardButton("重新发送", callback_data="ob:retry")])
    return text, InlineKeyboardMarkup(buttons) if buttons else None


async def _retry(context: Ctx, person) -> int:  # noqa: ANN001
    svc = context.services
    now = svc.clock.now()
    async with svc.db.session(actor(person), "outbox.retry") as s:
        count = await retry_failed(s, now - WINDOW, now)
    log.info("event=outbox_retry person=%s count=%s", person.id, count)
    return count


@requires("office", "office_head", what="/outbox")
async def outbox_command(update: Update, context: Ctx) -> None:
    if context.args and context.args[0].strip() in RETRY_WORDS:
        count = await _retry(context, await context.person(update))
        await reply(update, "urging/retried.html.j2", count=count)
        return
    text, markup = await _page(context, 1)
    await update.effective_chat.send_message(text, reply_markup=markup, disable_web_page_preview=True)


@requires("office", "office_head", what="/outbox")
async def outbox_tap(update: Update, context: Ctx) -> None:
    query = update.callback_query
    if query.data == "ob:retry":
        count = await _retry(context, await context.person(update))
        await query.answer(f"已重新排队 {count} 条消息")
        await reply(update, "urging/retried.html.j2", count=count)
        return
    m = _PAGE_DATA.fullmatch(query.data or "")
    text, markup = await _page(context, int(m.group(1)) if m else 1)
    await query.answer()
    if not await edit_tapped(update, text, markup):  # the tapped message is gone or not the bot's
        await update.effective_chat.send_message(text, reply_markup=markup, disable_web_page_preview=True)


async def membership(update: Update, context: Ctx) -> None:
    """The person blocked (kicked) or unblocked the bot in their private chat."""
    change = update.my_chat_member
    if change is None or change.chat.type != change.chat.PRIVATE:
        return
    person = await context.person(update)
    if person is None:
        return
    svc = context.services
    old, new = change.old_chat_member.status, change.new_chat_member.status
    async with svc.db.session(actor(person), "person.membership") as s:
        if new in (ChatMember.BANNED, ChatMember.LEFT):
            if await person_blocked(
                s, person.id, svc.clock.now(), calendar=await svc.calendar(), settings=svc.settings
            ):
                log.warning("event=person_blocked_bot person=%s", person.id)
        elif old in (ChatMember.BANNED, ChatMember.LEFT) and new == ChatMember.MEMBER:
            if await person_unblocked(s, person.id):
                log.info("event=person_unblocked_bot person=%s", person.id)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("outbox", outbox_command, filters=filters.ChatType.PRIVATE))
    app.add_handler(CallbackQueryHandler(outbox_tap, pattern=r"^ob:(?:p:\d{1,4}|retry)$"))
    app.add_handler(ChatMemberHandler(membership, ChatMemberHandler.MY_CHAT_MEMBER))
