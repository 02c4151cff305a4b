"""A tap on a workflow button: read its payload, refuse it politely, find its item.

Whatever a button claims, the services decide from the database. Refusals answer the tap with a
Chinese alert; ``NotAllowed`` and malformed payloads are logged as warnings (they may be forged).
A stale button (``AlreadyHandled``) turns into "☑️ 已处理".
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from telegram import Message, Update

from bot.domain.actions import Action, MalformedAction, parse_action
from bot.domain.errors import DomainError, NotAllowed
from bot.domain.targets import Ref, item_ref
from bot.domain.workflow import AlreadyHandled
from handlers.common import tap_data
from handlers.context import Ctx
from handlers.keyboards import outcome_shown, show_outcome

if TYPE_CHECKING:
    from store.models import Person

log = logging.getLogger("duban.actions")


def log_refusal(update: Update, person: Person | None, what: str | None, exc: DomainError) -> None:
    level = logging.WARNING if isinstance(exc, (NotAllowed, MalformedAction)) else logging.INFO
    log.log(
        level,
        "event=action_refused what=%s user=%s person=%s kind=%s reason=%s",
        what,
        update.effective_user.id if update.effective_user else None,
        person.id if person else None,
        type(exc).__name__,
        exc.message,
    )


async def parse_tap(update: Update, person: Person | None) -> Action | None:
    """The action a button asks for; a malformed payload is answered and logged (None)."""
    query = update.callback_query
    try:
        return parse_action(query.data)
    except MalformedAction as exc:
        log_refusal(update, person, repr((query.data or "")[:80]), exc)
        await query.answer(exc.message, show_alert=True)
        return None


async def ref_for(context: Ctx, target: str, target_id: int) -> Ref | None:
    async with context.services.db.session() as s:
        return await item_ref(s, target, target_id)


async def refuse_tap(
    update: Update, context: Ctx, person: Person | None, action: Action | None, exc: DomainError, mode: str = "row"
) -> None:
    """Answer a refused tap with an alert; a stale button also shows "已处理" from now on."""
    query = update.callback_query
    log_refusal(update, person, query.data if query else "?", exc)
    await query.answer(exc.message[:200], show_alert=True)
    if isinstance(exc, AlreadyHandled) and action is not None and isinstance(query.message, Message):
        if outcome_shown(context, query.message.message_id, tap_data(update)):
            return  # a second tap on a button whose outcome this chat was just shown: keep that label
        ref = await ref_for(context, action.spec.target, action.target_id)
        await show_outcome(
            context,
            query.message.chat.id,
            query.message.message_id,
            query.message.reply_markup,
            tap_data(update),
            mode if mode != "none" else "button",
            "☑️ 已处理",
            ref.item_id if ref else None,
        )
