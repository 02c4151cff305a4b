"""/export, /notice, /dossier (office): Excel and Word files sent as documents in the chat.

* ``/export scores [year]`` — the year's score table, events and pending deductions (.xlsx);
* ``/export items FROM TO`` (or ``/export items YEAR``) — the item ledger for a date range (.xlsx);
* ``/notice N`` — the printable 督办通知单 (.docx), as stored at approval when it was;
* ``/dossier N`` — the dossier as it stands (.docx).

A confidential item's documents never go through the messenger: the answer says how to produce
them on the office's own computer. Bad input and empty ranges are answered, nothing is sent.
"""

from __future__ import annotations

import logging
import re
from datetime import date

from telegram import Update
from telegram.ext import Application, CommandHandler, filters

from bot.documents import dossier_document, notice_document
from bot.domain.errors import DomainError
from bot.domain.ledger import score_table
from bot.domain.roles import OFFICE_ROLES
from bot.domain.score import check_year
from bot.domain.views import find_item
from bot.domain.workflow import item_label, local_date
from bot.exports import items_workbook, parse_date, scores_workbook
from bot.render import render
from handlers.common import reply, requires
from handlers.context import Ctx, actor

log = logging.getLogger("duban.exports")

_YEAR = re.compile(r"\d{4}")


async def _say(update: Update, step: str, **ctx: object) -> None:
    await reply(update, "records/exports.html.j2", step=step, **ctx)


async def _send(update: Update, data: bytes, name: str, step: str, **ctx: object) -> None:
    await update.effective_chat.send_document(data, filename=name, caption=render("records/exports.html.j2", step=step,
                                                                                   **ctx))


@requires(*OFFICE_ROLES, what="/export")
async def export_command(update: Update, context: Ctx) -> None:
    args = context.args or []
    svc = context.services
    now = svc.clock.now()
    today = local_date(now)
    person = await context.person(update)
    try:
        if args[:1] == ["scores"] and len(args) <= 2:
            if len(args) == 2 and not _YEAR.fullmatch(args[1]):
                raise DomainError(f"年度「{args[1][:10]}」格式不对，应为四位数字，如 /export scores 2026")
            year = check_year(int(args[1]) if len(args) == 2 else today.year, today)
            async with svc.db.session(actor(person)) as s:
                data = await scores_workbook(s, year, today=today, office_name=svc.settings.office.name)
                frozen = (await score_table(s, year, today)).frozen
            await _send(update, data, f"{year}年度政务督查考核表.xlsx", "scores", year=year, frozen=frozen)
        elif args[:1] == ["items"] and len(args) in (2, 3):
            if len(args) == 2 and _YEAR.fullmatch(args[1]):
                start, end = date(int(args[1]), 1, 1), date(int(args[1]), 12, 31)
            elif len(args) == 3:
                start, end = parse_date(args[1], "开始日期"), parse_date(args[2], "结束日期")
            else:
                raise DomainError("请写明时间段，如 /export items 2026-01-01 2026-12-31 或 /export items 2026")
            async with svc.db.session(actor(person)) as s:
                data = await items_workbook(s, start, end, today=today, calendar=await svc.calendar(),
                                            office_name=svc.settings.office.name)
            await _send(update, data, f"督办台账_{start.isoformat()}_{end.isoformat()}.xlsx", "items",
                        start=start.isoformat(), end=end.isoformat())
        else:
            await _say(update, "usage")
            return
    except DomainError as exc:
        await _say(update, "error", message=exc.message)
        return
    log.info("event=export what=%s person=%s", " ".join(args)[:60], person.id)


async def _document(update: Update, context: Ctx, kind: str) -> None:
    ref = " ".join(context.args or []).strip()
    if not ref:
        await _say(update, "usage")
        return
    svc = context.services
    person = await context.person(update)
    now = svc.clock.now()
    try:
        async with svc.db.session(actor(person)) as s:
            item = await find_item(s, ref, now)
            label, plain, confidential = item_label(item), f"{item.year}-{item.number}", item.confidential
            if not confidential:
                if kind == "notice":
                    name, data = await notice_document(s, item.id, office_name=svc.settings.office.name,
                                                       files_dir=svc.settings.storage.files_dir, person=person)
                else:
                    name, data = await dossier_document(s, item.id, office_name=svc.settings.office.name, now=now,
                                                        person=person)
    except DomainError as exc:
        await _say(update, "error", message=exc.message)
        return
    if confidential:
        await _say(update, "confidential", number=label, kind=kind, number_plain=plain)
        return
    log.info("event=document kind=%s item=%s person=%s", kind, ref[:20], person.id)
    await _send(update, data, name, kind, number=label, now=now)


@requires(*OFFICE_ROLES, what="/notice")
async def notice_command(update: Update, context: Ctx) -> None:
    await _document(update, context, "notice")


@requires(*OFFICE_ROLES, what="/dossier")
async def dossier_command(update: Update, context: Ctx) -> None:
    await _document(update, context, "dossier")


def register(app: Application) -> None:
    private = filters.ChatType.PRIVATE
    app.add_handler(CommandHandler("export", export_command, filters=private))
    app.add_handler(CommandHandler("notice", notice_command, filters=private))
    app.add_handler(CommandHandler("dossier", dossier_command, filters=private))
