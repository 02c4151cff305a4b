"""/digest: the daily digest on demand, for county leaders and the office.

The scheduled digest goes through the outbox (``bot.domain.digest.digest_sweep``); this answers at
once in the chat with the same text and chart, built for the asking person as of now.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import Application, CommandHandler, filters

from bot.digest_chart import draw_status_chart
from bot.domain.digest import build_digest, render_digest
from bot.domain.urging import item_buttons
from bot.render import render
from handlers.common import requires
from handlers.context import Ctx
from store.models import Person

log = logging.getLogger("duban.digest")


def _markup(rows) -> InlineKeyboardMarkup | None:  # noqa: ANN001
    if not rows:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.text, callback_data=b.data) for b in row] for row in rows])


@requires("leader", "office", "office_head", what="/digest")
async def digest_command(update: Update, context: Ctx) -> None:
    svc = context.services
    person = await context.person(update)
    now = svc.clock.now()
    calendar = await svc.calendar()
    async with svc.db.session() as s:
        d = await build_digest(s, await s.get(Person, person.id), calendar, now, svc.settings)
    chat = update.effective_chat
    parts = render_digest(d)
    markup = _markup(item_buttons(d.buttons_for()))
    for i, part in enumerate(parts, 1):
        await chat.send_message(part, parse_mode=ParseMode.HTML, disable_web_page_preview=True,
                                reply_markup=markup if i == len(parts) else None)
    if d.chart is None or not d.chart.worth_drawing:
        return
    with tempfile.TemporaryDirectory(prefix="duban-digest-") as tmp:
        try:
            path = await asyncio.to_thread(draw_status_chart, d.chart, Path(tmp) / "chart.png")
        except Exception:  # noqa: BLE001 — the text is already there; the chart is a convenience
            log.exception("event=chart_failed on_demand=1")
            return
        with path.open("rb") as fh:
            await chat.send_photo(fh, caption=render("digest/chart_caption.html.j2", d=d), parse_mode=ParseMode.HTML)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("digest", digest_command, filters=filters.ChatType.PRIVATE))
