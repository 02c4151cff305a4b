"""/audit N (office head): who changed what, and when, on one item — its audit trail, in Chinese,
paged (上一页/下一页, the message edited in place). N is what /item takes: "3" or "督字〔2026〕3号".
The trail is built by ``bot.domain.trail``; this module parses, pages and renders.
"""

from __future__ import annotations

import logging
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.domain.errors import DomainError
from bot.domain.trail import Trail, item_trail
from bot.kernel.render import render
from handlers.common import reply, requires
from handlers.context import Ctx, actor

log = logging.getLogger("duban.audit")

PAGE_ENTRIES = 10
MAX_PAGE_TEXT = 3500  # with the header and the footer, well under Telegram's 4096
_PAGE_DATA = re.compile(r"au:(\d{1,9}):(\d{1,4})")


def pages_of(trail: Trail) -> list[list[str]]:
    """The entries rendered, packed into pages of at most PAGE_ENTRIES and MAX_PAGE_TEXT characters."""
    pages: list[list[str]] = [[]]
    size = 0
    for e in trail.entries:
        text = render("audit/entry.html.j2", e=e)
        if len(text) > MAX_PAGE_TEXT:  # one entry that changed many long fields
            text = text[:MAX_PAGE_TEXT].rsplit("\n", 1)[0] + "\n……"
        if pages[-1] and (len(pages[-1]) >= PAGE_ENTRIES or size + len(text) > MAX_PAGE_TEXT):
            pages.append([])
            size = 0
        pages[-1].append(text)
        size += len(text) + 2
    return pages


async def _page(update: Update, context: Ctx, ref: str | int, page: int) -> tuple[str, InlineKeyboardMarkup | None]:
    svc = context.services
    person = await context.person(update)
    assert person is not None  # @requires let only a bound office head in
    async with svc.db.session(actor(person)) as s:
        trail = await item_trail(s, person, ref, now=svc.clock.now())
    pages = pages_of(trail)
    page = min(max(page, 1), len(pages))
    text = render("audit/page.html.j2", t=trail, entries=pages[page - 1], page=page, pages=len(pages))
    nav = []
    if page > 1:
        nav.append(InlineKeyboardButton("上一页", callback_data=f"au:{trail.item_id}:{page - 1}"))
    if page < len(pages):
        nav.append(InlineKeyboardButton("下一页", callback_data=f"au:{trail.item_id}:{page + 1}"))
    return text, InlineKeyboardMarkup([nav]) if nav else None


@requires("office_head", what="/audit")
async def audit_command(update: Update, context: Ctx) -> None:
    ref = " ".join(context.args or []).strip()
    if not ref:
        await reply(update, "audit/usage.html.j2")
        return
    try:
        text, markup = await _page(update, context, ref, 1)
    except DomainError as exc:
        await reply(update, "audit/error.html.j2", message=exc.message)
        return
    await _send(update, text, markup)


async def _send(update: Update, text: str, markup: InlineKeyboardMarkup | None) -> None:
    if update.effective_chat is not None:
        await update.effective_chat.send_message(text, reply_markup=markup, disable_web_page_preview=True)


@requires("office_head", what="/audit")
async def audit_tap(update: Update, context: Ctx) -> None:
    query = update.callback_query
    m = _PAGE_DATA.fullmatch(query.data or "") if query is not None else None
    if query is None or m is None:  # the handler's pattern lets only page buttons in
        return
    try:
        text, markup = await _page(update, context, int(m.group(1)), int(m.group(2)))
    except DomainError as exc:
        await query.answer(exc.message, show_alert=True)
        return
    await query.answer()
    try:
        if isinstance(query.message, Message):
            await query.edit_message_text(text, reply_markup=markup, disable_web_page_preview=True)
            return
    except TelegramError as exc:  # gone, too old or unchanged: send the page instead
        log.info("event=audit_page_not_edited error=%s", exc)
    await _send(update, text, markup)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("audit", audit_command, filters=filters.ChatType.PRIVATE))
    app.add_handler(CallbackQueryHandler(audit_tap, pattern=_PAGE_DATA.pattern.join("^$")))
