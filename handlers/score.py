"""/score: the year's table, a unit's events, manual events and reversals, and the approval.

* ``/score [year] [unit]`` — office staff, the office head and county leaders get the ranked table
  (the disqualified marked, pending deductions listed) with a button per unit for its events; the
  office head also gets 审定 once the year is over (两步: 审定 → 确认审定). A liaison or unit head
  gets their own unit's score, rank and events.
* ``/score add [year]`` — office staff: unit → rule → item → reason → 保存 (a dialog); or in one
  line ``/score add 单位 规则代码 事项编号 理由``.
* ``/score undo 记录号 理由`` — office staff: a reversing event (the original stays).
* ``/score rules`` — the rules with their codes and configured points.

``register`` also puts the configured points (``[score.points]``) in force for every service.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlalchemy.exc import IntegrityError
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.domain import ledger
from bot.domain.actions import MalformedAction, action_data, parse_action, parse_id
from bot.domain.directory import unit_by_name
from bot.domain.errors import DomainError, NotAllowed
from bot.domain.score import (
    add_manual_event,
    check_year,
    format_points,
    reverse_event,
)
from bot.domain.views import find_item
from bot.domain.workflow import UNIT_ROLES_OF_ASSIGNMENT, AlreadyHandled, clean_text, item_label, local_date
from bot.kernel.render import render
from handlers.common import message_text, reply, tap_data
from handlers.context import Ctx, actor
from handlers.dialogs import Dialog, command_args
from handlers.dialogs import add as add_dialog
from handlers.env import dry_run, env_of
from handlers.keyboards import clear_tapped_keyboard, edit_tapped
from handlers.widgets import cancel_handler, cancel_row, tapped_unit, timeout_notice, unit_buttons

log = logging.getLogger("duban.score")

TIMEOUT_SECONDS: float = 900
END = ConversationHandler.END
UNIT, RULE, ITEM, REASON, CONFIRM = range(5)
VIEW_ROLES = ("office", "office_head", "leader", "liaison", "unit_head")
_YEAR = re.compile(r"\d{4}")
_ID = re.compile(r"#?(\d{1,9})")


async def _say(update: Update, step: str, markup: InlineKeyboardMarkup | None = None, **ctx: Any) -> Message:
    text = render("score/chat.html.j2", step=step, points=format_points, **ctx)
    return await update.effective_chat.send_message(text, reply_markup=markup, disable_web_page_preview=True)


async def _error(update: Update, exc: DomainError, again: bool = False) -> None:
    await _say(update, "error", message=exc.message, again=again)


async def _alert(update: Update, exc: DomainError) -> None:
    level = logging.WARNING if isinstance(exc, (NotAllowed, MalformedAction)) else logging.INFO
    log.log(
        level,
        "event=action_refused what=%s user=%s reason=%s",
        update.callback_query.data,
        update.effective_user.id,
        exc.message,
    )
    await update.callback_query.answer(exc.message[:200], show_alert=True)


# --------------------------------------------------------------------------------------------
# Viewing
# --------------------------------------------------------------------------------------------


async def score_command(update: Update, context: Ctx) -> int:
    """Every /score: the table or a unit, or the office's sub-commands (add starts a dialog)."""
    context.chat_data.close("score_add")  # a new /score ends an unfinished one
    person = await context.person(update)
    if person is None or not person.has_role(*VIEW_ROLES):
        await reply(update, "messages/not_allowed.html.j2", what="/score")
        return END
    args = context.args or []
    if args and args[0] in ("add", "undo", "rules"):
        if not person.has_role("office"):
            await reply(update, "messages/not_allowed.html.j2", what=f"/score {args[0]}")
            return END
        if args[0] == "rules":
            await _say(update, "rules", rules=list(context.services.score_rules.values()))
            return END
        if args[0] == "undo":
            await _undo(update, context, args[1:])
            return END
        return await _add(update, context, args[1:])
    year = local_date(context.services.clock.now()).year
    if args and _YEAR.fullmatch(args[0]):
        year, args = int(args[0]), args[1:]
    if len(args) > 1:
        await _say(update, "usage", office=person.has_role("office"))
        return END
    if args:
        try:
            async with context.services.db.session() as s:
                unit_id = (await unit_by_name(s, args[0])).id
        except DomainError as exc:
            await _error(update, exc)
            return END
        await _show_unit(update, context, year, unit_id)
        return END
    await _show_table(update, context, year)
    return END


async def _show_table(update: Update, context: Ctx, year: int) -> None:
    person = await context.known_person(update)
    now = context.services.clock.now()
    if not ledger.sees_all(person) and person.unit_id is not None:
        await _show_unit(update, context, year, person.unit_id)
        return
    try:
        async with context.services.db.session(actor(person)) as s:
            table = await ledger.view_table(s, person, year, now=now, rules=context.services.score_rules)
            approvable = person.has_role("office_head") and await ledger.approvable(s, year, local_date(now))
    except DomainError as exc:
        await _error(update, exc)
        return
    units = [InlineKeyboardButton(r.unit[:30], callback_data=f"sc:u:{year}:{r.unit_id}") for r in table.rows]
    rows = [units[i : i + 2] for i in range(0, len(units), 2)]
    if approvable:
        rows.append([InlineKeyboardButton(f"审定{year}年度考核结果", callback_data=action_data("y:ask", year))])
    await reply(
        update,
        "score/table.html.j2",
        InlineKeyboardMarkup(rows) if rows else None,
        t=table,
        buttons=bool(units),
        points=format_points,
        unit_roles=UNIT_ROLES_OF_ASSIGNMENT,
    )


async def _show_unit(update: Update, context: Ctx, year: int, unit_id: int) -> None:
    person = await context.known_person(update)
    try:
        async with context.services.db.session(actor(person)) as s:
            v = await ledger.view_unit(
                s, person, year, unit_id, now=context.services.clock.now(), rules=context.services.score_rules
            )
    except DomainError as exc:
        if update.callback_query:
            await _alert(update, exc)
        else:
            await _error(update, exc)
        return
    if update.callback_query:
        await update.callback_query.answer()
    await reply(
        update,
        "score/unit.html.j2",
        t=v.table,
        row=v.row,
        unit=v.unit,
        total=v.table.units,
        events=v.events,
        pending=v.pending,
        points=format_points,
        unit_roles=UNIT_ROLES_OF_ASSIGNMENT,
    )


async def unit_tapped(update: Update, context: Ctx) -> None:
    _, _, year, unit_id = update.callback_query.data.split(":")
    await _show_unit(update, context, int(year), parse_id(unit_id) or 0)  # 0: no such unit


# --------------------------------------------------------------------------------------------
# Approval (office head): 审定 → 确认审定
# --------------------------------------------------------------------------------------------


async def _year_tap(update: Update, context: Ctx) -> int | None:
    try:
        return parse_action(update.callback_query.data).target_id
    except MalformedAction as exc:
        await _alert(update, exc)
        return None


async def approve_ask(update: Update, context: Ctx) -> None:
    year = await _year_tap(update, context)
    if year is None:
        return
    person = await context.known_person(update)
    now = context.services.clock.now()
    try:
        async with context.services.db.session(actor(person)) as s:
            if not person.has_role("office_head"):
                raise NotAllowed("只有督查室负责人才能审定年度考核结果")
            await ledger.check_approvable(s, check_year(year, local_date(now)), local_date(now))
            table = await ledger.view_table(s, person, year, now=now, rules=context.services.score_rules)
    except DomainError as exc:
        await _alert(update, exc)
        return
    await update.callback_query.answer()
    await _say(
        update,
        "approve_ask",
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton("确认审定", callback_data=action_data("y:ok", year)),
                    InlineKeyboardButton("取消", callback_data="sc:x"),
                ]
            ]
        ),
        t=table,
    )


async def approve(update: Update, context: Ctx) -> None:
    year = await _year_tap(update, context)
    if year is None:
        return
    person = await context.known_person(update)
    try:
        async with context.services.db.session(actor(person)) as s:
            table = await ledger.approve_year(
                s, person, year, now=context.services.clock.now(), rules=context.services.score_rules
            )
    except DomainError as exc:
        await _alert(update, exc)
        return
    except IntegrityError:  # another office head approved it at the same moment
        await _alert(update, AlreadyHandled(f"{year}年度考核结果已审定，无需重复操作。"))
        return
    log.info("event=action code=y:ok target=%s person=%s", year, person.id)
    await update.callback_query.answer("已审定")
    await clear_tapped_keyboard(update, context)
    await _say(update, "approved", t=table)
    await reply(
        update, "score/table.html.j2", t=table, buttons=False, points=format_points, unit_roles=UNIT_ROLES_OF_ASSIGNMENT
    )


async def approve_cancelled(update: Update, context: Ctx) -> None:
    await update.callback_query.answer("已取消")
    await clear_tapped_keyboard(update, context)


# --------------------------------------------------------------------------------------------
# Manual events and reversals (office)
# --------------------------------------------------------------------------------------------


async def _record(update: Update, context: Ctx, st: dict) -> bool:
    """Record the manual event ``st`` describes; a refusal is explained (False)."""
    person = await context.known_person(update)
    env = await env_of(context)
    try:
        async with env.services.db.session(actor(person)) as s:
            event = await add_manual_event(
                s,
                person,
                unit_id=st["unit_id"],
                rule_code=st["rule"],
                item_id=st["item_id"],
                reason=st["reason"],
                year=st.get("year"),
                now=env.now,
                rules=context.services.score_rules,
            )
    except DomainError as exc:
        await _error(update, exc)
        return False
    log.info("event=action code=score.add event=%s person=%s", event.id, person.id)
    rule = context.services.score_rules[event.rule]
    await _say(update, "added", e=event, unit=st["unit"], rule=rule.name)
    return True


async def _add(update: Update, context: Ctx, args: list[str]) -> int:
    """``/score add [year]`` starts the dialog; ``/score add 单位 规则 编号 理由`` records at once."""
    st: dict[str, Any] = {}
    now = context.services.clock.now()
    if args and _YEAR.fullmatch(args[0]):
        try:
            st["year"] = check_year(int(args[0]), local_date(now))
        except DomainError as exc:
            await _error(update, exc)
            return END
        args = args[1:]
    if not args:
        context.chat_data.open("score_add", **st)
        await _say(update, "add_unit", year=st.get("year"))
        return UNIT
    if len(args) < 4:
        await _error(
            update,
            DomainError(
                "增加考核记录须写明单位、规则、事项编号和理由，例如：/score add 城关镇 late_feedback 3 第12周未反馈"
            ),
        )
        return END
    unit_name, code, ref, reason = args[0], args[1], args[2], " ".join(args[3:])
    try:
        async with context.services.db.session() as s:
            unit = await unit_by_name(s, unit_name)
            item = await find_item(s, _item_ref(ref, st.get("year")), now)
    except DomainError as exc:
        await _error(update, exc)
        return END
    await _record(
        update,
        context,
        {**st, "unit_id": unit.id, "unit": unit.name, "rule": code, "item_id": item.id, "reason": reason},
    )
    return END


async def _undo(update: Update, context: Ctx, args: list[str]) -> None:
    m = _ID.fullmatch(args[0]) if args else None
    if m is None or len(args) < 2:
        await _error(update, DomainError("用法：/score undo 记录号 理由，例如 /score undo 12 通报对象有误"))
        return
    person = await context.known_person(update)
    env = await env_of(context)
    try:
        async with env.services.db.session(actor(person)) as s:
            event = await reverse_event(s, person, int(m.group(1)), reason=" ".join(args[1:]), now=env.now)
    except DomainError as exc:
        await _error(update, exc)
        return
    log.info("event=action code=score.undo event=%s person=%s", event.id, person.id)
    await _say(update, "undone", e=event, original=event.reverses_id)


def _item_ref(ref: str, year: int | None) -> str:
    """A bare number means the item of the year being scored (this year by default)."""
    ref = ref.strip()[:40]
    return f"{year}-{ref}" if year is not None and ref.isdigit() else ref


def _st(context: Ctx) -> dict[str, Any]:
    st = context.chat_data.answers("score_add")
    return st if st is not None else context.chat_data.open("score_add")


async def got_unit_text(update: Update, context: Ctx) -> int | None:
    query = update.message.text.strip()[:50]
    rows, _ = await unit_buttons(context, query, "sa:u")
    if not rows:
        await _say(update, "units", found=False, query=query)
        return None
    rows.append(cancel_row("sa:x"))
    await _say(update, "units", InlineKeyboardMarkup(rows), found=True, query=query)
    return None


async def unit_chosen(update: Update, context: Ctx) -> int:
    unit = await tapped_unit(context, tap_data(update))
    if unit is None:
        await update.callback_query.answer("找不到该单位", show_alert=True)
        return UNIT
    _st(context).update(unit_id=unit.id, unit=unit.name)
    await update.callback_query.answer()
    await edit_tapped(update, render("score/chat.html.j2", step="unit_chosen", unit=unit.name))
    rows = [
        [InlineKeyboardButton(f"{r.clause} {format_points(r.points)}分 {r.name}"[:60], callback_data=f"sa:r:{r.code}")]
        for r in context.services.score_rules.values()
    ]
    rows.append(cancel_row("sa:x"))
    await _say(update, "add_rule", InlineKeyboardMarkup(rows))
    return RULE


async def rule_chosen(update: Update, context: Ctx) -> int:
    code = update.callback_query.data.split(":", 2)[2]
    rule = context.services.score_rules.get(code)
    if rule is None:
        await update.callback_query.answer("无效的选择", show_alert=True)
        return RULE
    _st(context)["rule"] = code
    await update.callback_query.answer()
    await edit_tapped(
        update, render("score/chat.html.j2", step="rule_chosen", rule=f"{rule.name}（{format_points(rule.points)}分）")
    )
    await _say(update, "add_item")
    return ITEM


async def got_item(update: Update, context: Ctx) -> int | None:
    st = _st(context)
    person = await context.known_person(update)
    env = await env_of(context)
    try:
        async with env.services.db.session() as s:
            item = await find_item(s, _item_ref(message_text(update), st.get("year")), env.now)
            st.update(item_id=item.id, number=item_label(item))
    except DomainError as exc:
        await _error(update, exc, again=True)
        return None
    # Everything but the reason is checked now, not after the reason was typed.
    refusal = await dry_run(
        context,
        lambda s: add_manual_event(
            s,
            person,
            unit_id=st["unit_id"],
            rule_code=st["rule"],
            item_id=st["item_id"],
            reason="（预检）",
            year=st.get("year"),
            now=env.now,
            rules=context.services.score_rules,
        ),
    )
    if refusal is not None:
        await _error(update, refusal, again=True)
        return None
    await _say(update, "add_reason")
    return REASON


async def got_reason(update: Update, context: Ctx) -> int | None:
    st = _st(context)
    try:
        st["reason"] = clean_text(update.message.text, "考核理由")
    except DomainError as exc:
        await _error(update, exc, again=True)
        return None
    rule = context.services.score_rules[st["rule"]]
    year = st.get("year") or local_date(context.services.clock.now()).year
    await _say(
        update,
        "add_confirm",
        InlineKeyboardMarkup(
            [[InlineKeyboardButton("保存", callback_data="sa:ok"), InlineKeyboardButton("取消", callback_data="sa:x")]]
        ),
        unit=st["unit"],
        rule=rule.name,
        rule_points=rule.points,
        number=st["number"],
        reason=st["reason"],
        year=year,
    )
    return CONFIRM


async def confirmed(update: Update, context: Ctx) -> int | None:
    await update.callback_query.answer()
    await clear_tapped_keyboard(update, context)
    await _record(update, context, context.chat_data.close("score_add") or {})
    return END


add_cancel = cancel_handler("score_add", "score/chat.html.j2", step="cancelled", points=format_points)
add_timed_out = timeout_notice("score_add", "score/chat.html.j2", step="timeout")


async def wrong_input(update: Update, context: Ctx) -> None:
    await _say(update, "wrong")


async def stale_button(update: Update, context: Ctx) -> None:
    await update.callback_query.answer("该操作已结束，请重新发送 /score。", show_alert=True)


def register(app: Application) -> None:
    """/score (with the add dialog) and its buttons."""
    private = filters.ChatType.PRIVATE
    text = filters.TEXT & ~filters.COMMAND & private
    add_dialog(
        app,
        Dialog(
            entry_points=[CommandHandler("score", score_command, filters=private)],
            states={
                UNIT: [
                    MessageHandler(text, got_unit_text),
                    CallbackQueryHandler(unit_chosen, pattern=r"^sa:u:\d{1,10}$"),
                ],
                RULE: [CallbackQueryHandler(rule_chosen, pattern=r"^sa:r:[a-z_.]{1,40}$")],
                ITEM: [MessageHandler(text, got_item)],
                REASON: [MessageHandler(text, got_reason)],
                CONFIRM: [CallbackQueryHandler(confirmed, pattern=r"^sa:ok$")],
                ConversationHandler.TIMEOUT: [TypeHandler(Update, add_timed_out)],
            },
            fallbacks=[MessageHandler(~filters.COMMAND & private, wrong_input)],
            allow_reentry=True,
            timeout=lambda: TIMEOUT_SECONDS,
            name="score_add",
            label="考核加减分登记（/score add）",
            cancel_data="sa:x",
            cancel=add_cancel,
            opens=lambda update: command_args(update)[:1] == ["add"],
        ),
    )
    app.add_handler(CallbackQueryHandler(unit_tapped, pattern=r"^sc:u:\d{4}:\d{1,10}$"))
    app.add_handler(CallbackQueryHandler(approve_cancelled, pattern=r"^sc:x$"))
    app.add_handler(CallbackQueryHandler(approve_ask, pattern=r"^y:ask:"))
    app.add_handler(CallbackQueryHandler(approve, pattern=r"^y:ok:"))
    app.add_handler(CallbackQueryHandler(stale_button, pattern=r"^(sa|sc):"))
