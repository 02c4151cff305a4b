"""/start (invitations and greetings) and /help."""

from __future__ import annotations

import functools
import logging

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import Application, CommandHandler, filters

from bot.domain.acting import account_actor
from bot.domain.commands import commands_for
from bot.domain.errors import DomainError
from bot.domain.onboarding import redeem
from bot.domain.roles import ROLE_NAMES
from bot.kernel.render import render
from handlers.common import reply, set_menu
from handlers.context import Ctx

log = logging.getLogger("duban.onboarding")


def _role_names(person) -> str:  # noqa: ANN001
    return "、".join(ROLE_NAMES[r] for r in sorted(person.roles, key=list(ROLE_NAMES).index))


async def start(update: Update, context: Ctx) -> None:
    svc = context.services
    user = update.effective_user
    code = context.args[0] if context.args else ""
    person = await context.person(update)
    if not code:
        if person is None:
            await reply(update, "messages/unknown_person.html.j2", office_name=svc.settings.office.name)
            return
        await set_menu(context, update.effective_chat.id, person)
        await reply(update, "messages/welcome_back.html.j2", person=person, role_names=_role_names(person))
        return
    try:
        async with svc.db.session(account_actor(user.id), "invitation.redeem") as s:
            person = await redeem(s, code, user.id, svc.clock.now())
    except DomainError as exc:
        log.info("event=invitation_refused user=%s reason=%s", user.id, exc.message)
        await update.effective_chat.send_message(exc.message)
        return
    context.forget_person()
    log.info("event=invitation_redeemed user=%s person=%s", user.id, person.id)
    await set_menu(context, update.effective_chat.id, person)
    await reply(update, "messages/welcome.html.j2", person=person, role_names=_role_names(person))


async def help_command(update: Update, context: Ctx) -> None:
    person = await context.known_person(update)
    await set_menu(context, update.effective_chat.id, person)
    # No link in it, so no preview to turn off (the option costs a LinkPreviewOptions per answer).
    await update.effective_chat.send_message(_help_text(person.roles), parse_mode=ParseMode.HTML)


@functools.lru_cache(maxsize=64)
def _help_text(roles: frozenset[str]) -> str:
    # The same for everyone with the same roles: rendered once per role set, not per /help.
    return render("messages/help.html.j2", commands=commands_for(roles))


def register(app: Application) -> None:
    private = filters.ChatType.PRIVATE
    app.add_handler(CommandHandler("start", start, filters=private))
    app.add_handler(CommandHandler("help", help_command, filters=private))
