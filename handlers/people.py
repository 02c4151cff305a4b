"""/people (office): find a person by name or unit, see their roles, and change them — deactivate,
add or remove a role, move to another unit, hand the unit's liaison role to someone else,
re-invite. Every change is confirmed with a second tap and made by ``bot.domain.people``
(audited, announced to the person affected).

Buttons: ``pp:<verb>:<person id>[:<role or id>]``; every tap is re-checked in the database (the
office role here, and again in the service). Moving to another unit asks for the unit's name,
a short dialog (``/cancel`` ends it).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from telegram import BotCommandScopeChat, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
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

from bot.domain import people as svc_people
from bot.domain.actions import parse_id
from bot.domain.commands import forget_menu
from bot.domain.directory import find_units, person_by_id, unit_by_id
from bot.domain.errors import DomainError
from bot.domain.onboarding import deep_link
from bot.domain.roles import OFFICE_ROLES, ROLE_NAMES
from bot.kernel.render import render
from handlers import dialogs
from handlers.common import _menus, _set_menu, reply, requires
from handlers.context import Ctx, actor
from handlers.dialogs import Dialog
from handlers.widgets import cancel_handler, timeout_notice

if TYPE_CHECKING:
    from store.models import Person

log = logging.getLogger("duban.people")

_DATA = re.compile(r"pp:([a-z]{1,5}):([0-9]{1,10})(?::([a-z_]{1,12}|[0-9]{1,10}))?")
ENTER_UNIT = 0
UNIT_SLOT = "people_unit"  # the dialog's answers in the chat's dialog slot (handlers.context.ChatData)
UNIT_DIALOG = "people/unit_dialog.html.j2"
TIMEOUT_SECONDS = 600


def _b(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


async def _edit(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Show ``text`` in place of the tapped message; a new message when it cannot be edited."""
    query = update.callback_query
    if query is not None and isinstance(query.message, Message):
        try:
            await query.edit_message_text(text, reply_markup=markup, disable_web_page_preview=True)
            return
        except TelegramError as exc:
            if "not modified" in str(exc).lower():
                return
    await update.effective_chat.send_message(text, reply_markup=markup, disable_web_page_preview=True)


def _card_markup(c: svc_people.PersonCard) -> InlineKeyboardMarkup:
    rows = []
    if c.active:
        rows.append([_b("停用（离岗）", f"pp:off:{c.id}"), _b("更改角色", f"pp:rl:{c.id}")])
        second = [_b("更改单位", f"pp:un:{c.id}")] if c.unit_id is not None else []
        if c.is_liaison:
            second.append(_b("移交联络员", f"pp:ho:{c.id}"))
        if second:
            rows.append(second)
    rows.append([_b("重新邀请", f"pp:ri:{c.id}")])
    return InlineKeyboardMarkup(rows)


def _card_text(c: svc_people.PersonCard, note: str | None = None) -> str:
    return render("people/card.html.j2", c=c, note=note)


@requires(*OFFICE_ROLES, what="/people")
async def people_command(update: Update, context: Ctx) -> None:
    text = " ".join(context.args or []).strip()
    if not text:
        await reply(update, "people/usage.html.j2")
        return
    person = await context.known_person(update)
    try:
        async with context.services.db.session(actor(person)) as s:
            found = await svc_people.find_people(s, person, text)
    except DomainError as exc:
        await reply(update, "chat/error.html.j2", message=exc.message, again=False)
        return
    if len(found) == 1:
        await update.effective_chat.send_message(_card_text(found[0]), reply_markup=_card_markup(found[0]))
        return
    rows = [
        [_b(f"{c.name}（{c.unit_name or c.role_names}）{'' if c.active else '·已停用'}", f"pp:v:{c.id}")] for c in found
    ]
    await update.effective_chat.send_message(
        render("people/found.html.j2", text=text, found=found),
        reply_markup=InlineKeyboardMarkup(rows) if rows else None,
    )


async def _refresh_menu(context: Ctx, outcome: svc_people.Outcome) -> None:
    """The affected person's command menu follows their roles (cleared when deactivated)."""
    chat_id = outcome.chat_id
    if chat_id is None:
        return
    db = context.services.db
    if not outcome.person.active:
        try:
            await context.bot.delete_my_commands(scope=BotCommandScopeChat(chat_id))
        except TelegramError as exc:
            log.info("event=menu_not_cleared chat=%s error=%s", chat_id, exc)
        _menus(context.bot_data).pop(chat_id, None)
        async with db.session() as s:
            await forget_menu(s, chat_id)
        return
    async with db.session() as s:
        person = await person_by_id(s, outcome.person.id)
        if person is not None and person.telegram_id is not None:
            await _set_menu(context.bot, person.telegram_id, person, db, _menus(context.bot_data))


@requires(*OFFICE_ROLES, what="/people")
async def tapped(update: Update, context: Ctx) -> None:
    query = update.callback_query
    me = await context.known_person(update)
    m = _DATA.fullmatch(query.data or "")
    target = parse_id(m.group(2)) if m else None
    if m is None or target is None:
        await query.answer("按钮已失效，请重新发送 /people", show_alert=True)
        return
    verb, arg = m.group(1), m.group(3)
    svc = context.services
    now = svc.clock.now()
    try:
        async with svc.db.session(actor(me)) as s:
            shown = await _handle(s, me, verb, target, arg, now, context)
    except DomainError as exc:
        log.info(
            "event=action_refused what=people:%s user=%s person=%s reason=%s",
            verb,
            update.effective_user.id,
            me.id,
            exc.message,
        )
        await query.answer(exc.message[:200], show_alert=True)
        return
    if shown is None:
        await query.answer("按钮已失效，请重新发送 /people", show_alert=True)
        return
    text, markup, outcome = shown
    await query.answer()
    await _edit(update, text, markup)
    if outcome is not None:
        log.info("event=people_change verb=%s person=%s by=%s", verb, outcome.person.id, me.id)
        await _refresh_menu(context, outcome)


def _confirm(text: str, yes: str, yes_data: str, back: int) -> tuple[str, InlineKeyboardMarkup, None]:
    return text, InlineKeyboardMarkup([[_b(yes, yes_data), _b("取消", f"pp:v:{back}")]]), None


async def _handle(s, me: Person, verb: str, pid: int, arg: str | None, now, context: Ctx):  # noqa: ANN001, ANN202
    """(text, keyboard, outcome of a change or None); None for a payload that is not ours."""
    role = arg if arg in ROLE_NAMES else None
    other = parse_id(arg) if arg and arg.isdigit() else None
    if verb == "v" and arg is None:
        c = await svc_people.person_card(s, me, pid)
        return _card_text(c), _card_markup(c), None
    if verb == "off" and arg is None:
        c = await svc_people.person_card(s, me, pid)
        if not c.active:
            raise DomainError(f"{c.name}的账号已经停用，无需重复操作")
        return _confirm(
            render("people/confirm.html.j2", role_names=ROLE_NAMES, what="off", c=c), "确认停用", f"pp:offy:{pid}", pid
        )
    if verb == "offy" and arg is None:
        out = await svc_people.deactivate(s, me, pid, now=now, admins=context.services.settings.office.admins)
        return _card_text(out.person, _done("off", out)), _card_markup(out.person), out
    if verb == "rl" and arg is None:
        c = await svc_people.person_card(s, me, pid)
        rows = [
            [
                _b(
                    f"取消「{ROLE_NAMES[r]}」" if r in c.roles else f"增加「{ROLE_NAMES[r]}」",
                    f"pp:{'rm' if r in c.roles else 'ad'}:{pid}:{r}",
                )
            ]
            for r in svc_people.roles_that_fit(c)
        ]
        rows.append([_b("返回", f"pp:v:{pid}")])
        return _card_text(c, "请选择要增加或取消的角色："), InlineKeyboardMarkup(rows), None
    if verb in ("ad", "rm") and role:
        c = await svc_people.person_card(s, me, pid)
        return _confirm(
            render("people/confirm.html.j2", role_names=ROLE_NAMES, what=verb, c=c, role=role),
            "确认增加" if verb == "ad" else "确认取消",
            f"pp:{verb}y:{pid}:{role}",
            pid,
        )
    if verb in ("ady", "rmy") and role:
        call = svc_people.add_role if verb == "ady" else svc_people.remove_role
        out = await call(s, me, pid, role, now=now)
        return _card_text(out.person, _done(verb[:2], out, role=role)), _card_markup(out.person), out
    if verb == "ho" and arg is None:
        c, successors = await svc_people.liaison_successors(s, me, pid)
        if not successors:
            return (
                _card_text(c, render("people/confirm.html.j2", role_names=ROLE_NAMES, what="no_successor", c=c)),
                InlineKeyboardMarkup([[_b("返回", f"pp:v:{pid}")]]),
                None,
            )
        rows = [[_b(f"{o.name}（{o.role_names}）", f"pp:hto:{pid}:{o.id}")] for o in successors[:10]]
        rows.append([_b("返回", f"pp:v:{pid}")])
        return _card_text(c, f"请选择接任{c.unit_name}联络员的人员："), InlineKeyboardMarkup(rows), None
    if verb == "hto" and other:
        c, successors = await svc_people.liaison_successors(s, me, pid)
        new = next((o for o in successors if o.id == other), None)
        if new is None:
            raise DomainError("该人员不在本单位或已停用，请重新选择")
        return _confirm(
            render("people/confirm.html.j2", role_names=ROLE_NAMES, what="ho", c=c, new=new),
            "确认移交",
            f"pp:htoy:{pid}:{other}",
            pid,
        )
    if verb == "htoy" and other:
        out = await svc_people.hand_over(s, me, pid, other, now=now)
        return _card_text(out.person, _done("ho", out)), _card_markup(out.person), out
    if verb == "ri" and arg is None:
        c = await svc_people.person_card(s, me, pid)
        fit = svc_people.roles_that_fit(c)
        fit.sort(key=lambda r: r not in c.roles)
        rows = [[_b(f"邀请为「{ROLE_NAMES[r]}」", f"pp:rir:{pid}:{r}")] for r in fit]
        rows.append([_b("返回", f"pp:v:{pid}")])
        return (
            _card_text(c, "重新邀请：请选择角色（将生成新的一次性邀请链接，旧链接作废）："),
            InlineKeyboardMarkup(rows),
            None,
        )
    if verb == "rir" and role:
        c = await svc_people.person_card(s, me, pid)
        return _confirm(
            render("people/confirm.html.j2", role_names=ROLE_NAMES, what="ri", c=c, role=role),
            "确认生成链接",
            f"pp:riry:{pid}:{role}",
            pid,
        )
    if verb == "riry" and role:
        inv = await svc_people.reinvite(
            s, me, pid, role, now=now, ttl_days=context.services.settings.invitations.ttl_days
        )
        text = render(
            "messages/invite_created.html.j2",
            person=inv.person,
            role_name=ROLE_NAMES[inv.role],
            link=deep_link(context.bot.username, inv.code),
            expires_at=inv.expires_at,
        )
        return text, None, None
    return None


def _done(what: str, out: svc_people.Outcome, role: str | None = None) -> str:
    return render(
        "people/done.html.j2",
        role_names=ROLE_NAMES,
        what=what,
        c=out.person,
        role=role,
        warning=out.warning,
        briefed=out.briefed,
    )


# --- moving a person to another unit: a short dialog ---------------------------------------------


@requires(*OFFICE_ROLES, what="/people", denied=ConversationHandler.END)
async def unit_start(update: Update, context: Ctx) -> int:
    query = update.callback_query
    me = await context.known_person(update)
    m = _DATA.fullmatch(query.data or "")
    pid = parse_id(m.group(2)) if m else None
    try:
        if pid is None:
            raise DomainError("按钮已失效，请重新发送 /people")
        async with context.services.db.session(actor(me)) as s:
            c = await svc_people.person_card(s, me, pid)
        if c.unit_id is None or not c.active:
            raise DomainError(f"{c.name}不属于承办单位或已停用，不能更改单位")
    except DomainError as exc:
        await query.answer(exc.message[:200], show_alert=True)
        return ConversationHandler.END
    await query.answer()
    context.chat_data.open(UNIT_SLOT, pid=pid)
    await reply(update, UNIT_DIALOG, step="ask", person_name=c.name)
    return ENTER_UNIT


@requires(*OFFICE_ROLES, what="/people", denied=ConversationHandler.END)
async def unit_typed(update: Update, context: Ctx) -> int:
    answers = context.chat_data.answers(UNIT_SLOT)
    text = update.message.text.strip()[:50]
    if answers is None:
        return ConversationHandler.END
    async with context.services.db.session() as s:
        units = await find_units(s, text)
    if not units:
        await reply(update, UNIT_DIALOG, step="none_found", query=text)
        return ENTER_UNIT
    context.chat_data.close(UNIT_SLOT)
    rows = [[_b(u.name, f"pp:uc:{answers['pid']}:{u.id}")] for u in units]
    await reply(update, UNIT_DIALOG, step="choose", reply_markup=InlineKeyboardMarkup(rows))
    return ConversationHandler.END  # the choice is an ordinary (confirmed) tap


async def unit_not_text(update: Update, context: Ctx) -> int | None:
    await reply(update, UNIT_DIALOG, step="not_text")
    return None


@requires(*OFFICE_ROLES, what="/people")
async def unit_tapped(update: Update, context: Ctx) -> None:
    """``pp:uc`` (confirm the chosen unit) and ``pp:ucy`` (make the move)."""
    query = update.callback_query
    me = await context.known_person(update)
    m = re.fullmatch(r"pp:(uc|ucy):([0-9]{1,10}):([0-9]{1,10})", query.data or "")
    pid, unit_id = (parse_id(m.group(2)), parse_id(m.group(3))) if m else (None, None)
    if pid is None or unit_id is None:
        await query.answer("按钮已失效，请重新发送 /people", show_alert=True)
        return
    svc = context.services
    outcome = None
    try:
        async with svc.db.session(actor(me)) as s:
            if m.group(1) == "uc":
                c = await svc_people.person_card(s, me, pid)
                unit = await unit_by_id(s, unit_id, active=True)
                if unit is None:
                    raise DomainError("找不到该单位，或该单位已停用")
                text, markup, _ = _confirm(
                    render("people/confirm.html.j2", role_names=ROLE_NAMES, what="un", c=c, unit=unit.name),
                    "确认更改",
                    f"pp:ucy:{pid}:{unit_id}",
                    pid,
                )
            else:
                outcome = await svc_people.change_unit(s, me, pid, unit_id, now=svc.clock.now())
                text, markup = _card_text(outcome.person, _done("un", outcome)), _card_markup(outcome.person)
    except DomainError as exc:
        await query.answer(exc.message[:200], show_alert=True)
        return
    await query.answer()
    await _edit(update, text, markup)
    if outcome is not None:
        await _refresh_menu(context, outcome)


def register(app: Application) -> None:
    private = filters.ChatType.PRIVATE
    text = filters.TEXT & ~filters.COMMAND & private
    dialogs.add(
        app,
        Dialog(
            entry_points=[CallbackQueryHandler(unit_start, pattern=r"^pp:un:")],
            states={
                ENTER_UNIT: [MessageHandler(text, unit_typed)],
                ConversationHandler.TIMEOUT: [
                    TypeHandler(Update, timeout_notice(UNIT_SLOT, UNIT_DIALOG, step="timeout"))
                ],
            },
            fallbacks=[MessageHandler(~filters.COMMAND & private, unit_not_text)],
            timeout=lambda: TIMEOUT_SECONDS,
            name="people_unit",
            label="更改人员单位（/people）",
            cancel_data="pp:x",
            cancel=cancel_handler(UNIT_SLOT, UNIT_DIALOG, step="cancelled"),
        ),
    )
    app.add_handler(CommandHandler("people", people_command, filters=private))
    app.add_handler(CallbackQueryHandler(unit_tapped, pattern=r"^pp:(uc|ucy):"))
    app.add_handler(CallbackQueryHandler(tapped, pattern=r"^pp:"))
