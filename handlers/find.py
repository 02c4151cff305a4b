"""/find 关键词: the items this person may see whose title, number or units match, closed and
archived ones included, in pages (上一页/下一页 edit the list in place). The search and who may
see what are ``bot.domain.search``'s; the keyword rides in the paging buttons (at most 16
characters, so ``fd:<page>:<keyword>`` stays within Telegram's 64 bytes).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.domain.actions import action_data
from bot.domain.errors import DomainError
from bot.domain.search import MAX_KEYWORD, clean_keyword, find_items
from bot.kernel.render import render
from handlers.common import reply
from handlers.context import Ctx

if TYPE_CHECKING:
    from store.models import Person

log = logging.getLogger("duban.find")

PAGE_SIZE = 8
_PAGE_DATA = re.compile(rf"fd:([1-9][0-9]{{0,3}}):(.{{1,{MAX_KEYWORD}}})", re.S)


async def _page(context: Ctx, person: Person, keyword: str, page: int) -> tuple[str, InlineKeyboardMarkup | None]:
    svc = context.services
    calendar, now = await svc.calendar(), svc.clock.now()
    async with svc.db.session() as s:
        result = await find_items(s, person, keyword, page, PAGE_SIZE, calendar=calendar, now=now)
    text = render("find/results.html.j2", p=result, keyword=keyword)
    buttons = [
        InlineKeyboardButton(
            f"{s.light.emoji if s.light else '⚪'} {s.label}"[:60], callback_data=action_data("i:v", s.id)
        )
        for s in result.items
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    nav = []
    if result.page > 1:
        nav.append(InlineKeyboardButton("上一页", callback_data=f"fd:{result.page - 1}:{keyword}"))
    if result.page < result.pages:
        nav.append(InlineKeyboardButton("下一页", callback_data=f"fd:{result.page + 1}:{keyword}"))
    if nav:
        rows.append(nav)
    return text, InlineKeyboardMarkup(rows) if rows else None


async def find_command(update: Update, context: Ctx) -> None:
    person = await context.known_person(update)
    try:
        keyword = clean_keyword(" ".join(context.args or []))
        text, markup = await _page(context, person, keyword, 1)
    except DomainError as exc:
        await reply(update, "find/usage.html.j2", message=exc.message)
        return
    log.info("event=find person=%s", person.id)
    await update.effective_chat.send_message(text, reply_markup=markup, disable_web_page_preview=True)


async def find_page(update: Update, context: Ctx) -> None:
    query = update.callback_query
    person = await context.known_person(update)
    m = _PAGE_DATA.fullmatch(query.data or "")
    try:
        if m is None:
            raise DomainError("按钮已失效")
        text, markup = await _page(context, person, clean_keyword(m.group(2)), int(m.group(1)))
    except DomainError:
        await query.answer("按钮已失效，请重新发送 /find 关键词", show_alert=True)
        return
    await query.answer()
    if isinstance(query.message, Message):
        try:
            await query.edit_message_text(text, reply_markup=markup, disable_web_page_preview=True)
            return
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return
    await update.effective_chat.send_message(text, reply_markup=markup, disable_web_page_preview=True)


def register(app: Application) -> None:
    private = filters.ChatType.PRIVATE
    app.add_handler(CommandHandler("find", find_command, filters=private))
    app.add_handler(CallbackQueryHandler(find_page, pattern=r"^fd:"))
