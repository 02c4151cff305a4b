"""/digest: the daily digest on demand, for county leaders and the office; and its 查看图表 button.

The scheduled digest goes through the outbox (``bot.domain.digest.digest_sweep``); this answers at
once in the chat, built for the asking person as of now, as the same one message: the chart with
the text as its caption, or the text with a 查看图表 button when the text is longer than a caption.
The button sends the tapping person's own chart as of the tap (the morning's file when nothing
changed since): nothing in its payload names whose chart, so nobody can ask for another's.
"""

from __future__ import annotations

import logging
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.documents.chart import chart_files
from bot.domain.digest import CHART_BUTTON, Digest, build_digest, compose, fitted
from bot.domain.directory import person_by_id
from bot.kernel.render import render
from bot.outbox.queue import Keyboard
from handlers.common import requires
from handlers.context import Ctx

log = logging.getLogger("duban.digest")


def _markup(rows: Keyboard) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.text, callback_data=b.data) for b in row] for row in rows])


async def _build(context: Ctx, update: Update, *, chart_only: bool = False) -> tuple[Digest, Path | None]:
    svc = context.services
    person = await context.known_person(update)
    calendar = await svc.calendar()
    async with svc.db.session() as s:
        me = await person_by_id(s, person.id)
        d = (
            await build_digest(s, me, calendar, svc.clock.now(), svc.settings, chart_only=chart_only)
            if me is not None
            else None
        )
    if d is None:  # the roles the callers require (leader, office, office head) all have a digest
        raise RuntimeError(f"no digest for person {person.id}")
    return d, (await chart_files(svc.settings, [d]))[d.person_id]


@requires("leader", "office", "office_head", what="/digest")
async def digest_command(update: Update, context: Ctx) -> None:
    d, chart = await _build(context, update)
    message = compose(*fitted(d), chart)
    chat = update.effective_chat
    if message.photo is not None:
        with message.photo.open("rb") as fh:
            await chat.send_photo(
                fh, caption=message.text, parse_mode=ParseMode.HTML, reply_markup=_markup(message.buttons)
            )
        return
    await chat.send_message(
        message.text, parse_mode=ParseMode.HTML, disable_web_page_preview=True, reply_markup=_markup(message.buttons)
    )


@requires("leader", "office", "office_head", what="查看图表")
async def chart_tapped(update: Update, context: Ctx) -> None:
    query = update.callback_query
    d, chart = await _build(context, update, chart_only=True)
    if d.chart is None:
        off = not context.services.settings.digest.chart
        await query.answer("摘要图表未开启。" if off else "目前没有在办事项，无需图表。", show_alert=True)
        return
    if chart is None:
        await query.answer("图表生成失败，请稍后再试。", show_alert=True)
        return
    await query.answer()
    with chart.open("rb") as fh:
        await update.effective_chat.send_photo(
            fh,
            caption=render("digest/chart_caption.html.j2", d=d, at=context.services.clock.now()),
            parse_mode=ParseMode.HTML,
        )


def register(app: Application) -> None:
    app.add_handler(CommandHandler("digest", digest_command, filters=filters.ChatType.PRIVATE))
    app.add_handler(CallbackQueryHandler(chart_tapped, pattern=rf"^{CHART_BUTTON}$"))
