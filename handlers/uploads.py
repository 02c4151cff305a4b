"""Files people send in a dialog or a reply: checked, downloaded, kept by content."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Message, Update
from telegram.error import BadRequest

from bot.domain.attachments import MAX_ATTACHMENT_BYTES, AttachmentIn, check_size, store_attachment_bytes
from bot.domain.errors import DomainError
from bot.kernel.clock import OFFICE_TZ
from handlers.context import Ctx

log = logging.getLogger("duban.actions")

PHOTO_PREFIX = "照片-"  # names given to photos (Telegram photos have no file name)
# Files nobody in a county office needs to send and nobody should open from a chat.
BLOCKED_EXTENSIONS = frozenset(
    {
        ".exe",
        ".bat",
        ".cmd",
        ".com",
        ".scr",
        ".msi",
        ".js",
        ".vbs",
        ".ps1",
        ".sh",
        ".apk",
        ".jar",
        ".dll",
        ".lnk",
    }
)


def media_of(message: Message) -> Any:
    """The photo (largest size), document or video of a message, or None."""
    if message.photo:
        return message.photo[-1]
    return message.document or message.video


async def download_attachment(update: Update, context: Ctx) -> AttachmentIn | None:
    """Download the message's photo, document or video into content-addressed storage.

    The size is checked before downloading (a bot may fetch at most 20 MB); blocked file types are
    refused. Raises DomainError with a message for the sender."""
    message = update.message
    media = media_of(message) if message is not None else None
    if message is None or media is None:
        return None
    local = message.date.astimezone(OFFICE_TZ)
    if message.photo:
        name, mime = f"{PHOTO_PREFIX}{local:%Y%m%d-%H%M%S}.jpg", "image/jpeg"
    else:
        name = media.file_name or f"{'视频' if message.video else '文件'}-{local:%Y%m%d-%H%M%S}"
        mime = media.mime_type
        ext = ("." + name.rsplit(".", 1)[1].lower()) if "." in name else ""
        if ext in BLOCKED_EXTENSIONS:
            raise DomainError(f"不接收{ext}类型的文件。请发送照片、PDF、Word、Excel等文档，或将文件送交督查室。")
    check_size(media.file_size or 0)
    try:
        tg_file = await context.bot.get_file(media.file_id)
        if tg_file.file_size and tg_file.file_size > MAX_ATTACHMENT_BYTES:
            check_size(tg_file.file_size)
        data = bytes(await tg_file.download_as_bytearray())
    except BadRequest as exc:
        log.warning("event=download_failed user=%s error=%s", update.effective_user.id, exc)
        if "too big" in str(exc).lower():
            check_size(MAX_ATTACHMENT_BYTES + 1)
        raise DomainError("文件下载失败，请稍后重新发送。") from exc
    sha, path = store_attachment_bytes(context.services.settings.storage.files_dir, data)
    return AttachmentIn(
        file_name=name,
        size=len(data),
        mime_type=mime,
        telegram_file_id=media.file_id,
        telegram_file_unique_id=media.file_unique_id,
        sha256=sha,
        local_path=str(path),
    )
