"""/stats (office, office head, leaders): the year's items by unit, by leader or by source —
items, done, on-time rate, overdue — as a compact table in the chat (buttons switch the grouping
in place), and 导出Excel: the three tables as a workbook, delivered through the outbox like /export.

``/stats`` · ``/stats 领导`` · ``/stats 来源 2025``; figures from ``bot.domain.stats``.
"""

from __future__ import annotations

import logging
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.documents.excel import export_path
from bot.documents.stats_xlsx import write_stats
from bot.domain.errors import DomainError
from bot.domain.stats import KIND_WORDS, KINDS, table_lines, year_stats
from bot.domain.workflow import local_date
from bot.kernel.render import render
from bot.outbox.queue import enqueue
from handlers.common import reply, requires
from handlers.context import Ctx

log = logging.getLogger("duban.stats")

WHO = ("office", "office_head", "leader")
MAX_ROWS = 25  # a chat table; the workbook has every row
_YEAR = re.compile(r"20\d\d")
_DATA = re.compile(r"st:(unit|leader|source|xlsx):(20\d\d)")


def _parse(args: list[str], this_year: int) -> tuple[str, int]:
    kind, year = "unit", this_year
    for word in args[:2]:
        if _YEAR.fullmatch(word):
            year = int(word)
        elif word in KIND_WORDS:
            kind = KIND_WORDS[word]
        else:
            raise DomainError(
                f"看不懂「{word[:10]}」。用法：/stats [单位|领导|来源] [年度]，例如 /stats 领导 {this_year}"
            )
    if len(args) > 2:
        raise DomainError(f"参数太多。用法：/stats [单位|领导|来源] [年度]，例如 /stats 来源 {this_year}")
    if year > this_year:
        raise DomainError(f"{year}年还没有开始，请写{this_year}年或更早的年度")
    return kind, year


async def _table(context: Ctx, kind: str, year: int) -> tuple[str, InlineKeyboardMarkup]:
    svc = context.services
    now = svc.clock.now()
    async with svc.db.session() as s:
        stats = await year_stats(s, year, local_date(now))
    rows = stats.rows(kind)
    text = render(
        "stats/table.html.j2",
        stats=stats,
        kind=kind,
        kind_name=KINDS[kind],
        lines=table_lines(rows[:MAX_ROWS], KINDS[kind]),
        more=max(0, len(rows) - MAX_ROWS),
    )
    buttons = [
        InlineKeyboardButton(
            f"·按{KINDS[k][-2:]}·" if k == kind else f"按{KINDS[k][-2:]}", callback_data=f"st:{k}:{year}"
        )
        for k in KINDS
    ]
    return text, InlineKeyboardMarkup([buttons, [InlineKeyboardButton("导出Excel", callback_data=f"st:xlsx:{year}")]])


@requires(*WHO, what="/stats")
async def stats_command(update: Update, context: Ctx) -> None:
    svc = context.services
    try:
        kind, year = _parse(context.args or [], local_date(svc.clock.now()).year)
        text, markup = await _table(context, kind, year)
    except DomainError as exc:
        await reply(update, "chat/error.html.j2", message=exc.message, again=False)
        return
    await update.effective_chat.send_message(text, reply_markup=markup)


@requires(*WHO, what="/stats")
async def stats_tapped(update: Update, context: Ctx) -> None:
    query = update.callback_query
    m = _DATA.fullmatch(query.data or "")
    if m is None or int(m.group(2)) > local_date(context.services.clock.now()).year:
        await query.answer("按钮已失效，请重新发送 /stats", show_alert=True)
        return
    kind, year = m.group(1), int(m.group(2))
    if kind == "xlsx":
        await _workbook(update, context, year)
        return
    text, markup = await _table(context, kind, year)
    await query.answer()
    if isinstance(query.message, Message):
        try:
            await query.edit_message_text(text, reply_markup=markup)
            return
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return
    await update.effective_chat.send_message(text, reply_markup=markup)


async def _workbook(update: Update, context: Ctx, year: int) -> None:
    """Write the workbook and queue it for the person (a reply to their own tap: urgent)."""
    svc = context.services
    person = await context.known_person(update)
    now = svc.clock.now()
    name = f"{year}年度督查事项统计.xlsx"
    path = export_path(svc.settings.storage.files_dir)
    async with svc.db.session() as s:
        stats = await year_stats(s, year, local_date(now))
        write_stats(stats, path, svc.settings.office.name)
        await enqueue(
            s,
            person,
            render("stats/file_caption.html.j2", stats=stats),
            now=now,
            kind="document",
            file_path=str(path),
            file_name=name,
            urgent=True,
        )
    log.info("event=stats_xlsx year=%s person=%s", year, person.id)
    await update.callback_query.answer("正在生成统计表，稍后发送给您")


def register(app: Application) -> None:
    app.add_handler(CommandHandler("stats", stats_command, filters=filters.ChatType.PRIVATE))
    app.add_handler(CallbackQueryHandler(stats_tapped, pattern=r"^st:"))
