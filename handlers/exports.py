"""/export, /notice, /dossier (office): Excel and Word files sent as documents in the chat.

* ``/export scores [year]`` — the year's score table, events and pending deductions (.xlsx);
* ``/export items FROM TO`` (or ``/export items YEAR``) — the item ledger for a date range (.xlsx);
* ``/notice N`` — the printable 督办通知单 (.docx), as stored at approval when it was;
* ``/dossier N`` — the dossier as it stands (.docx).

A confidential item's documents never go through the messenger: the answer says how to produce
them on the office's own computer. Bad input and empty ranges are answered, nothing is sent.

An Excel export can take seconds at county scale: /export answers at once ("正在生成…"), the file
is written in a worker thread (``bot.documents.excel.export_off_loop``) while the bot goes on answering
everyone, and it arrives through the outbox.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import date
from typing import TYPE_CHECKING

from telegram import Update
from telegram.ext import Application, CommandHandler, filters

from bot.documents.excel import ExportJob, check_export, export_off_loop, export_path, parse_date
from bot.documents.word import dossier_document, notice_document
from bot.domain.errors import DomainError
from bot.domain.roles import OFFICE_ROLES
from bot.domain.score import check_year
from bot.domain.views import find_item
from bot.domain.workflow import item_label, local_date
from bot.kernel.render import render
from bot.outbox.queue import enqueue
from bot.runtime.services import Services
from handlers.common import reply, requires
from handlers.context import Ctx, actor

if TYPE_CHECKING:
    from store.models import Person

log = logging.getLogger("duban.exports")

_YEAR = re.compile(r"\d{4}")


async def _say(update: Update, step: str, **ctx: object) -> None:
    await reply(update, "records/exports.html.j2", step=step, **ctx)


async def _send(update: Update, data: bytes, name: str, step: str, **ctx: object) -> None:
    await update.effective_chat.send_document(
        data, filename=name, caption=render("records/exports.html.j2", step=step, **ctx)
    )


@requires(*OFFICE_ROLES, what="/export")
async def export_command(update: Update, context: Ctx) -> None:
    args = context.args or []
    svc = context.services
    now = svc.clock.now()
    today = local_date(now)
    person = await context.known_person(update)
    office = svc.settings.office.name
    caption: dict[str, object]  # what the document's caption names: a year, or a range's two dates
    try:
        if args[:1] == ["scores"] and len(args) <= 2:
            if len(args) == 2 and not _YEAR.fullmatch(args[1]):
                raise DomainError(f"年度「{args[1][:10]}」格式不对，应为四位数字，如 /export scores 2026")
            year = check_year(int(args[1]) if len(args) == 2 else today.year, today)
            job = ExportJob("scores", today, office, year=year, rules=svc.score_rules)
            name, caption = f"{year}年度政务督查考核表.xlsx", {"year": year}
        elif args[:1] == ["items"] and len(args) in (2, 3):
            if len(args) == 2 and _YEAR.fullmatch(args[1]):
                start, end = date(int(args[1]), 1, 1), date(int(args[1]), 12, 31)
            elif len(args) == 3:
                start, end = parse_date(args[1], "开始日期"), parse_date(args[2], "结束日期")
            else:
                raise DomainError("请写明时间段，如 /export items 2026-01-01 2026-12-31 或 /export items 2026")
            job = ExportJob("items", today, office, start=start, end=end)
            name, caption = (
                f"督办台账_{start.isoformat()}_{end.isoformat()}.xlsx",
                {"start": start.isoformat(), "end": end.isoformat()},
            )
        else:
            await _say(update, "usage")
            return
        async with svc.db.session(actor(person)) as s:
            await check_export(s, job)  # an empty year or range is answered now, not after the work
    except DomainError as exc:
        await _say(update, "error", message=exc.message)
        return
    await _say(update, "working", file=name)
    tasks: set[asyncio.Task] = context.bot_data.setdefault("background", set())  # stopped with the bot
    task = asyncio.create_task(_export_and_send(svc, person, job, name, caption), name=f"export:{person.id}")
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    log.info("event=export what=%s person=%s", " ".join(args)[:60], person.id)


async def _export_and_send(svc: Services, person: Person, job: ExportJob, name: str, caption: dict) -> None:
    """Write the file off the event loop, then queue it (or what went wrong) for ``person``."""
    kind, file_path = "text", None
    try:
        path = export_path(svc.settings.storage.files_dir)
        calendar = await svc.calendar() if job.kind == "items" else None
        result = await export_off_loop(svc.db.url, job, path, calendar)
        kind, file_path = "document", str(path)
        text = render("records/exports.html.j2", step=job.kind, frozen=result.frozen, **caption)
    except DomainError as exc:  # the data changed since the check
        text = render("records/exports.html.j2", step="error", message=exc.message)
    except Exception:  # logged; the person is told rather than left waiting
        log.exception("event=export_failed person=%s file=%s", person.id, name)
        text = render("records/exports.html.j2", step="failed", file=name)
    try:
        async with svc.db.session() as s:
            # A reply to the person's own request: ahead of broadcasts in the outbox.
            await enqueue(
                s,
                person,
                text,
                now=svc.clock.now(),
                kind=kind,
                file_path=file_path,
                file_name=name if file_path else None,
                urgent=True,
            )
    except Exception:  # a background task: nobody else would see it
        log.exception("event=export_not_queued person=%s file=%s", person.id, name)


async def _document(update: Update, context: Ctx, kind: str) -> None:
    ref = " ".join(context.args or []).strip()
    if not ref:
        await _say(update, "usage")
        return
    svc = context.services
    person = await context.known_person(update)
    now = svc.clock.now()
    try:
        async with svc.db.session(actor(person)) as s:
            item = await find_item(s, ref, now)
            label, plain, confidential = item_label(item), f"{item.year}-{item.number}", item.confidential
            if not confidential:
                if kind == "notice":
                    name, data = await notice_document(
                        s,
                        item.id,
                        office_name=svc.settings.office.name,
                        files_dir=svc.settings.storage.files_dir,
                        person=person,
                    )
                else:
                    name, data = await dossier_document(
                        s, item.id, office_name=svc.settings.office.name, now=now, person=person
                    )
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
