"""/outbox for office staff: the messages that did not reach their person (failed after retries,
recipient blocked the bot, recipient not bound yet), so nothing is dropped silently; "/outbox 重发"
queues the failed ones again. Also follows Telegram's word that a person blocked or unblocked the
bot (``my_chat_member``): the office is told at once, not only when a send fails.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select
from telegram import ChatMember, Update
from telegram.ext import Application, ChatMemberHandler, CommandHandler, filters

from bot.domain.urging import UNDELIVERED_STATES, person_blocked, person_unblocked, retry_failed, undelivered
from handlers.common import reply, requires
from handlers.context import Ctx, actor
from store.audit import Actor
from store.models import OutboxMessage

log = logging.getLogger("duban.outbox_view")

WINDOW = timedelta(days=7)
RETRY_WORDS = {"重发", "重新发送", "retry"}


@requires("office", "office_head", what="/outbox")
async def outbox_command(update: Update, context: Ctx) -> None:
    svc = context.services
    person = await context.person(update)
    now = svc.clock.now()
    since = now - WINDOW
    if context.args and context.args[0].strip() in RETRY_WORDS:
        async with svc.db.session(actor(person), "outbox.retry") as s:
            count = await retry_failed(s, since, now)
        log.info("event=outbox_retry person=%s count=%s", person.id, count)
        await reply(update, "urging/retried.html.j2", count=count)
        return
    async with svc.db.session() as s:
        rows = await undelivered(s, since)
        pending = await s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status.in_(("pending", "sending")))) or 0
    groups = [{"status_title": rows_[0].status_title, "rows": rows_}
              for status in UNDELIVERED_STATES if (rows_ := [r for r in rows if r.status == status])]
    await reply(update, "urging/undelivered.html.j2", since=since, groups=groups, pending=pending)


async def membership(update: Update, context: Ctx) -> None:
    """The person blocked (kicked) or unblocked the bot in their private chat."""
    change = update.my_chat_member
    if change is None or change.chat.type != change.chat.PRIVATE:
        return
    person = await context.person(update)
    if person is None:
        return
    svc = context.services
    old, new = change.old_chat_member.status, change.new_chat_member.status
    async with svc.db.session(Actor(person.id, person.name), "person.membership") as s:
        if new in (ChatMember.BANNED, ChatMember.LEFT):
            if await person_blocked(s, person.id, svc.clock.now(), calendar=await svc.calendar(),
                                    settings=svc.settings):
                log.warning("event=person_blocked_bot person=%s", person.id)
        elif old in (ChatMember.BANNED, ChatMember.LEFT) and new == ChatMember.MEMBER:
            if await person_unblocked(s, person.id):
                log.info("event=person_unblocked_bot person=%s", person.id)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("outbox", outbox_command, filters=filters.ChatType.PRIVATE))
    app.add_handler(ChatMemberHandler(membership, ChatMemberHandler.MY_CHAT_MEMBER))
