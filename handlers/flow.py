"""Buttons on notices and the short dialogs they open: where a tap becomes a service call.

Every workflow button carries ``<scope>:<verb>:<id>`` (``bot.domain.actions``). A tap goes one of
two ways, declared by the role modules (``approval``, ``assignment``, ``review``, ``archive``):

* ``Direct`` — the service is called at once (签收, 同意立项, 同意延期, 审阅同意, 归档 …);
* ``Ask`` — the service needs input first (a reason, progress with files, a date, a unit). The
  same service is first run as a *dry run* (its transaction is always rolled back) with a
  placeholder input, so a person who may not act, or a button that is stale, is refused at the
  tap — not after typing a reason. Then the person is asked; their answer calls the service for
  real, which checks everything again.

Whatever a button claims, the services decide from the database (the person comes from
``context.person(update)``). Refusals answer the tap with a Chinese alert; ``NotAllowed`` is
logged (it may be a forged payload). After a success the tapped message's keyboard shows the
outcome: the used button (or its row, or the whole keyboard) becomes a "✅ …" button that opens
the item. A stale button (``AlreadyHandled``) turns into "☑️ 已处理".

Progress by replying: a liaison who replies to a 督办通知单 (text, photo, document or video) adds
one progress entry per message; the photos of one album (one ``media_group_id``) go into one entry.
The 反馈进展 / 提交办结报告 / 工作方案 buttons instead collect several messages until 完成.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.domain.actions import ACTIONS, Action, MalformedAction, action_data, parse_action, parse_id
from bot.domain.attachments import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    AttachmentIn,
    check_size,
    store_attachment_bytes,
)
from bot.domain.directory import find_units
from bot.domain.errors import DomainError, NotAllowed
from bot.domain.workdays import WorkCalendar
from bot.domain.workflow import MAX_TEXT, OFFICE_TZ, AlreadyHandled, InvalidState, format_number
from bot.kernel.render import render
from bot.runtime.services import Services
from handlers.common import reply
from handlers.dialogs import Dialog, TimedConversation  # noqa: F401 (TimedConversation: re-exported)
from handlers.context import Ctx, actor
from store.models import OutboxMessage, Person
from store.workflow import (
    Assignment,
    CompletionReport,
    ExtensionRequest,
    Item,
    Milestone,
    Plan,
    Transfer,
)

log = logging.getLogger("duban.actions")

ASK_TIMEOUT_SECONDS: float = 600  # an abandoned prompt is cancelled politely (tests lower this)
END = ConversationHandler.END
TEXT, OPTIONAL, COLLECT, DATE, UNIT = range(5)
_STATE_OF = {"text": TEXT, "optional": OPTIONAL, "collect": COLLECT, "date_text": DATE, "unit": UNIT}

PHOTO_PREFIX = "照片-"  # names given to photos (Telegram photos have no file name)
# Files nobody in a county office needs to send and nobody should open from a chat.
BLOCKED_EXTENSIONS = frozenset({
    ".exe", ".bat", ".cmd", ".com", ".scr", ".msi", ".js", ".vbs", ".ps1", ".sh", ".apk", ".jar", ".dll", ".lnk",
})
SCOPES = r"^(?:i|a|m|x|t|r|l):"  # the workflow buttons' scopes (bot.domain.actions)


# --------------------------------------------------------------------------------------------
# What the role modules declare
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Env:
    """What a service call needs besides the person and the record."""

    services: Services
    calendar: WorkCalendar
    now: datetime


@dataclass
class Answer:
    """What the person gave in an ``Ask`` dialog."""

    text: str | None = None
    files: list[AttachmentIn] = field(default_factory=list)
    day: date | None = None
    unit_id: int | None = None


Call = Callable[[AsyncSession, Person, int, Env], Awaitable[Any]]
Submit = Callable[[AsyncSession, Person, int, Answer, Env], Awaitable[Any]]
Outcome = str | Callable[[Any], str]


@dataclass(frozen=True)
class Direct:
    code: str
    call: Call
    toast: str  # the callback answer after a success
    outcome: Outcome  # the label of the button that replaces the used one
    edit: str = "row"  # row | button | all | none: what of the tapped keyboard the outcome replaces
    # Run after the success was answered (e.g. the archive sends the dossier).
    after: Callable[[Update, Ctx, Person, int, Any], Awaitable[None]] | None = None


@dataclass(frozen=True)
class Ask:
    code: str
    kind: str  # text | optional | collect | date_text | unit
    submit: Submit
    outcome: Outcome
    edit: str = "row"
    # The dry run at the tap; by default ``submit`` with a placeholder text.
    probe: Call | None = None
    # Extra context for the confirmation (chat/ask_done.html.j2), read inside the transaction.
    summary: Callable[[Any], dict] | None = None


PLACEHOLDER = "（预检）"


def text_probe(submit: Submit) -> Call:
    async def probe(s: AsyncSession, me: Person, target_id: int, env: Env) -> Any:
        return await submit(s, me, target_id, Answer(text=PLACEHOLDER), env)

    return probe


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


async def env_of(context: Ctx) -> Env:
    svc = context.services
    return Env(svc, await svc.calendar(), svc.clock.now())


class _DryRun(Exception):
    pass


async def dry_run(context: Ctx, call: Callable[[AsyncSession], Awaitable[Any]]) -> DomainError | None:
    """Run ``call`` in a transaction that is always rolled back; the refusal it raised, if any."""
    try:
        async with context.services.db.session() as s:
            await call(s)
            raise _DryRun
    except _DryRun:
        return None
    except DomainError as exc:
        return exc


@dataclass(frozen=True)
class Ref:
    item_id: int
    label: str  # 督字〔2026〕3号, or 登记号N for a draft
    confidential: bool


_ITEM_ID_OF = {
    "item": lambda i: select(Item.id).where(Item.id == i),
    "assignment": lambda i: select(Assignment.item_id).where(Assignment.id == i),
    "report": lambda i: select(Assignment.item_id).join(
        CompletionReport, CompletionReport.assignment_id == Assignment.id).where(CompletionReport.id == i),
    "extension": lambda i: select(Assignment.item_id).join(
        ExtensionRequest, ExtensionRequest.assignment_id == Assignment.id).where(ExtensionRequest.id == i),
    "transfer": lambda i: select(Assignment.item_id).join(
        Transfer, Transfer.assignment_id == Assignment.id).where(Transfer.id == i),
    "milestone": lambda i: select(Assignment.item_id).join(Plan, Plan.assignment_id == Assignment.id).join(
        Milestone, Milestone.plan_id == Plan.id).where(Milestone.id == i),
}


async def item_ref(session: AsyncSession, target: str, target_id: int) -> Ref | None:
    """The item a button's record belongs to (for the outcome button and the item's number)."""
    item_id = await session.scalar(_ITEM_ID_OF[target](target_id))
    if item_id is None:
        return None
    row = (await session.execute(
        select(Item.id, Item.year, Item.number, Item.confidential).where(Item.id == item_id))).one()
    return Ref(row.id, format_number(row.year, row.number) or f"登记号{row.id}", row.confidential)


async def ref_for(context: Ctx, action: Action) -> Ref | None:
    async with context.services.db.session() as s:
        return await item_ref(s, action.spec.target, action.target_id)


def view_button(label: str, item_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(label[:60], callback_data=action_data("i:v", item_id))


def markup_of(rows: list[list[Any]] | None) -> InlineKeyboardMarkup | None:
    """``bot.outbox.queue.Button`` rows (what the domain builds) → an inline keyboard."""
    if not rows:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.text, callback_data=b.data) for b in row] for row in rows])


async def show_outcome(
    context: Ctx, chat_id: int, message_id: int, markup: InlineKeyboardMarkup | None, data: str, mode: str,
    label: str, item_id: int | None,
) -> None:
    """Replace the used button (``mode``: button, its row, or all of the keyboard) with ``label``.

    Only when the tapped message really carries ``data`` (a forged tap elsewhere changes nothing)."""
    if mode == "none" or markup is None:
        return
    rows = [list(r) for r in markup.inline_keyboard]
    if not any(b.callback_data == data for r in rows for b in r):
        return
    out = view_button(label, item_id) if item_id else None
    if mode == "all":
        new = [[out]] if out else []
    else:
        new = []
        for r in rows:
            if not any(b.callback_data == data for b in r):
                new.append(r)
            elif mode == "row":
                new.append([out] if out else [])
            else:
                new.append([out if b.callback_data == data else b for b in r if out or b.callback_data != data])
    new = [r for r in new if r]
    try:
        await set_keyboard(context, chat_id, message_id, InlineKeyboardMarkup(new) if new else None)
    except TelegramError as exc:  # too old, deleted, or not modified: the action itself succeeded
        log.info("event=keyboard_not_updated chat=%s message=%s error=%s", chat_id, message_id, exc)


async def set_keyboard(context: Ctx, chat_id: int, message_id: int, markup: InlineKeyboardMarkup | None) -> None:
    """editMessageReplyMarkup. PTB sends the Defaults' parse_mode with it, which is no parameter of
    that method (the emulator's spec check refuses it): ``api_kwargs`` sets it to None, which PTB drops."""
    await context.bot.edit_message_reply_markup(chat_id, message_id, reply_markup=markup,
                                                api_kwargs={"parse_mode": None})


async def clear_tapped_keyboard(update: Update, context: Ctx) -> None:
    """Take the buttons off the message whose button was just tapped (best effort)."""
    message = update.callback_query.message if update.callback_query else None
    if isinstance(message, Message):
        try:
            await set_keyboard(context, message.chat.id, message.message_id, None)
        except TelegramError:
            pass


async def edit_tapped(update: Update, text: str, reply_markup: InlineKeyboardMarkup | None = None) -> bool:
    """Edit the text of the message whose button was tapped (best effort). False when it cannot be
    edited: gone or inaccessible (a forged or very old tap), not the bot's, or Telegram refused."""
    query = update.callback_query
    if query is None or not isinstance(query.message, Message):
        return False
    try:
        await query.edit_message_text(text, reply_markup=reply_markup, disable_web_page_preview=True)
    except TelegramError as exc:
        if "not modified" in str(exc).lower():
            return True
        log.info("event=tapped_message_not_edited user=%s error=%s", query.from_user.id, exc)
        return False
    return True


def _remember_outcome(context: Ctx, message_id: int, data: str) -> None:
    outcomes: list = context.chat_data.setdefault("outcomes", [])
    outcomes.append((message_id, data))
    del outcomes[:-20]


def _label(outcome: Outcome, result: Any) -> str:
    return outcome(result) if callable(outcome) else outcome


def _log_refusal(update: Update, person: Person | None, what: str, exc: DomainError) -> None:
    level = logging.WARNING if isinstance(exc, (NotAllowed, MalformedAction)) else logging.INFO
    log.log(level, "event=action_refused what=%s user=%s person=%s kind=%s reason=%s", what,
            update.effective_user.id if update.effective_user else None, person.id if person else None,
            type(exc).__name__, exc.message)


async def refuse_tap(update: Update, context: Ctx, person: Person | None, action: Action | None, exc: DomainError,
                     mode: str = "row") -> None:
    """Answer a refused tap with an alert; a stale button also shows "已处理" from now on."""
    query = update.callback_query
    _log_refusal(update, person, query.data if query else "?", exc)
    await query.answer(exc.message[:200], show_alert=True)
    if isinstance(exc, AlreadyHandled) and action is not None and isinstance(query.message, Message):
        if (query.message.message_id, query.data) in context.chat_data.get("outcomes", ()):
            return  # a second tap on a button whose outcome this chat was just shown: keep that label
        ref = await ref_for(context, action)
        await show_outcome(context, query.message.chat.id, query.message.message_id, query.message.reply_markup,
                           query.data, mode if mode != "none" else "button", "☑️ 已处理", ref.item_id if ref else None)


async def parse_tap(update: Update, person: Person | None) -> Action | None:
    """The action a button asks for; a malformed payload is answered and logged (None)."""
    query = update.callback_query
    try:
        return parse_action(query.data)
    except MalformedAction as exc:
        _log_refusal(update, person, repr((query.data or "")[:80]), exc)
        await query.answer(exc.message, show_alert=True)
        return None


# --------------------------------------------------------------------------------------------
# Direct actions
# --------------------------------------------------------------------------------------------

_DIRECTS: dict[str, Direct] = {}
_ASKS: dict[str, Ask] = {}


def _collect_specs() -> None:
    if _DIRECTS or _ASKS:
        return
    from handlers import approval, archive, assignment, review  # the role modules declare their buttons

    for module in (approval, assignment, review, archive):
        for d in getattr(module, "DIRECTS", ()):
            _DIRECTS[d.code] = d
        for a in getattr(module, "ASKS", ()):
            _ASKS[a.code] = a
    unknown = (set(_DIRECTS) | set(_ASKS)) - set(ACTIONS)
    assert not unknown, f"buttons without an action code: {unknown}"


async def on_direct(update: Update, context: Ctx) -> None:
    query = update.callback_query
    person = await context.person(update)
    action = await parse_tap(update, person)
    if action is None:
        return
    spec = _DIRECTS.get(action.code)
    if spec is None:  # an Ask code outside its dialog never gets here; a view code has its own handler
        await refuse_tap(update, context, person, None, MalformedAction("按钮已失效，请重新打开事项后再操作"))
        return
    env = await env_of(context)
    try:
        async with env.services.db.session(actor(person)) as s:
            result = await spec.call(s, person, action.target_id, env)
            ref = await item_ref(s, action.spec.target, action.target_id)
            label = _label(spec.outcome, result)
    except DomainError as exc:
        await refuse_tap(update, context, person, action, exc, spec.edit)
        return
    log.info("event=action code=%s target=%s person=%s", action.code, action.target_id, person.id)
    await query.answer(spec.toast)
    if isinstance(query.message, Message):
        _remember_outcome(context, query.message.message_id, query.data)
        await show_outcome(context, query.message.chat.id, query.message.message_id, query.message.reply_markup,
                           query.data, spec.edit, label, ref.item_id if ref else None)
    if spec.after is not None:
        await spec.after(update, context, person, action.target_id, result)


# --------------------------------------------------------------------------------------------
# Ask dialogs
# --------------------------------------------------------------------------------------------


def _prompt_keyboard(kind: str) -> InlineKeyboardMarkup:
    if kind == "collect":
        return _collect_keyboard()
    row = [InlineKeyboardButton("取消", callback_data="ask:x")]
    if kind == "optional":
        row.insert(0, InlineKeyboardButton("跳过", callback_data="ask:skip"))
    return InlineKeyboardMarkup([row])


def _collect_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("完成", callback_data="ask:ok"),
                                  InlineKeyboardButton("取消", callback_data="ask:x")]])


async def _send(update: Update, template: str, reply_markup: Any = None, **ctx: object) -> Message:
    return await update.effective_chat.send_message(render(template, **ctx), reply_markup=reply_markup,
                                                    disable_web_page_preview=True)


async def ask_start(update: Update, context: Ctx) -> int | None:
    query = update.callback_query
    person = await context.person(update)
    busy = "ask" in context.chat_data
    keep = None if busy else END  # a refused tap leaves a dialog already open as it was
    action = await parse_tap(update, person)
    if action is None:
        return keep
    spec = _ASKS[action.code]
    env = await env_of(context)
    probe = spec.probe or text_probe(spec.submit)
    exc = await dry_run(context, lambda s: probe(s, person, action.target_id, env))
    if exc is not None:
        await refuse_tap(update, context, person, action, exc, spec.edit)
        return keep
    ref = await ref_for(context, action)
    await query.answer()
    if busy:  # the new button replaces the dialog still open
        await _drop_keyboards(context, context.chat_data["ask"])
    message = query.message if isinstance(query.message, Message) else None
    context.chat_data["ask"] = {
        "code": action.code, "id": action.target_id, "label": ref.label if ref else "",
        "item_id": ref.item_id if ref else None, "data": query.data,
        "chat_id": message.chat.id if message else None, "message_id": message.message_id if message else None,
        "markup": message.reply_markup if message else None,
        "chat": update.effective_chat.id, "texts": [], "files": [], "day": None,
        "keyboards": [],  # the dialog's messages that still carry 完成/跳过/取消 or unit buttons
    }
    prompt = await _send(update, "chat/ask_prompt.html.j2", _prompt_keyboard(spec.kind), code=action.code,
                         step="start", label=ref.label if ref else "", replaced=busy)
    context.chat_data["ask"]["keyboards"].append(prompt.message_id)
    return _STATE_OF[spec.kind]


async def _finish(update: Update, context: Ctx, answer: Answer) -> int | None:
    """Call the service for real; a bad answer is explained and asked again (None: stay)."""
    st = context.chat_data.get("ask")
    if st is None:
        return END
    spec = _ASKS[st["code"]]
    person = await context.person(update)
    env = await env_of(context)
    try:
        async with env.services.db.session(actor(person)) as s:
            result = await spec.submit(s, person, st["id"], answer, env)
            label = _label(spec.outcome, result)
            extra = spec.summary(result) if spec.summary else {}
    except (NotAllowed, AlreadyHandled, InvalidState) as exc:  # the record moved on while the person typed
        _log_refusal(update, person, st["data"], exc)
        context.chat_data.pop("ask", None)
        await _drop_keyboards(context, st)
        await reply(update, "chat/error.html.j2", message=exc.message, again=False)
        return END
    except DomainError as exc:
        await reply(update, "chat/error.html.j2", message=exc.message, again=True)
        return None
    log.info("event=action code=%s target=%s person=%s", st["code"], st["id"], person.id)
    context.chat_data.pop("ask", None)
    await _drop_keyboards(context, st)
    await reply(update, "chat/ask_done.html.j2", code=st["code"], label=st["label"], answer=answer, **extra)
    if st["chat_id"] is not None:
        _remember_outcome(context, st["message_id"], st["data"])
        await show_outcome(context, st["chat_id"], st["message_id"], st["markup"], st["data"], spec.edit, label,
                           st["item_id"])
    return END


def _kind(context: Ctx) -> str | None:
    st = context.chat_data.get("ask")
    return _ASKS[st["code"]].kind if st else None


async def got_text(update: Update, context: Ctx) -> int | None:
    st = context.chat_data.get("ask")
    if st is None:
        return END
    return await _finish(update, context, Answer(text=update.message.text, day=st.get("day")))


async def skipped(update: Update, context: Ctx) -> int | None:
    await update.callback_query.answer()
    return await _finish(update, context, Answer())


async def got_date(update: Update, context: Ctx) -> int | None:
    st = context.chat_data.get("ask")
    if st is None:
        return END
    try:
        day = parse_date(update.message.text, context.services.clock.now().astimezone(OFFICE_TZ).date())
    except DomainError as exc:
        await reply(update, "chat/error.html.j2", message=exc.message, again=True)
        return None
    spec = _ASKS[st["code"]]
    person = await context.person(update)
    env = await env_of(context)
    exc = await dry_run(context, lambda s: spec.submit(s, person, st["id"], Answer(text=PLACEHOLDER, day=day), env))
    if exc is not None:
        if isinstance(exc, (NotAllowed, AlreadyHandled, InvalidState)):
            context.chat_data.pop("ask", None)
            await _drop_keyboards(context, st)
            await reply(update, "chat/error.html.j2", message=exc.message, again=False)
            return END
        await reply(update, "chat/error.html.j2", message=exc.message, again=True)
        return None
    st["day"] = day
    await _drop_keyboards(context, st)
    prompt = await _send(update, "chat/ask_prompt.html.j2", _prompt_keyboard("text"), code=st["code"],
                         step="reason", label=st["label"], day=day, replaced=False)
    st["keyboards"].append(prompt.message_id)
    return TEXT


async def got_unit_text(update: Update, context: Ctx) -> int | None:
    text = update.message.text.strip()[:50]
    async with context.services.db.session() as s:
        units = await find_units(s, text, limit=11)
    if not units:
        await reply(update, "chat/unit_search.html.j2", query=text, found=False, more=False)
        return None
    keyboard = [[InlineKeyboardButton(u.name, callback_data=f"ask:unit:{u.id}")] for u in units[:10]]
    keyboard.append([InlineKeyboardButton("取消", callback_data="ask:x")])
    results = await _send(update, "chat/unit_search.html.j2", InlineKeyboardMarkup(keyboard), query=text,
                          found=True, more=len(units) > 10)
    context.chat_data["ask"]["keyboards"].append(results.message_id)
    return None


async def unit_chosen(update: Update, context: Ctx) -> int | None:
    query = update.callback_query
    await query.answer()
    unit_id = parse_id(query.data.rsplit(":", 1)[1])
    return await _finish(update, context, Answer(unit_id=unit_id or 0))  # 0: no such unit, refused as such


async def got_piece(update: Update, context: Ctx) -> int | None:
    """One more message for a progress entry, plan or report being collected."""
    st = context.chat_data.get("ask")
    if st is None:
        return END
    message = update.message
    text = (message.text if message.text is not None else message.caption) or ""
    text = text.strip()
    if text:
        total = sum(len(t) for t in st["texts"]) + len(st["texts"]) + len(text)
        if total > MAX_TEXT:
            await reply(update, "chat/error.html.j2", again=True,
                        message=f"文字太长：合计最多{MAX_TEXT}字，这一段未收录（现有{total}字）。")
            return None
    try:
        if media_of(message) is not None and len(st["files"]) >= MAX_ATTACHMENTS:
            raise DomainError(f"附件太多：一次最多{MAX_ATTACHMENTS}个，这个附件未收录。")
        file = await download_attachment(update, context)
    except DomainError as exc:
        await reply(update, "chat/error.html.j2", message=exc.message, again=True)
        return None
    if text:
        st["texts"].append(text)
    if file is not None:
        st["files"].append(file)
    await _drop_keyboards(context, st)  # only the newest status message has 完成/取消
    status = await _send(update, "chat/collect_status.html.j2", _collect_keyboard(), code=st["code"],
                         texts=len(st["texts"]), files=len(st["files"]), last=file)
    st["keyboards"].append(status.message_id)
    return None


async def collect_done(update: Update, context: Ctx) -> int | None:
    query = update.callback_query
    st = context.chat_data.get("ask")
    await query.answer()
    if st is None:
        return END
    if not st["texts"] and not st["files"]:
        await reply(update, "chat/error.html.j2", message="还没有收到任何内容，请先发送文字、照片或文件。", again=True)
        return None
    return await _finish(update, context, Answer(text="\n".join(st["texts"]), files=list(st["files"])))


async def _drop_keyboards(context: Ctx, st: dict) -> None:
    """Take the dialog's buttons off its earlier messages, so none is left to tap afterwards."""
    for message_id in st["keyboards"]:
        try:
            await set_keyboard(context, st["chat"], message_id, None)
        except TelegramError:
            pass
    st["keyboards"] = []


async def ask_cancel(update: Update, context: Ctx) -> int:
    st = context.chat_data.pop("ask", None)
    if update.callback_query:
        await update.callback_query.answer("已取消")
    if st is not None:
        await _drop_keyboards(context, st)
    await reply(update, "chat/cancelled.html.j2", what="ask")
    return END


async def ask_timed_out(update: Update, context: Ctx) -> None:
    st = context.chat_data.pop("ask", None)
    if st is not None:
        await _drop_keyboards(context, st)
    if update.effective_chat is not None:
        await context.bot.send_message(update.effective_chat.id, render("chat/timeout.html.j2", what="ask",
                                                                        label=st["label"] if st else ""))


async def wrong_kind(update: Update, context: Ctx) -> None:
    await reply(update, "chat/wrong_input.html.j2", kind=_kind(context))


def timeout_notice(state_key: str, template: str, **template_context: object) -> Callable:
    """The TIMEOUT handler of a dialog: forget its state and tell the person it was dropped."""

    async def timed_out(update: Update, context: Ctx) -> None:
        context.chat_data.pop(state_key, None)
        if update.effective_chat is not None:
            await context.bot.send_message(update.effective_chat.id, render(template, **template_context))

    return timed_out


# --------------------------------------------------------------------------------------------
# Attachments
# --------------------------------------------------------------------------------------------


def media_of(message: Message) -> Any:
    """The photo (largest size), document or video of a message, or None."""
    if message.photo:
        return message.photo[-1]
    return message.document or message.video


async def download_attachment(update: Update, context: Ctx) -> AttachmentIn | None:
    """Download the message's photo, document or video into content-addressed storage.

    The size is checked before downloading (a bot may fetch at most 20 MB); blocked file types are
    refused. Raises DomainError with a message for the sender."""
    message = update.message
    media = media_of(message)
    if media is None:
        return None
    local = message.date.astimezone(OFFICE_TZ)
    if message.photo:
        name, mime = f"{PHOTO_PREFIX}{local:%Y%m%d-%H%M%S}.jpg", "image/jpeg"
    else:
        name = media.file_name or f"{'视频' if message.video else '文件'}-{local:%Y%m%d-%H%M%S}"
        mime = media.mime_type
        ext = ("." + name.rsplit(".", 1)[1].lower()) if "." in name else ""
        if ext in BLOCKED_EXTENSIONS:
            raise DomainError(f"不接收{ext}类型的文件。请发送照片、PDF、Word、Excel等文档，或将文件送交督查室。")
    check_size(media.file_size or 0)
    try:
        tg_file = await context.bot.get_file(media.file_id)
        if tg_file.file_size and tg_file.file_size > MAX_ATTACHMENT_BYTES:
            check_size(tg_file.file_size)
        data = bytes(await tg_file.download_as_bytearray())
    except BadRequest as exc:
        log.warning("event=download_failed user=%s error=%s", update.effective_user.id, exc)
        if "too big" in str(exc).lower():
            check_size(MAX_ATTACHMENT_BYTES + 1)
        raise DomainError("文件下载失败，请稍后重新发送。") from exc
    sha, path = store_attachment_bytes(context.services.settings.storage.files_dir, data)
    return AttachmentIn(file_name=name, size=len(data), mime_type=mime, telegram_file_id=media.file_id,
                        telegram_file_unique_id=media.file_unique_id, sha256=sha, local_path=str(path))


# --------------------------------------------------------------------------------------------
# Progress by replying to a notice
# --------------------------------------------------------------------------------------------


async def notice_assignment(context: Ctx, chat_id: int, replied: Message) -> int | None:
    """The assignment a notice is about: from its buttons, else from the outbox row it was sent as."""
    datas = [b.callback_data for r in (replied.reply_markup.inline_keyboard if replied.reply_markup else ())
             for b in r if b.callback_data]
    for data in datas:
        try:
            action = parse_action(data)
        except MalformedAction:
            continue
        if action.spec.target == "assignment":
            return action.target_id
    async with context.services.db.session() as s:
        buttons = await s.scalar(
            select(OutboxMessage.buttons)
            .where(OutboxMessage.chat_id == chat_id, OutboxMessage.telegram_message_id == replied.message_id)
            .order_by(OutboxMessage.id.desc()).limit(1)
        )
    for row in buttons or []:
        for b in row:
            try:
                action = parse_action(b.get("data"))
            except MalformedAction:
                continue
            if action.spec.target == "assignment":
                return action.target_id
    return None


async def on_reply(update: Update, context: Ctx) -> None:
    """A reply to a 督办通知单 is a progress entry; the other photos of its album join that entry."""
    from bot.domain import assignments as asg

    message = update.message
    replied = message.reply_to_message
    assignment_id = await notice_assignment(context, update.effective_chat.id, replied)
    if assignment_id is None:
        await reply(update, "chat/reply_hint.html.j2")
        return
    person = await context.person(update)
    albums: dict = context.chat_data.setdefault("albums", {})
    group = message.media_group_id
    env = await env_of(context)
    # Refused before anything is downloaded: a refused reply leaves no file behind.
    refusal = await dry_run(context, lambda s: asg.add_progress(s, person, assignment_id, text=PLACEHOLDER,
                                                                attachments=[], now=env.now))
    if refusal is not None:
        _log_refusal(update, person, f"reply:{assignment_id}", refusal)
        await reply(update, "chat/error.html.j2", message=refusal.message, again=False)
        return
    try:
        file = await download_attachment(update, context)
        files = [file] if file else []
        text = message.text if message.text is not None else message.caption
        async with env.services.db.session(actor(person)) as s:
            if group and group in albums:
                row = await asg.attach_to_progress(s, person, albums[group], attachments=files, now=env.now)
            else:
                row = await asg.add_progress(s, person, assignment_id, text=text, attachments=files, now=env.now)
            ref = await item_ref(s, "assignment", assignment_id)
    except DomainError as exc:
        _log_refusal(update, person, f"reply:{assignment_id}", exc)
        await reply(update, "chat/error.html.j2", message=exc.message, again=False)
        return
    log.info("event=action code=reply-progress target=%s person=%s", assignment_id, person.id)
    if group:
        if group in albums:
            return  # the album's first message already got the confirmation
        albums.clear()  # only the latest album is remembered
        albums[group] = row.id
    await reply(update, "chat/ask_done.html.j2", code="a:prg", label=ref.label if ref else "",
                answer=Answer(text=text, files=files), by_reply=True)


_NOTICE_BUTTON = re.compile(r"(?:a:[a-z]{1,4}|i:v):[1-9][0-9]{0,9}")


class ReplyToNotice(filters.MessageFilter):
    """A reply to one of the bot's messages that carries an assignment's buttons (a 督办通知单) or
    the outcome button left on one. Other replies are left to other handlers."""

    def filter(self, message: Message) -> bool:
        replied = message.reply_to_message
        if replied is None or replied.from_user is None or not replied.from_user.is_bot:
            return False
        rows = replied.reply_markup.inline_keyboard if replied.reply_markup else ()
        return any(isinstance(b.callback_data, str) and _NOTICE_BUTTON.fullmatch(b.callback_data)
                   for row in rows for b in row)


# --------------------------------------------------------------------------------------------
# Dates as people type them
# --------------------------------------------------------------------------------------------

_DATE_FULL = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")
_DATE_SHORT = re.compile(r"(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")


def parse_date(text: str | None, today: date) -> date:
    """``2026-04-30``, ``2026/4/30``, ``2026年4月30日``; ``4月30日`` or ``4-30`` is this year's
    (next year's when that day has passed). DomainError otherwise."""
    s = (text or "").strip()
    m = _DATE_FULL.fullmatch(s)
    year = None
    if m:
        year, month, day = (int(g) for g in m.groups())
    else:
        m = _DATE_SHORT.fullmatch(s)
        if m is None:
            raise DomainError(f"日期「{s[:30]}」格式不对，请按“2026-04-30”的格式输入")
        month, day = (int(g) for g in m.groups())
    try:
        if year is None:
            result = date(today.year, month, day)
            return result if result > today else date(today.year + 1, month, day)
        return date(year, month, day)
    except ValueError:
        raise DomainError(f"日期「{s[:30]}」不存在，请检查月份和日期") from None


# --------------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------------


async def _dialog_over(update: Update, context: Ctx) -> None:
    await update.callback_query.answer("该操作已结束，请重新点击事项上的按钮。", show_alert=True)


def _ask_label(context: Ctx) -> str:
    """The open Ask dialog as the person knows it: 「督字〔2026〕1号·退回重办」."""
    st = context.chat_data.get("ask") or {}
    what = ACTIONS[st["code"]].label if st.get("code") in ACTIONS else "办理操作"
    return "·".join(p for p in (st.get("label"), what) if p)


def register(app: Application) -> None:
    """The Ask dialog. Registered before handlers.invite, whose stand-alone /cancel would take ours."""
    _collect_specs()
    private = filters.ChatType.PRIVATE
    text = filters.TEXT & ~filters.COMMAND & private
    content = ((filters.TEXT & ~filters.COMMAND) | filters.PHOTO | filters.Document.ALL | filters.VIDEO) & private
    cancel_button = CallbackQueryHandler(ask_cancel, pattern=r"^ask:x$")
    codes = "|".join(re.escape(c) for c in sorted(_ASKS))
    app.add_handler(Dialog(
        entry_points=[CallbackQueryHandler(ask_start, pattern=rf"^(?:{codes}):")],
        states={
            TEXT: [MessageHandler(text, got_text), cancel_button],
            OPTIONAL: [MessageHandler(text, got_text), CallbackQueryHandler(skipped, pattern=r"^ask:skip$"),
                       cancel_button],
            COLLECT: [MessageHandler(content, got_piece), CallbackQueryHandler(collect_done, pattern=r"^ask:ok$"),
                      cancel_button],
            DATE: [MessageHandler(text, got_date), cancel_button],
            UNIT: [MessageHandler(text, got_unit_text),
                   CallbackQueryHandler(unit_chosen, pattern=r"^ask:unit:\d{1,10}$"), cancel_button],
            ConversationHandler.TIMEOUT: [TypeHandler(Update, ask_timed_out)],
        },
        fallbacks=[CommandHandler("cancel", ask_cancel), MessageHandler(~filters.COMMAND & private, wrong_kind)],
        allow_reentry=True,
        timeout=lambda: ASK_TIMEOUT_SECONDS,
        name="ask",
        label=_ask_label,
        cancel_data="ask:x",
    ))


def register_last(app: Application) -> None:
    """Direct buttons, replies to notices, and buttons nobody else took (before gate's fallbacks)."""
    _collect_specs()
    codes = "|".join(re.escape(c) for c in sorted(_DIRECTS))
    app.add_handler(CallbackQueryHandler(on_direct, pattern=rf"^(?:{codes}):"))
    reply_content = (filters.TEXT & ~filters.COMMAND) | filters.PHOTO | filters.Document.ALL | filters.VIDEO
    app.add_handler(MessageHandler(ReplyToNotice() & filters.ChatType.PRIVATE & reply_content, on_reply))
    app.add_handler(CallbackQueryHandler(_dialog_over, pattern=r"^ask:"))
    # Our scopes with an unknown verb or a bad id: refused like any malformed payload.
    app.add_handler(CallbackQueryHandler(on_direct, pattern=SCOPES))
