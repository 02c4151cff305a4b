"""Progress by replying: a liaison who replies to a 督办通知单 (text, photo, document or video) adds
one progress entry per message; the photos of one album (one ``media_group_id``) go into one entry.
The 反馈进展 / 提交办结报告 / 工作方案 buttons instead collect several messages until 完成."""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.ext import Application, MessageHandler, filters

from bot.domain import assignments as asg
from bot.domain.actions import ACTIONS, PLACEHOLDER, Answer
from bot.domain.errors import DomainError
from bot.domain.replies import reply_target
from bot.domain.targets import item_ref
from handlers.common import reply
from handlers.context import Ctx, actor
from handlers.env import dry_run, env_of
from handlers.keyboards import markup_of
from handlers.taps import log_refusal
from handlers.uploads import download_attachment

log = logging.getLogger("duban.actions")


class ReplyToBot(filters.MessageFilter):
    """A reply to one of the bot's messages. Which item it is about is the database's answer
    (``bot.domain.replies.reply_target``: the items the message named, bundled notices included,
    or the buttons it carried); a message about no item gets a hint, never silence."""

    def filter(self, message: Message) -> bool:
        replied = message.reply_to_message
        if replied is None or replied.from_user is None or not replied.from_user.is_bot:
            return False
        try:  # this bot's message, not a quoted one of another bot
            return replied.from_user.id == message.get_bot().id
        except RuntimeError:  # a message without its bot (built by hand): any bot's will do
            return True


async def on_reply(update: Update, context: Ctx) -> None:
    """A reply to a message about one of the unit's items (a 督办通知单, a reminder, a bundle of
    notices) is a progress entry on it; the other photos of its album join that entry."""
    message = update.message
    replied = message.reply_to_message
    datas = [
        b.callback_data
        for r in (replied.reply_markup.inline_keyboard if replied.reply_markup else ())
        for b in r
        if isinstance(b.callback_data, str) and b.callback_data
    ]  # ours carry text
    person = await context.known_person(update)
    async with context.services.db.session() as s:
        target = await reply_target(s, person, update.effective_chat.id, replied.message_id, datas)
    if target is None:  # a liaison is told how to report; anyone else hears what a stray message hears
        await reply(
            update, "chat/reply_hint.html.j2" if person.unit_id is not None else "messages/stray_message.html.j2"
        )
        return
    if target.assignment_id is None:  # the message names several items: ask, never guess (issue 13)
        await reply(
            update, "chat/reply_which.html.j2", reply_markup=markup_of(target.keyboard()), choices=target.choices
        )
        return
    assignment_id = target.assignment_id
    albums: dict = context.chat_data.setdefault("albums", {})
    group = message.media_group_id
    env = await env_of(context)
    # Refused before anything is downloaded: a refused reply leaves no file behind.
    refusal = await dry_run(
        context, lambda s: asg.add_progress(s, person, assignment_id, text=PLACEHOLDER, attachments=[], now=env.now)
    )
    if refusal is not None:
        log_refusal(update, person, f"reply:{assignment_id}", refusal)
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
        log_refusal(update, person, f"reply:{assignment_id}", exc)
        await reply(update, "chat/error.html.j2", message=exc.message, again=False)
        return
    log.info("event=action code=reply-progress target=%s person=%s", assignment_id, person.id)
    if group:
        if group in albums:
            return  # the album's first message already got the confirmation
        albums.clear()  # only the latest album is remembered
        albums[group] = row.id
    await reply(
        update,
        ACTIONS["a:prg"].template,
        step="done",
        label=ref.label if ref else "",
        answer=Answer(text=text, files=files),
        by_reply=True,
    )


def register(app: Application) -> None:
    content = (filters.TEXT & ~filters.COMMAND) | filters.PHOTO | filters.Document.ALL | filters.VIDEO
    app.add_handler(MessageHandler(ReplyToBot() & filters.ChatType.PRIVATE & content, on_reply))
