"""/invite: office staff create a one-time invitation link, in one line or through a short dialog.

One line:  /invite 联络员 城关镇 张三   ·   /invite 县领导 李四
Dialog:    /invite → role (buttons) → unit (type part of the name, pick a button) → name.
"""

from __future__ import annotations

import warnings
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.domain.errors import DomainError
from bot.domain.onboarding import create_invitation, deep_link
from bot.domain.roles import OFFICE_ROLES, ROLE_NAMES, UNIT_ROLES, parse_role
from handlers.common import message_text, reply, requires, tap_data
from handlers.context import Ctx, actor
from handlers.dialogs import Dialog, command_args
from handlers.dialogs import add as add_dialog
from handlers.keyboards import edit_tapped
from handlers.widgets import cancel_handler, tapped_unit, timeout_notice, unit_buttons

# The dialog is per user and chat on purpose (buttons live on several messages); PTB warns about that.
warnings.filterwarnings("ignore", message=r".*per_message=False.*CallbackQueryHandler", category=PTBUserWarning)

CHOOSE_ROLE, CHOOSE_UNIT, ENTER_NAME = range(3)
TIMEOUT_SECONDS = 600
USAGE = "用法：/invite 角色 [单位] 姓名，例如 /invite 联络员 城关镇 张三；或只发送 /invite 按提示操作。"


async def _issue(update: Update, context: Ctx, role: str, unit_name: str | None, name: str) -> bool:
    """Create the invitation and show the link; a problem is answered and returns False."""
    svc = context.services
    person = await context.known_person(update)
    try:
        async with svc.db.session(actor(person), "invitation.create") as s:
            inv = await create_invitation(
                s,
                role=role,
                name=name,
                unit_name=unit_name,
                created_by=person,
                now=svc.clock.now(),
                ttl_days=svc.settings.invitations.ttl_days,
            )
    except DomainError as exc:
        await update.effective_chat.send_message(escape(exc.message))  # it may quote what was typed
        return False
    await reply(
        update,
        "messages/invite_created.html.j2",
        person=inv.person,
        role_name=inv.role_name,
        link=deep_link(context.bot.username, inv.code),
        expires_at=inv.expires_at,
    )
    return True


@requires(*OFFICE_ROLES, what="/invite", denied=ConversationHandler.END)
async def invite_start(update: Update, context: Ctx) -> int:
    args = context.args or []
    if args:
        role = parse_role(args[0])
        if role is None:
            await update.effective_chat.send_message(f"未知的角色「{escape(args[0])}」。{USAGE}")
            return ConversationHandler.END
        needed = 3 if role in UNIT_ROLES else 2
        if len(args) != needed:
            await update.effective_chat.send_message(USAGE)
            return ConversationHandler.END
        unit_name = args[1] if role in UNIT_ROLES else None
        await _issue(update, context, role, unit_name, args[-1])
        return ConversationHandler.END
    buttons = [[InlineKeyboardButton(name, callback_data=f"inv:role:{code}")] for code, name in ROLE_NAMES.items()]
    await update.effective_chat.send_message(
        "请选择被邀请人的角色：（随时发送 /cancel 取消）", reply_markup=InlineKeyboardMarkup(buttons)
    )
    return CHOOSE_ROLE


@requires(*OFFICE_ROLES, what="/invite")
async def role_chosen(update: Update, context: Ctx) -> int:
    query = update.callback_query
    role = query.data.removeprefix("inv:role:")
    if role not in ROLE_NAMES:
        await query.answer("无效的选择", show_alert=True)
        return CHOOSE_ROLE
    await query.answer()
    context.chat_data.open("invite", role=role)
    await edit_tapped(update, f"角色：{ROLE_NAMES[role]}")
    if role in UNIT_ROLES:
        await update.effective_chat.send_message("请输入所属单位名称（可只输入其中几个字）：")
        return CHOOSE_UNIT
    await update.effective_chat.send_message("请输入被邀请人的姓名：")
    return ENTER_NAME


@requires(*OFFICE_ROLES, what="/invite")
async def unit_typed(update: Update, context: Ctx) -> int:
    text = update.message.text.strip()
    rows, _ = await unit_buttons(context, text, "inv:unit")
    if not rows:
        await update.effective_chat.send_message(f"没有名称包含「{escape(text[:50])}」的单位，请重新输入：")
        return CHOOSE_UNIT
    await update.effective_chat.send_message("请选择单位：", reply_markup=InlineKeyboardMarkup(rows))
    return CHOOSE_UNIT


@requires(*OFFICE_ROLES, what="/invite")
async def unit_chosen(update: Update, context: Ctx) -> int:
    query = update.callback_query
    state = context.chat_data.answers("invite")
    unit = await tapped_unit(context, tap_data(update))
    if state is None or unit is None:
        await query.answer("无效的选择", show_alert=True)
        return CHOOSE_UNIT
    await query.answer()
    state["unit"] = unit.name
    await edit_tapped(update, f"单位：{unit.name}")
    await update.effective_chat.send_message("请输入被邀请人的姓名：")
    return ENTER_NAME


@requires(*OFFICE_ROLES, what="/invite")
async def name_entered(update: Update, context: Ctx) -> int:
    state = context.chat_data.answers("invite") or {}
    if "role" not in state:
        return ConversationHandler.END
    if await _issue(update, context, state["role"], state.get("unit"), message_text(update)):
        context.chat_data.close("invite")
        return ConversationHandler.END
    await update.effective_chat.send_message("请重新输入姓名，或发送 /cancel 取消：")
    return ENTER_NAME


cancel = cancel_handler("invite", "chat/cancelled.html.j2", what="invite")
timed_out = timeout_notice("invite", "chat/timeout.html.j2", what="invite")


async def not_text(update: Update, context: Ctx) -> int | None:
    await update.effective_chat.send_message("请输入文字，或发送 /cancel 取消。")
    return None


def register(app: Application) -> None:
    private = filters.ChatType.PRIVATE
    text = filters.TEXT & ~filters.COMMAND & private
    add_dialog(
        app,
        Dialog(
            entry_points=[CommandHandler("invite", invite_start, filters=private)],
            states={
                CHOOSE_ROLE: [CallbackQueryHandler(role_chosen, pattern=r"^inv:role:")],
                CHOOSE_UNIT: [
                    MessageHandler(text, unit_typed),
                    CallbackQueryHandler(unit_chosen, pattern=r"^inv:unit:"),
                ],
                ENTER_NAME: [MessageHandler(text, name_entered)],
                ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
            },
            fallbacks=[MessageHandler(~filters.COMMAND & private, not_text)],
            timeout=lambda: TIMEOUT_SECONDS,
            name="invite",
            label="生成邀请链接（/invite）",
            cancel_data="inv:x",
            cancel=cancel,
            opens=lambda update: not command_args(update),
        ),
    )
