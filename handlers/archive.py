"""归档 (office): ``i:arc`` on a closed item (declared in ``bot.domain.buttons``), or ``/archive N``. The dossier goes to the person who
archived as one HTML document, followed by the item's attachments (by their Telegram file id, or
uploaded from local storage when Telegram no longer has them). ``/archive N`` on an item already
archived sends the dossier again. A confidential item's dossier never goes through the messenger.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler, filters

from bot.domain.actions import ACTIONS, Answer
from bot.domain.dossier import DossierAttachment, dossier
from bot.domain.errors import DomainError
from bot.domain.views import find_item
from bot.domain.workflow import AlreadyHandled
from bot.kernel.render import render
from handlers.common import reply, requires
from handlers.context import Ctx, actor
from handlers.env import env_of
from handlers.uploads import PHOTO_PREFIX

if TYPE_CHECKING:
    from store.models import Person

log = logging.getLogger("duban.archive")


async def _archive(s, me, item_id, env):  # noqa: ANN001, ANN202
    # The button's own service call: archive and file the printable dossier (bot.domain.buttons).
    return await ACTIONS["i:arc"].run(s, me, item_id, Answer(), env)


async def send_dossier(
    update: Update, context: Ctx, person: Person, item_id: int, _result: object = None, *, again: bool = False
) -> None:
    async with context.services.db.session() as s:
        d = await dossier(s, item_id, person)
    chat = update.effective_chat
    if d.confidential:
        await reply(update, "chat/archived.html.j2", d=d, again=again)
        return
    document = render("chat/dossier_file.html.j2", d=d).encode("utf-8")
    await chat.send_document(
        document, filename=f"{d.label}卷宗.html", caption=render("chat/archived.html.j2", d=d, again=again)
    )
    for n, f in enumerate(d.attachments, 1):
        await _send_attachment(update, context, f, n, len(d.attachments))


def _is_photo(f: DossierAttachment) -> bool:
    return f.file_name.startswith(PHOTO_PREFIX) and (f.mime_type or "").startswith("image/")


async def _send_attachment(update: Update, context: Ctx, f: DossierAttachment, n: int, total: int) -> None:
    chat = update.effective_chat
    caption = render("chat/attachment_caption.html.j2", f=f, n=n, total=total)
    if f.telegram_file_id:
        try:
            if _is_photo(f):
                await chat.send_photo(f.telegram_file_id, caption=caption)
            else:
                await chat.send_document(f.telegram_file_id, caption=caption)
            return
        except TelegramError as exc:  # e.g. an id Telegram no longer knows: upload our copy instead
            log.warning("event=attachment_resend_failed attachment=%s error=%s", f.id, exc)
    path = Path(f.local_path) if f.local_path else None
    if path is not None and path.is_file():
        await chat.send_document(path.read_bytes(), filename=f.file_name, caption=caption)
    else:
        await reply(update, "chat/attachment_missing.html.j2", f=f, n=n, total=total)


@requires("office", what="/archive")
async def archive_command(update: Update, context: Ctx) -> None:
    person = await context.known_person(update)
    ref = " ".join(context.args or []).strip()
    if not ref:
        await reply(update, "chat/usage.html.j2", command="archive")
        return
    env = await env_of(context)
    try:
        async with env.services.db.session(actor(person)) as s:
            item = await find_item(s, ref, env.now)
            item_id = item.id
            try:
                await _archive(s, person, item_id, env)
                again = False
            except AlreadyHandled:
                if item.state != "archived":
                    raise
                again = True
    except DomainError as exc:
        log.info("event=action_refused what=/archive person=%s reason=%s", person.id, exc.message)
        await reply(update, "chat/error.html.j2", message=exc.message, again=False)
        return
    log.info("event=action code=/archive target=%s person=%s again=%s", item_id, person.id, again)
    await send_dossier(update, context, person, item_id, again=again)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("archive", archive_command, filters=filters.ChatType.PRIVATE))
