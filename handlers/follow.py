"""/follow N [姓名] (office): who follows an item (跟踪专人); see ``bot.domain.followers``."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import Application, CommandHandler, filters

from bot.domain.errors import DomainError
from bot.domain.followers import set_follower
from bot.domain.workflow import item_label
from handlers.common import reply, requires
from handlers.context import Ctx, actor

log = logging.getLogger("duban.follow")


@requires("office", what="设置跟踪专人")
async def follow_command(update: Update, context: Ctx) -> None:
    person = await context.known_person(update)
    args = context.args or []
    if not args:
        await reply(update, "follow/usage.html.j2", message=None)
        return
    svc = context.services
    try:
        async with svc.db.session(actor(person)) as s:
            item, target, changed = await set_follower(
                s, person, args[0], name=" ".join(args[1:]) or None, now=svc.clock.now()
            )
            number, who = item_label(item), target.name
    except DomainError as exc:
        await reply(update, "follow/usage.html.j2", message=exc.message)
        return
    log.info("event=follow item=%s follower=%s person=%s changed=%s", item.id, target.id, person.id, changed)
    await reply(update, "follow/done.html.j2", number=number, who=who, changed=changed)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("follow", follow_command, filters=filters.ChatType.PRIVATE))
