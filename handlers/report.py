"""/report: the 督查工作情况报告 on demand, and the office head's 同意报送 / 退回 on it.

* ``/report`` (office staff, office head) — month buttons; ``/report 2026-11`` builds that month's
  report at once. The Word file comes back to the asker and goes to the office head(s) to approve.
* 同意报送 — the office head: the file goes to every county leader; the asker is told.
* 退回 — the office head is asked the reason (a dialog), then the asker is told, with a button to
  build the report again.

The monthly report is built by the sweep (``bot.documents.report.monthly_report_sweep``) and goes
through the same approval. The services check every role in the database, whatever the payload.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.documents.report import build_report
from bot.domain.errors import DomainError, NotAllowed
from bot.domain.report import (
    APPROVE,
    BUILD,
    RETURN,
    Period,
    approve_report,
    check_pending,
    check_requester,
    parse_period,
    recent_periods,
    return_report,
)
from bot.domain.workflow import clean_text, local_date, office_heads
from bot.kernel.render import render
from handlers import dialogs
from handlers.common import requires
from handlers.context import Ctx, actor
from handlers.dialogs import Dialog
from handlers.widgets import cancel_handler, timeout_notice

log = logging.getLogger("duban.report")

TIMEOUT_SECONDS: float = 900
END = ConversationHandler.END
REASON = 0
SLOT = "report_return"  # the dialog's answers in the chat's dialog slot (handlers.context.ChatData)
REASON_LIMIT = 500
CANCEL = "rp:x"
_BUILD = re.compile(rf"^{BUILD}:(\d{{4}})(\d{{2}})$")
_ID = re.compile(r"^rp:(?:ok|no):(\d{1,9})$")


async def _say(update: Update, step: str, markup: InlineKeyboardMarkup | None = None, **ctx: object) -> Message:
    return await update.effective_chat.send_message(
        render("report/chat.html.j2", step=step, **ctx), reply_markup=markup, disable_web_page_preview=True
    )


async def _clear_keyboard(update: Update) -> None:
    """Take the buttons off the tapped message (best effort: it may be gone)."""
    query = update.callback_query
    if query is not None and isinstance(query.message, Message):
        try:
            # PTB would send the Defaults' parse_mode, which is no parameter of this method.
            await query.edit_message_reply_markup(None, api_kwargs={"parse_mode": None})
        except TelegramError:
            pass


async def _refused(update: Update, exc: DomainError) -> None:
    level = logging.WARNING if isinstance(exc, NotAllowed) else logging.INFO
    log.log(level, "event=report_refused user=%s reason=%s", update.effective_user.id, exc.message)
    if update.callback_query is not None:
        await update.callback_query.answer(exc.message[:200], show_alert=True)
    else:
        await _say(update, "error", message=exc.message)


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------


def _menu(today) -> InlineKeyboardMarkup:  # noqa: ANN001
    buttons = [
        InlineKeyboardButton(p.label, callback_data=f"{BUILD}:{p.year}{p.month:02d}") for p in recent_periods(today)
    ]
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


@requires("office", "office_head", what="/report")
async def report_command(update: Update, context: Ctx) -> None:
    today = local_date(context.services.clock.now())
    args = context.args or []
    if not args:
        await _say(update, "menu", _menu(today))
        return
    try:
        period = parse_period(" ".join(args), today)
    except DomainError as exc:
        await _say(update, "error", message=exc.message)
        await _say(update, "usage", example=Period.of(today).previous().key)
        return
    await _build(update, context, period)


@requires("office", "office_head", what="生成督查工作情况报告")
async def build_tapped(update: Update, context: Ctx) -> None:
    m = _BUILD.match(update.callback_query.data or "")
    today = local_date(context.services.clock.now())
    try:
        period = parse_period(f"{m.group(1)}-{m.group(2)}", today)
    except DomainError as exc:
        await _refused(update, exc)
        return
    await update.callback_query.answer(f"正在生成{period.label}报告…")
    await _clear_keyboard(update)
    await _build(update, context, period)


async def _build(update: Update, context: Ctx, period: Period) -> None:
    svc = context.services
    person = await context.known_person(update)
    now = svc.clock.now()
    calendar = await svc.calendar()
    try:
        async with svc.db.session(actor(person), "report.build") as s:
            me = await check_requester(s, person)
            heads = await office_heads(s)
            if not heads:
                await _say(update, "no_head")
                return
            data, row = await build_report(s, period, calendar, svc.settings, requested_by=me, now=now)
    except DomainError as exc:
        await _refused(update, exc)
        return
    log.info("event=report_built period=%s report=%s by=%s", period.key, row.id, person.id)
    with Path(row.file_path).open("rb") as fh:
        await update.effective_chat.send_document(
            fh,
            filename=row.file_name,
            caption=render("report/chat.html.j2", step="submitted", d=data, heads=len(heads)),
        )


# --------------------------------------------------------------------------------------------
# The office head's decision
# --------------------------------------------------------------------------------------------


def _report_id(update: Update) -> int:
    return int(_ID.match(update.callback_query.data or "").group(1))


@requires("office_head", what="审核督查工作情况报告")
async def approve_tapped(update: Update, context: Ctx) -> None:
    svc = context.services
    person = await context.known_person(update)
    try:
        async with svc.db.session(actor(person), "report.approve") as s:
            row, leaders = await approve_report(s, person, _report_id(update), now=svc.clock.now())
            label = Period(*map(int, row.period.split("-"))).label
    except DomainError as exc:
        await _refused(update, exc)
        return
    await update.callback_query.answer("已同意报送")
    await _clear_keyboard(update)
    await _say(update, "approved", period=label, leaders=leaders)


@requires("office_head", what="审核督查工作情况报告", denied=END)
async def return_tapped(update: Update, context: Ctx) -> int:
    svc = context.services
    person = await context.known_person(update)
    report_id = _report_id(update)
    try:
        async with svc.db.session(actor(person)) as s:  # a dry run: may this be returned now?
            row = await check_pending(s, person, report_id)
            label = Period(*map(int, row.period.split("-"))).label
    except DomainError as exc:
        await _refused(update, exc)
        return END
    await update.callback_query.answer()
    context.chat_data.open(SLOT, id=report_id, period=label)
    cancel = InlineKeyboardMarkup([[InlineKeyboardButton("取消", callback_data=CANCEL)]])
    await _say(update, "reason", cancel, period=label)
    return REASON


async def got_reason(update: Update, context: Ctx) -> int | None:
    svc = context.services
    person = await context.known_person(update)
    state = context.chat_data.answers(SLOT) or {}
    try:
        reason = clean_text(update.message.text, "退回理由", REASON_LIMIT)
    except DomainError as exc:  # blank or too long: ask again
        await _say(update, "error", message=exc.message)
        return None
    try:
        async with svc.db.session(actor(person), "report.return") as s:
            await return_report(s, person, state.get("id", 0), reason=reason, now=svc.clock.now())
    except DomainError as exc:
        await _say(update, "error", message=exc.message)
        context.chat_data.close(SLOT)
        return END
    context.chat_data.close(SLOT)
    await _say(update, "returned", period=state.get("period", ""))
    return END


async def wrong_input(update: Update, context: Ctx) -> None:
    await _say(update, "wrong")


async def stale_cancel(update: Update, context: Ctx) -> None:
    await update.callback_query.answer("该操作已结束。", show_alert=True)


def register(app: Application) -> None:
    private = filters.ChatType.PRIVATE
    text = filters.TEXT & ~filters.COMMAND & private
    dialogs.add(
        app,
        Dialog(
            entry_points=[CallbackQueryHandler(return_tapped, pattern=rf"^{RETURN}:\d{{1,9}}$")],
            states={
                REASON: [MessageHandler(text, got_reason)],
                ConversationHandler.TIMEOUT: [
                    TypeHandler(Update, timeout_notice(SLOT, "report/chat.html.j2", step="timeout"))
                ],
            },
            fallbacks=[MessageHandler(~filters.COMMAND & private, wrong_input)],
            allow_reentry=True,
            timeout=lambda: TIMEOUT_SECONDS,
            name="report_return",
            label="退回督查工作情况报告",
            cancel_data=CANCEL,
            cancel=cancel_handler(SLOT, "report/chat.html.j2", step="cancelled"),
        ),
    )
    app.add_handler(CommandHandler("report", report_command, filters=private))
    app.add_handler(CallbackQueryHandler(build_tapped, pattern=rf"^{BUILD}:\d{{6}}$"))
    app.add_handler(CallbackQueryHandler(approve_tapped, pattern=rf"^{APPROVE}:\d{{1,9}}$"))
    app.add_handler(CallbackQueryHandler(stale_cancel, pattern=rf"^{CANCEL}$"))
