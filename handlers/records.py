"""/call, /visit, /bulletin (office) and the 确认 / 有异议 buttons on a phone record (liaison).

One guided dialog serves the three commands; each starts with the item (``/call 3`` skips that
question) and the unit (skipped when the item has only one), then:

* /call     — who was called → when (or 现在) → what was said → what was promised (or 无) → saved;
              the unit's liaisons get the record with 确认 / 有异议.
* /visit    — 明查 / 暗访 / 预告明查: a 预告 asks for the planned time and tells the liaisons; a
              visit asks when → what was found → photos (any number, 完成) → saved. 暗访 tells no one.
* /bulletin — 通报批评 (then the §8 rule it counts under) or 通报表扬 → the text → a preview of the
              bulletin as it will go out → 发布 / 取消.

有异议 asks for the disagreement in a short dialog of its own; 确认 is one tap. Every step is
checked again by the services (``bot.domain.records``) from the database; /cancel always works.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession
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

from bot.domain import records as rec
from bot.domain.attachments import MAX_ATTACHMENTS
from bot.domain.errors import DomainError, NotAllowed
from bot.domain.score import format_points
from bot.domain.targets import item_ref
from bot.domain.workflow import (
    UNIT_ROLES_OF_ASSIGNMENT,
    AlreadyHandled,
    InvalidState,
    clean_text,
    item_label,
    local_date,
)
from bot.kernel.render import render
from handlers.common import message_text, reply
from handlers.context import Ctx, actor
from handlers.dialogs import Dialog
from handlers.dialogs import add as add_dialog
from handlers.env import Env, dry_run, env_of
from handlers.keyboards import clear_tapped_keyboard, edit_tapped, set_keyboard, show_outcome
from handlers.taps import parse_tap, refuse_tap
from handlers.uploads import download_attachment
from handlers.widgets import cancel_handler, timeout_notice

if TYPE_CHECKING:
    from store.models import Person

log = logging.getLogger("duban.records")

TIMEOUT_SECONDS: float = 900
END = ConversationHandler.END
ITEM, UNIT, CONTACT, WHEN, SUMMARY, PROMISE, MODE, PLAN, PHOTOS, KIND, RULE, TEXT, PREVIEW, DISPUTE = range(14)

TITLES = {"call": "电话督查", "visit": "实地督查", "bulletin": "通报"}
WHAT = {"call": "记录电话督查", "visit": "记录实地督查", "bulletin": "发布通报"}
# The open dialog's name when another one is refused (handlers.dialogs).
DIALOG_LABELS = {
    "call": "电话督查记录（/call）",
    "visit": "实地督查记录（/visit）",
    "bulletin": "发布通报（/bulletin）",
    "dispute": "对电话督查记录提出异议",
}
MODES = {"open": "明查", "secret": "暗访", "plan": "预告明查（通知单位）"}
PLACEHOLDER = "（预检）"


def _st(context: Ctx) -> dict[str, Any]:
    st = context.chat_data.answers("rec")
    return st if st is not None else context.chat_data.open("rec")


async def _say(update: Update, step: str, markup: InlineKeyboardMarkup | None = None, **ctx: Any) -> Message:
    return await update.effective_chat.send_message(
        render("records/chat.html.j2", step=step, **ctx), reply_markup=markup, disable_web_page_preview=True
    )


async def _error(update: Update, exc: DomainError, again: bool = True) -> None:
    await _say(update, "error", message=exc.message, again=again)


async def _answered(update: Update, step: str, **ctx: Any) -> None:
    """Turn the tapped question into its answer, so its buttons cannot be tapped twice."""
    query = update.callback_query
    await query.answer()
    await edit_tapped(update, render("records/chat.html.j2", step=step, **ctx))


def _buttons(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def _cancel_row() -> list[tuple[str, str]]:
    return [("取消", "rec:x")]


async def _office(update: Update, context: Ctx) -> Person | None:
    """The acting person if they are office staff (checked in the database), else None (answered)."""
    person = await context.person(update)
    if person is None or not person.has_role("office"):
        log.warning("event=denied what=records user=%s", update.effective_user.id)
        if update.callback_query:
            await update.callback_query.answer("您没有权限执行此操作", show_alert=True)
        else:
            await reply(update, "messages/not_allowed.html.j2", what=(update.message.text or "").split()[0])
        return None
    return person


class _Refused(Exception):
    """A service refused; the person was told. ``state``: None to ask again, END to leave the dialog."""

    def __init__(self, state: int | None) -> None:
        self.state = state


async def _service(update: Update, context: Ctx, call: Callable[[AsyncSession, Person, Env], Awaitable[Any]]) -> Any:
    """``call(session, person, env)`` in one transaction; a refusal is answered and raised as _Refused."""
    person = await context.known_person(update)
    env = await env_of(context)
    try:
        async with env.services.db.session(actor(person)) as s:
            return await call(s, person, env)
    except DomainError as exc:
        raise _Refused(await _answer_refusal(update, context, exc)) from None


def _step(handler: Callable[..., Awaitable[int | None]]) -> Callable[..., Coroutine[Any, Any, int | None]]:
    """A dialog step whose service may refuse: the refusal decides the next state."""

    @functools.wraps(handler)
    async def run(update: Update, context: Ctx, *args: Any) -> int | None:
        try:
            return await handler(update, context, *args)
        except _Refused as refused:
            return refused.state

    return run


# --------------------------------------------------------------------------------------------
# Item and unit
# --------------------------------------------------------------------------------------------


async def start(update: Update, context: Ctx) -> int:
    form = update.message.text.split()[0].lstrip("/").split("@")[0]
    if await _office(update, context) is None:
        return END
    context.chat_data.open("rec", form=form)
    ref = " ".join(context.args or []).strip()
    if ref:
        return await _take_item(update, context, ref)
    await _say(update, "ask_item", title=TITLES[form])
    return ITEM


async def got_item(update: Update, context: Ctx) -> int:
    return await _take_item(update, context, update.message.text.strip()[:40])


async def _take_item(update: Update, context: Ctx, ref: str) -> int:
    st = _st(context)
    person = await _office(update, context)
    if person is None:
        return END
    env = await env_of(context)
    try:
        async with env.services.db.session(actor(person)) as s:
            item = await rec.item_for_supervision(s, person, ref, what=WHAT[st["form"]], now=env.now)
            units = [
                (a.unit_id, f"{a.unit.name}（{UNIT_ROLES_OF_ASSIGNMENT[a.role]}）", a.unit.name)
                for a in rec.units_of(item)
            ]
            st.update(
                item_id=item.id,
                number=item_label(item),
                confidential=item.confidential,
                item_title=None if item.confidential else item.title,
            )
    except DomainError as exc:
        await _error(update, exc)
        return ITEM
    st["units"] = {unit_id: name for unit_id, _, name in units}
    common = dict(title=TITLES[st["form"]], number=st["number"], item_title=st["item_title"])
    if len(units) == 1:
        st["unit_id"], st["unit"] = units[0][0], units[0][2]
        await _say(update, "item", single=True, unit=st["unit"], **common)
        return await _after_unit(update, context)
    await _say(
        update,
        "item",
        _buttons(*([(label, f"rec:unit:{uid}")] for uid, label, _ in units), _cancel_row()),
        single=False,
        unit=None,
        **common,
    )
    return UNIT


async def unit_chosen(update: Update, context: Ctx) -> int | None:
    st = _st(context)
    unit_id = int(update.callback_query.data.rsplit(":", 1)[1])
    if unit_id not in st.get("units", {}):
        await update.callback_query.answer("该单位不在本事项中，请重新选择", show_alert=True)
        return None
    st["unit_id"], st["unit"] = unit_id, st["units"][unit_id]
    await _answered(update, "unit_chosen", unit=st["unit"])
    return await _after_unit(update, context)


async def _after_unit(update: Update, context: Ctx) -> int:
    form = _st(context)["form"]
    if form == "call":
        await _say(update, "ask_contact")
        return CONTACT
    if form == "visit":
        await _say(
            update,
            "ask_mode",
            _buttons(
                [(MODES["open"], "rec:m:open"), (MODES["secret"], "rec:m:secret")],
                [(MODES["plan"], "rec:m:plan")],
                _cancel_row(),
            ),
        )
        return MODE
    await _say(
        update,
        "ask_kind",
        _buttons([("通报批评", "rec:k:criticism"), ("通报表扬", "rec:k:commendation")], _cancel_row()),
    )
    return KIND


# --------------------------------------------------------------------------------------------
# /call and /visit
# --------------------------------------------------------------------------------------------


async def got_contact(update: Update, context: Ctx) -> int | None:
    try:
        _st(context)["contact"] = clean_text(update.message.text, "通话对象", rec.MAX_CONTACT)
    except DomainError as exc:
        await _error(update, exc)
        return None
    return await _ask_when(update, context)


async def _ask_when(update: Update, context: Ctx) -> int:
    what = "通话" if _st(context)["form"] == "call" else "督查"
    await _say(update, "ask_when", _buttons([("现在", "rec:now")], _cancel_row()), what=what)
    return WHEN


async def got_when(update: Update, context: Ctx) -> int | None:
    try:
        when = rec.parse_when(update.message.text, context.services.clock.now())
    except DomainError as exc:
        await _error(update, exc)
        return None
    return await _took_when(update, context, when)


async def when_now(update: Update, context: Ctx) -> int:
    now = context.services.clock.now()
    what = "通话" if _st(context)["form"] == "call" else "督查"
    await _answered(update, "when_chosen", what=what, when=now)
    return await _took_when(update, context, now)


async def _took_when(update: Update, context: Ctx, when: datetime) -> int:
    st = _st(context)
    st["when"] = when
    if st["form"] == "call":
        await _say(update, "ask_call_summary")
    else:
        await _say(update, "ask_visit_summary")
    return SUMMARY


async def got_summary(update: Update, context: Ctx) -> int | None:
    st = _st(context)
    try:
        st["summary"] = clean_text(update.message.text, "通话内容" if st["form"] == "call" else "督查情况")
    except DomainError as exc:
        await _error(update, exc)
        return None
    if st["form"] == "call":
        await _say(update, "ask_promise", _buttons([("无", "rec:skip")], _cancel_row()))
        return PROMISE
    st["files"] = []
    st["status_id"] = None
    await _say(update, "ask_photos", _buttons([("完成", "rec:ok")], _cancel_row()))
    return PHOTOS


async def got_promise(update: Update, context: Ctx) -> int | None:
    return await _save_call(update, context, update.message.text)


async def no_promise(update: Update, context: Ctx) -> int | None:
    await _answered(update, "ask_promise")
    return await _save_call(update, context, None)


@_step
async def _save_call(update: Update, context: Ctx, promise: str | None) -> int | None:
    st = _st(context)
    sent = await _service(
        update,
        context,
        lambda s, me, env: rec.record_call(
            s,
            me,
            item_id=st["item_id"],
            unit_id=st["unit_id"],
            contact=st["contact"],
            occurred_at=st["when"],
            summary=st["summary"],
            promise=promise,
            now=env.now,
        ),
    )
    log.info(
        "event=action code=/call target=%s user=%s record=%s", st["item_id"], update.effective_user.id, sent.record.id
    )
    context.chat_data.close("rec")
    await _say(
        update, "call_done", number=st["number"], unit=st["unit"], told=sent.told, confidential=st["confidential"]
    )
    return END


async def _answer_refusal(update: Update, context: Ctx, exc: DomainError) -> int | None:
    """A bad answer is asked again; a refusal that typing cannot fix ends the dialog."""
    if isinstance(exc, (NotAllowed, AlreadyHandled, InvalidState)):
        log.info("event=action_refused what=records user=%s reason=%s", update.effective_user.id, exc.message)
        context.chat_data.close("rec")
        await _error(update, exc, again=False)
        return END
    await _error(update, exc)
    return None


async def mode_chosen(update: Update, context: Ctx) -> int:
    st = _st(context)
    mode = update.callback_query.data.rsplit(":", 1)[1]
    st["mode"] = mode
    await _answered(update, "mode_chosen", mode=MODES[mode])
    if mode == "plan":
        await _say(update, "ask_plan", unit=st["unit"])
        return PLAN
    return await _ask_when(update, context)


@_step
async def got_plan(update: Update, context: Ctx) -> int | None:
    st = _st(context)
    told = await _service(
        update,
        context,
        lambda s, me, env: rec.announce_visit(
            s, me, item_id=st["item_id"], unit_id=st["unit_id"], planned=message_text(update), now=env.now
        ),
    )
    context.chat_data.close("rec")
    await _say(update, "plan_done", unit=st["unit"], told=told)
    return END


async def got_photo(update: Update, context: Ctx) -> int | None:
    st = _st(context)
    try:
        if len(st["files"]) >= MAX_ATTACHMENTS:
            raise DomainError(f"附件太多：一次最多{MAX_ATTACHMENTS}个，这个附件未收录。")
        file = await download_attachment(update, context)
    except DomainError as exc:
        await _error(update, exc)
        return None
    if file is None:
        await _say(update, "wrong", photos=True)
        return None
    st["files"].append(file)
    await _drop_status(update, context, st)
    status = await _say(
        update, "photos", _buttons([("完成", "rec:ok")], _cancel_row()), count=len(st["files"]), last=file.file_name
    )
    st["status_id"] = status.message_id
    return None


async def _drop_status(update: Update, context: Ctx, st: dict) -> None:
    """Only the newest status message keeps the 完成 / 取消 buttons."""
    if st.get("status_id") is None:
        return
    try:
        await set_keyboard(context, update.effective_chat.id, st["status_id"], None)
    except TelegramError:
        pass
    st["status_id"] = None


@_step
async def photos_done(update: Update, context: Ctx) -> int | None:
    st = _st(context)
    await update.callback_query.answer()
    await _drop_status(update, context, st)
    await clear_tapped_keyboard(update, context)
    secret = st["mode"] == "secret"
    sent = await _service(
        update,
        context,
        lambda s, me, env: rec.record_visit(
            s,
            me,
            item_id=st["item_id"],
            unit_id=st["unit_id"],
            occurred_at=st["when"],
            summary=st["summary"],
            unannounced=secret,
            photos=st["files"],
            now=env.now,
        ),
    )
    log.info(
        "event=action code=/visit target=%s user=%s record=%s", st["item_id"], update.effective_user.id, sent.record.id
    )
    context.chat_data.close("rec")
    await _say(
        update,
        "visit_done",
        number=st["number"],
        unit=st["unit"],
        secret=secret,
        told=sent.told,
        photos=len(st["files"]),
    )
    return END


# --------------------------------------------------------------------------------------------
# /bulletin
# --------------------------------------------------------------------------------------------


async def kind_chosen(update: Update, context: Ctx) -> int:
    st = _st(context)
    kind = update.callback_query.data.rsplit(":", 1)[1]
    st["kind"] = kind
    await _answered(update, "kind_chosen", kind=rec.BULLETIN_KINDS[kind])
    rules = rec.bulletin_rules(kind, context.services.score_rules)
    if kind == "commendation":
        st["rule"] = rules[0].code
        await _say(update, "ask_text")
        return TEXT
    await _say(
        update, "ask_rule", _buttons(*([(f"{r.clause} {r.name}", f"rec:r:{r.code}")] for r in rules), _cancel_row())
    )
    return RULE


async def rule_chosen(update: Update, context: Ctx) -> int | None:
    st = _st(context)
    code = update.callback_query.data.split(":", 2)[2]
    rule = next((r for r in rec.bulletin_rules(st["kind"], context.services.score_rules) if r.code == code), None)
    if rule is None:
        await update.callback_query.answer("无效的选择", show_alert=True)
        return None
    st["rule"] = code
    await _answered(update, "rule_chosen", rule=f"{rule.clause} {rule.name}")
    await _say(update, "ask_text")
    return TEXT


@_step
async def got_text(update: Update, context: Ctx) -> int | None:
    st = _st(context)
    text = message_text(update)
    preview = await _service(
        update,
        context,
        lambda s, me, env: rec.preview_bulletin(
            s,
            me,
            item_id=st["item_id"],
            unit_id=st["unit_id"],
            kind=st["kind"],
            rule_code=st["rule"],
            text=text,
            office_name=env.services.settings.office.name,
            now=env.now,
            rules=env.score_rules,
        ),
    )
    st["text"] = text
    rule = context.services.score_rules[st["rule"]]
    await _say(
        update,
        "preview",
        _buttons([("发布", "rec:ok"), ("取消", "rec:x")]),
        preview=preview,
        unit=st["unit"],
        points=format_points(rule.points),
    )
    return PREVIEW


@_step
async def publish(update: Update, context: Ctx) -> int | None:
    st = _st(context)
    await update.callback_query.answer()
    await clear_tapped_keyboard(update, context)

    async def issue(s: AsyncSession, me: Person, env: Env) -> tuple[rec.Issued, int]:
        issued = await rec.issue_bulletin(
            s,
            me,
            item_id=st["item_id"],
            unit_id=st["unit_id"],
            kind=st["kind"],
            rule_code=st["rule"],
            text=st["text"],
            office_name=env.services.settings.office.name,
            now=env.now,
            rules=env.score_rules,
        )
        return issued, await rec.bulletin_seq(s, issued.bulletin)

    issued, seq = await _service(update, context, issue)
    log.info(
        "event=action code=/bulletin target=%s user=%s bulletin=%s",
        st["item_id"],
        update.effective_user.id,
        issued.bulletin.id,
    )
    context.chat_data.close("rec")
    rule = context.services.score_rules[st["rule"]]
    await _say(
        update,
        "bulletin_done",
        year=local_date(issued.bulletin.issued_at).year,
        seq=seq,
        told=issued.told,
        unit=st["unit"],
        points=format_points(rule.points),
        rule=rule.name,
    )
    return END


# --------------------------------------------------------------------------------------------
# 确认 / 有异议 (the unit's liaison)
# --------------------------------------------------------------------------------------------


async def _record_item(context: Ctx, record_id: int) -> tuple[int | None, str]:
    async with context.services.db.session() as s:
        ref = await item_ref(s, "record", record_id)
    return (ref.item_id, ref.label) if ref else (None, "")


async def dispute_start(update: Update, context: Ctx) -> int | None:
    query = update.callback_query
    person = await context.known_person(update)
    action = await parse_tap(update, person)
    busy = END if context.chat_data.answers("rec") is None else None
    if action is None:
        return busy
    env = await env_of(context)
    exc = await dry_run(
        context, lambda s: rec.dispute_record(s, person, action.target_id, reason=PLACEHOLDER, now=env.now)
    )
    if exc is not None:
        await refuse_tap(update, context, person, action, exc)
        return busy
    await query.answer()
    _, number = await _record_item(context, action.target_id)
    message = query.message if isinstance(query.message, Message) else None
    context.chat_data.open(
        "rec",
        form="dispute",
        record_id=action.target_id,
        data=query.data,
        chat_id=message.chat.id if message else None,
        message_id=message.message_id if message else None,
        markup=message.reply_markup if message else None,
    )
    await _say(update, "ask_dispute", number=number)
    return DISPUTE


@_step
async def got_dispute(update: Update, context: Ctx) -> int | None:
    st = _st(context)
    record = await _service(
        update,
        context,
        lambda s, me, env: rec.dispute_record(s, me, st["record_id"], reason=message_text(update), now=env.now),
    )
    item_id = record.item_id
    log.info("event=action code=c:no target=%s user=%s", st["record_id"], update.effective_user.id)
    context.chat_data.close("rec")
    await _say(update, "dispute_done")
    if st["chat_id"] is not None:
        await show_outcome(
            context, st["chat_id"], st["message_id"], st["markup"], st["data"], "row", "⚠️ 已提出异议", item_id
        )
    return END


# --------------------------------------------------------------------------------------------
# Leaving the dialog
# --------------------------------------------------------------------------------------------


cancel = cancel_handler("rec", "records/chat.html.j2", cleanup=_drop_status, step="cancelled")
timed_out = timeout_notice("rec", "records/chat.html.j2", step="timeout")


async def wrong_input(update: Update, context: Ctx) -> None:
    await _say(update, "wrong", photos=False)


async def stale_button(update: Update, context: Ctx) -> None:
    await update.callback_query.answer("该操作已结束，请重新发送命令。", show_alert=True)


def register(app: Application) -> None:
    """The dialog and the buttons."""
    private = filters.ChatType.PRIVATE
    text = filters.TEXT & ~filters.COMMAND & private
    media = (filters.PHOTO | filters.Document.ALL | filters.VIDEO) & private

    def texts(callback):  # noqa: ANN001, ANN202
        return [MessageHandler(text, callback)]

    add_dialog(
        app,
        Dialog(
            entry_points=[
                CommandHandler(["call", "visit", "bulletin"], start, filters=private),
                CallbackQueryHandler(dispute_start, pattern=r"^c:no:"),
            ],
            states={
                ITEM: texts(got_item),
                UNIT: [CallbackQueryHandler(unit_chosen, pattern=r"^rec:unit:\d{1,10}$")],
                CONTACT: texts(got_contact),
                WHEN: [*texts(got_when), CallbackQueryHandler(when_now, pattern=r"^rec:now$")],
                SUMMARY: texts(got_summary),
                PROMISE: [*texts(got_promise), CallbackQueryHandler(no_promise, pattern=r"^rec:skip$")],
                MODE: [CallbackQueryHandler(mode_chosen, pattern=r"^rec:m:(open|secret|plan)$")],
                PLAN: texts(got_plan),
                PHOTOS: [MessageHandler(media, got_photo), CallbackQueryHandler(photos_done, pattern=r"^rec:ok$")],
                KIND: [CallbackQueryHandler(kind_chosen, pattern=r"^rec:k:(criticism|commendation)$")],
                RULE: [CallbackQueryHandler(rule_chosen, pattern=r"^rec:r:[a-z_.]{1,40}$")],
                TEXT: texts(got_text),
                PREVIEW: [CallbackQueryHandler(publish, pattern=r"^rec:ok$")],
                DISPUTE: texts(got_dispute),
                ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
            },
            fallbacks=[MessageHandler(~filters.COMMAND & private, wrong_input)],
            allow_reentry=True,
            timeout=lambda: TIMEOUT_SECONDS,
            name="records",
            label=lambda context: DIALOG_LABELS.get(
                (context.chat_data.answers("rec") or {}).get("form", ""), "督查记录"
            ),
            cancel_data="rec:x",
            cancel=cancel,
        ),
    )
    app.add_handler(CallbackQueryHandler(stale_button, pattern=r"^rec:"))
