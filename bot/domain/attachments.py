"""Attachments: photos and documents sent with progress, plans and completion reports.

The handler downloads the file from Telegram (the bot may download at most 20 MB), stores the bytes
with ``store_attachment_bytes`` and passes an ``AttachmentIn`` to the service, which records it in
the same transaction as the record it belongs to. Files are content-addressed: the same photo sent
twice is stored once, at ``files_dir/ab/cdef…`` (the sha256 split after two characters).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.errors import DomainError
from bot.domain.workflow import drop_controls
from store.workflow import Attachment

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024  # Telegram's limit for a bot downloading a file
MAX_ATTACHMENTS = 20  # per record
MAX_FILE_NAME = 200

OWNER_KINDS = {"progress": "进展反馈", "plan": "工作方案", "report": "办结报告", "office_report": "办理结果"}


@dataclass(frozen=True)
class AttachmentIn:
    """A received file, as the handler describes it."""

    file_name: str
    size: int
    mime_type: str | None = None
    telegram_file_id: str | None = None
    telegram_file_unique_id: str | None = None
    sha256: str | None = None
    local_path: str | None = None


def check_size(size: int) -> None:
    """Refuse a file the bot cannot download (over 20 MB) with a message the sender understands."""
    if size > MAX_ATTACHMENT_BYTES:
        raise DomainError(
            f"文件太大（{size / 1024 / 1024:.1f} MB）。机器人只能接收 20 MB 以内的文件，"
            "请压缩或拆分后重新发送，或将原件送交督查室。"
        )
    if size < 0:
        raise DomainError("文件大小不正确，请重新发送")


def store_attachment_bytes(files_dir: str | os.PathLike[str], data: bytes) -> tuple[str, Path]:
    """Write ``data`` once under ``files_dir`` by its sha256; returns (sha256, path).

    Atomic (write to a temporary file, then rename) and idempotent: storing the same bytes again
    returns the same path without rewriting it.
    """
    check_size(len(data))
    digest = hashlib.sha256(data).hexdigest()
    path = Path(files_dir) / digest[:2] / digest[2:]
    if not path.exists():
        write_atomically(path, data)
    return digest, path


def write_atomically(path: Path, data: bytes) -> Path:
    """A temporary file, then rename: a reader never sees half a file, a crash leaves no stub."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".writing-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def validate(files: Sequence[AttachmentIn]) -> None:
    if len(files) > MAX_ATTACHMENTS:
        raise DomainError(f"附件太多：一次最多{MAX_ATTACHMENTS}个")
    for f in files:
        check_size(f.size)


def add_attachments(
    session: AsyncSession,
    files: Sequence[AttachmentIn],
    *,
    item_id: int,
    assignment_id: int | None,
    owner_kind: str,
    owner_id: int,
    uploaded_by_id: int,
    now: datetime,
) -> list[Attachment]:
    """Record ``files`` as belonging to the record ``owner_kind``/``owner_id`` (already flushed)."""
    validate(files)
    rows = []
    for f in files:
        name = " ".join(drop_controls(f.file_name or "").split())[:MAX_FILE_NAME] or "附件"
        row = Attachment(
            item_id=item_id,
            assignment_id=assignment_id,
            owner_kind=owner_kind,
            owner_id=owner_id,
            telegram_file_id=f.telegram_file_id,
            telegram_file_unique_id=f.telegram_file_unique_id,
            sha256=f.sha256,
            local_path=str(f.local_path) if f.local_path is not None else None,
            file_name=name,
            mime_type=drop_controls(f.mime_type or "")[:100] or None,
            size=f.size,
            uploaded_by_id=uploaded_by_id,
            created_at=now,
        )
        session.add(row)
        rows.append(row)
    return rows
