"""The workflow buttons, driven by their declarations (``bot.domain.buttons``): a tap becomes a
service call. Nothing here names a button; a new declaration is picked up as it is.

A tap goes one of two ways:

* the declaration asks nothing — the service is called at once (签收, 同意立项, 同意延期 …), the tap
  is answered with its ``toast``;
* it ``asks`` — the same service is first run as a *dry run* (its transaction is always rolled
  back) with a placeholder input, so a person who may not act, or a button that is stale, is
  refused at the tap, not after typing a reason. Then the person is asked (the declaration's
  template, ``step="prompt"``); their answer calls the service for real, which checks everything
  again, and the confirmation is the same template with ``step="done"``.

After a success the tapped message's keyboard shows the outcome: the used button (or its row, or
the whole keyboard) becomes a "✅ …" button that opens the item.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.domain.actions import ACTIONS, PLACEHOLDER, ActionSpec, Answer, MalformedAction, Run, parse_action, parse_id
from bot.domain.attachments import MAX_ATTACHMENTS
from bot.domain.dates import parse_date
from bot.domain.deadlines import example_date
from bot.domain.errors import DomainError, NotAllowed
from bot.domain.targets import item_ref
from bot.domain.workflow import MAX_TEXT, AlreadyHandled, InvalidState, local_date
from bot.kernel.render import render
from handlers.archive import send_dossier
from handlers.common import reply, tap_data
from handlers.context import Ctx, actor
from handlers.dialogs import Dialog
from handlers.dialogs import add as add_dialog
from handlers.env import dry_run, env_of
from handlers.keyboards import drop_keyboard, remember_outcome, show_outcome
from handlers.taps import log_refusal, parse_tap, ref_for, refuse_tap
from handlers.uploads import download_attachment, media_of
from handlers.widgets import cancel_handler, timeout_notice, unit_choices

if TYPE_CHECKING:
    from store.models import Person

log = logging.getLogger("duban.actions")

ASK_TIMEOUT_SECONDS: float = 600  # an abandoned prompt is cancelled politely (tests lower this)
END = ConversationHandler.END
TEXT, OPTIONAL, COLLECT, DATE, UNIT = range(5)
_STATE_OF = {"text": TEXT, "optional": OPTIONAL, "collect": COLLECT, "date_text": DATE, "unit": UNIT, "unit_text": UNIT}
SCOPES = r"^(?:i|a|m|x|t|r|l|g):"  # the workflow buttons' scopes: an unknown verb there is refused
# What the chat does after a success, once the tap was answered (the archive sends the dossier).
AFTER: dict[str, Callable[[Update, Ctx, Person, int, Any], Awaitable[None]]] = {"i:arc": send_dossier}


def _runs(asks: bool) -> dict[str, ActionSpec]:
    return {c: s for c, s in ACTIONS.items() if s.run is not None and (s.asks is not None) == asks}


def _run(spec: ActionSpec) -> Run:
    """The service of a button this module handles: only buttons with a ``run`` are registered here."""
    if spec.run is None:
        raise RuntimeError(f"button {spec.code} has no service to run")
    return spec.run


# --------------------------------------------------------------------------------------------
# Buttons that act at once
# --------------------------------------------------------------------------------------------


async def on_direct(update: Update, context: Ctx) -> None:
    query = update.callback_query
    person = await context.known_person(update)
    action = await parse_tap(update, person)
    if action is None:
        return
    spec = action.spec
    if spec.run is None or spec.asks is not None:  # an asking code outside its dialog; a view code has its own
        await refuse_tap(update, context, person, None, MalformedAction("按钮已失效，请重新打开事项后再操作"))
        return
    env = await env_of(context)
    try:
        async with env.services.db.session(actor(person)) as s:
            result = await spec.run(s, person, action.target_id, Answer(), env)
            ref = await item_ref(s, spec.target, action.target_id)
            label = spec.outcome_label(result)
            extra = spec.summary(result) if spec.summary else {}
    except DomainError as exc:
        await refuse_tap(update, context, person, action, exc, spec.edit)
        return
    log.info("event=action code=%s target=%s person=%s", action.code, action.target_id, person.id)
    await query.answer(spec.toast)
    if spec.confirm:  # an outcome a toast cannot hold (e.g. 催办: who was chased)
        await reply(update, spec.template, step="done", label=ref.label if ref else "", **extra)
    if isinstance(query.message, Message):
        remember_outcome(context, query.message.message_id, tap_data(update))
        await show_outcome(
            context,
            query.message.chat.id,
            query.message.message_id,
            query.message.reply_markup,
            tap_data(update),
            spec.edit,
            label,
            ref.item_id if ref else None,
        )
    after = AFTER.get(spec.code)
    if after is not None:
        await after(update, context, person, action.target_id, result)


# --------------------------------------------------------------------------------------------
# Buttons that ask first
# --------------------------------------------------------------------------------------------


def _prompt_keyboard(asks: str) -> InlineKeyboardMarkup:
    if asks == "collect":
        return _collect_keyboard()
    row = [InlineKeyboardButton("取消", callback_data="ask:x")]
    if asks == "optional":
        row.insert(0, InlineKeyboardButton("跳过", callback_data="ask:skip"))
    return InlineKeyboardMarkup([row])


def _collect_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton("完成", callback_data="ask:ok"), InlineKeyboardButton("取消", callback_data="ask:x")]]
    )


async def _send(update: Update, template: str, reply_markup: Any = None, **ctx: object) -> Message:
    return await update.effective_chat.send_message(
        render(template, **ctx), reply_markup=reply_markup, disable_web_page_preview=True
    )


def _spec(st: dict) -> ActionSpec:
    return ACTIONS[st["code"]]


async def ask_start(update: Update, context: Ctx) -> int | None:
    query = update.callback_query
    person = await context.known_person(update)
    busy = context.chat_data.answers("ask") is not None
    keep = None if busy else END  # a refused tap leaves a dialog already open as it was
    action = await parse_tap(update, person)
    if action is None:
        return keep
    spec = action.spec
    run, asks = _run(spec), spec.asks
    if asks is None:  # the entry's pattern takes only the buttons that ask
        raise RuntimeError(f"button {spec.code} asks nothing")
    env = await env_of(context)
    probe = spec.probe or (lambda s, me, i, e: run(s, me, i, Answer(text=PLACEHOLDER), e))
    exc = await dry_run(context, lambda s: probe(s, person, action.target_id, env))
    if exc is not None:
        await refuse_tap(update, context, person, action, exc, spec.edit)
        return keep
    ref = await ref_for(context, spec.target, action.target_id)
    await query.answer()
    previous = context.chat_data.answers("ask")
    if busy and previous is not None:  # the new button replaces the dialog still open
        await _drop_keyboards(context, previous)
    message = query.message if isinstance(query.message, Message) else None
    st = context.chat_data.open(
        "ask",
        code=action.code,
        id=action.target_id,
        label=ref.label if ref else "",
        item_id=ref.item_id if ref else None,
        data=query.data,
        chat_id=message.chat.id if message else None,
        message_id=message.message_id if message else None,
        markup=message.reply_markup if message else None,
        chat=update.effective_chat.id,
        texts=[],
        files=[],
        day=None,
        keyboards=[],  # the dialog's messages that still carry 完成/跳过/取消 or unit buttons
    )
    svc = context.services  # the example date a prompt shows: next month's last working day
    example = example_date(await svc.calendar(), local_date(svc.clock.now()))
    extra: dict = {}
    if spec.prompt_context is not None:
        prompt_context = spec.prompt_context
        async with svc.db.session() as s:
            extra = await prompt_context(s, action.target_id)
    prompt = await _send(
        update,
        "chat/ask_prompt.html.j2",
        _prompt_keyboard(asks),
        action_template=spec.template,
        step="prompt",
        label=ref.label if ref else "",
        replaced=busy,
        example=example.isoformat(),
        **extra,
    )
    st["keyboards"].append(prompt.message_id)
    return _STATE_OF[asks]


async def _moved_on(update: Update, context: Ctx, st: dict, person: Person | None, exc: DomainError) -> int:
    """The record moved on while the person typed: the dialog ends with the reason."""
    log_refusal(update, person, st["data"], exc)
    context.chat_data.close("ask")
    await _drop_keyboards(context, st)
    await reply(update, "chat/error.html.j2", message=exc.message, again=False)
    return END


async def _finish(update: Update, context: Ctx, answer: Answer) -> int | None:
    """Call the service for real; a bad answer is explained and asked again (None: stay)."""
    st = context.chat_data.answers("ask")
    if st is None:
        return END
    spec = _spec(st)
    person = await context.known_person(update)
    env = await env_of(context)
    try:
        async with env.services.db.session(actor(person)) as s:
            result = await _run(spec)(s, person, st["id"], answer, env)
            label = spec.outcome_label(result)
            extra = spec.summary(result) if spec.summary else {}
    except (NotAllowed, AlreadyHandled, InvalidState) as exc:
        return await _moved_on(update, context, st, person, exc)
    except DomainError as exc:
        await reply(update, "chat/error.html.j2", message=exc.message, again=True)
        return None
    log.info("event=action code=%s target=%s person=%s", st["code"], st["id"], person.id)
    context.chat_data.close("ask")
    await _drop_keyboards(context, st)
    await reply(update, spec.template, step="done", label=st["label"], answer=answer, **extra)
    if st["chat_id"] is not None:
        remember_outcome(context, st["message_id"], st["data"])
        await show_outcome(
            context, st["chat_id"], st["message_id"], st["markup"], st["data"], spec.edit, label, st["item_id"]
        )
    return END


async def got_text(update: Update, context: Ctx) -> int | None:
    st = context.chat_data.answers("ask")
    if st is None:
        return END
    return await _finish(
        update, context, Answer(text=update.message.text, day=st.get("day"), unit_id=st.get("unit_id"))
    )


async def skipped(update: Update, context: Ctx) -> int | None:
    await update.callback_query.answer()
    return await _finish(update, context, Answer())


async def got_date(update: Update, context: Ctx) -> int | None:
    st = context.chat_data.answers("ask")
    if st is None:
        return END
    try:
        day = parse_date(update.message.text, local_date(context.services.clock.now()))
    except DomainError as exc:
        await reply(update, "chat/error.html.j2", message=exc.message, again=True)
        return None
    spec = _spec(st)
    person = await context.known_person(update)
    env = await env_of(context)
    run = _run(spec)
    refusal = await dry_run(context, lambda s: run(s, person, st["id"], Answer(text=PLACEHOLDER, day=day), env))
    if refusal is not None:
        if isinstance(refusal, (NotAllowed, AlreadyHandled, InvalidState)):
            context.chat_data.close("ask")
            await _drop_keyboards(context, st)
            await reply(update, "chat/error.html.j2", message=refusal.message, again=False)
            return END
        await reply(update, "chat/error.html.j2", message=refusal.message, again=True)
        return None
    st["day"] = day
    await _drop_keyboards(context, st)
    prompt = await _send(
        update,
        "chat/ask_prompt.html.j2",
        _prompt_keyboard("text"),
        action_template=spec.template,
        step="reason",
        label=st["label"],
        day=day,
        replaced=False,
    )
    st["keyboards"].append(prompt.message_id)
    return TEXT


async def got_unit_text(update: Update, context: Ctx) -> int | None:
    message_id = await unit_choices(update, context, "ask:unit", cancel_data="ask:x")
    st = context.chat_data.answers("ask")  # open: this is one of its states
    if message_id is not None and st is not None:
        st["keyboards"].append(message_id)
    return None


async def unit_chosen(update: Update, context: Ctx) -> int | None:
    query = update.callback_query
    await query.answer()
    unit_id = parse_id(query.data.rsplit(":", 1)[1])
    st = context.chat_data.answers("ask")
    if st is not None and _spec(st).asks == "unit_text":  # the unit first, then the reason
        return await _unit_then_reason(update, context, st, unit_id or 0)
    return await _finish(update, context, Answer(unit_id=unit_id or 0))  # 0: no such unit, refused as such


def _tapped_label(update: Update) -> str:
    """The text of the button just tapped (the unit picker's buttons are the units' names)."""
    query = update.callback_query
    markup = query.message.reply_markup if isinstance(query.message, Message) else None
    rows = markup.inline_keyboard if markup else ()
    return next((b.text for row in rows for b in row if b.callback_data == query.data), "")


async def _unit_then_reason(update: Update, context: Ctx, st: dict, unit_id: int) -> int | None:
    """A unit was picked for a button that asks a reason too: check it (a dry run), then ask why."""
    spec = _spec(st)
    person = await context.known_person(update)
    env = await env_of(context)
    answer = Answer(text=PLACEHOLDER, unit_id=unit_id)
    run = _run(spec)
    exc = await dry_run(context, lambda s: run(s, person, st["id"], answer, env))
    if isinstance(exc, (NotAllowed, AlreadyHandled, InvalidState)):
        return await _moved_on(update, context, st, person, exc)
    if exc is not None:
        await reply(update, "chat/error.html.j2", message=exc.message, again=True)
        return None
    st["unit_id"] = unit_id
    name = _tapped_label(update)
    await _drop_keyboards(context, st)
    prompt = await _send(
        update,
        "chat/ask_prompt.html.j2",
        _prompt_keyboard("text"),
        action_template=spec.template,
        step="reason",
        label=st["label"],
        unit=name,
        replaced=False,
    )
    st["keyboards"].append(prompt.message_id)
    return TEXT


async def got_piece(update: Update, context: Ctx) -> int | None:
    """One more message for a progress entry, plan or report being collected."""
    st = context.chat_data.answers("ask")
    if st is None:
        return END
    message = update.message
    text = (message.text if message.text is not None else message.caption) or ""
    text = text.strip()
    if text:
        total = sum(len(t) for t in st["texts"]) + len(st["texts"]) + len(text)
        if total > MAX_TEXT:
            await reply(
                update,
                "chat/error.html.j2",
                again=True,
                message=f"文字太长：合计最多{MAX_TEXT}字，这一段未收录（现有{total}字）。",
            )
            return None
    try:
        if message is not None and media_of(message) is not None and len(st["files"]) >= MAX_ATTACHMENTS:
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
    status = await _send(
        update,
        "chat/collect_status.html.j2",
        _collect_keyboard(),
        code=st["code"],
        texts=len(st["texts"]),
        files=len(st["files"]),
        last=file,
    )
    st["keyboards"].append(status.message_id)
    return None


async def collect_done(update: Update, context: Ctx) -> int | None:
    query = update.callback_query
    st = context.chat_data.answers("ask")
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
        await drop_keyboard(context, st["chat"], message_id)
    st["keyboards"] = []


async def _drop_dialog_keyboards(update: Update, context: Ctx, st: dict) -> None:
    await _drop_keyboards(context, st)


ask_cancel = cancel_handler(
    "ask", "chat/cancelled.html.j2", clear_tapped=False, cleanup=_drop_dialog_keyboards, what="ask"
)
ask_timed_out = timeout_notice(
    "ask", "chat/timeout.html.j2", cleanup=_drop_dialog_keyboards, label_of=lambda st: st.get("label", ""), what="ask"
)


async def wrong_kind(update: Update, context: Ctx) -> None:
    st = context.chat_data.answers("ask")
    await reply(update, "chat/wrong_input.html.j2", kind=_spec(st).asks if st else None)


async def _dialog_over(update: Update, context: Ctx) -> None:
    await update.callback_query.answer("该操作已结束，请重新点击事项上的按钮。", show_alert=True)


def _ask_label(context: Ctx) -> str:
    """The open dialog as the person knows it: 「督字〔2026〕1号·退回重办」."""
    st = context.chat_data.answers("ask") or {}
    what = ACTIONS[st["code"]].label if st.get("code") in ACTIONS else "办理操作"
    return "·".join(p for p in (st.get("label"), what) if p)


# --------------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------------


def _unknown_in_our_scopes(data: object) -> bool:
    """A payload in a workflow scope that names no declared button (an unknown verb, a bad id)."""
    if not isinstance(data, str) or re.match(SCOPES, data) is None:
        return False
    try:
        parse_action(data)
    except MalformedAction:
        return True
    return False


def register(app: Application) -> None:
    """The dialog of the buttons that ask; the buttons that act at once; stale and unknown ones."""
    private = filters.ChatType.PRIVATE
    text = filters.TEXT & ~filters.COMMAND & private
    content = ((filters.TEXT & ~filters.COMMAND) | filters.PHOTO | filters.Document.ALL | filters.VIDEO) & private
    asking = "|".join(re.escape(c) for c in sorted(_runs(asks=True)))
    add_dialog(
        app,
        Dialog(
            entry_points=[CallbackQueryHandler(ask_start, pattern=rf"^(?:{asking}):")],
            states={
                TEXT: [MessageHandler(text, got_text)],
                OPTIONAL: [MessageHandler(text, got_text), CallbackQueryHandler(skipped, pattern=r"^ask:skip$")],
                COLLECT: [MessageHandler(content, got_piece), CallbackQueryHandler(collect_done, pattern=r"^ask:ok$")],
                DATE: [MessageHandler(text, got_date)],
                UNIT: [
                    MessageHandler(text, got_unit_text),
                    CallbackQueryHandler(unit_chosen, pattern=r"^ask:unit:\d{1,10}$"),
                ],
                ConversationHandler.TIMEOUT: [TypeHandler(Update, ask_timed_out)],
            },
            fallbacks=[MessageHandler(~filters.COMMAND & private, wrong_kind)],
            allow_reentry=True,
            timeout=lambda: ASK_TIMEOUT_SECONDS,
            name="ask",
            label=_ask_label,
            cancel_data="ask:x",
            cancel=ask_cancel,
        ),
    )
    at_once = "|".join(re.escape(c) for c in sorted(_runs(asks=False)))
    app.add_handler(CallbackQueryHandler(on_direct, pattern=rf"^(?:{at_once}):"))
    app.add_handler(CallbackQueryHandler(_dialog_over, pattern=r"^ask:"))  # the dialog has ended
    # Our scopes with an unknown verb or a bad id: refused like any malformed payload.
    app.add_handler(CallbackQueryHandler(on_direct, pattern=_unknown_in_our_scopes))
