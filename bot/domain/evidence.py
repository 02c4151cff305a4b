"""Evidence where decisions are made (issue 12, point 1): the files behind a report, on demand.

The office reviews (审核) and the leader decides (审阅) from a notice in their chat; the photos and
documents the unit sent with its 办结报告 (and with its progress and plan) are offered there by a
「查看附件」 button, and on ``/item N``. A tap queues the files, one message each, through the outbox
(``photo`` for pictures Telegram accepts as photos, ``document`` otherwise), urgent: the person
asked for them now, they are not a routine notice to hold for working hours.

Who may receive them is decided here from the database, whatever the button claims:

* the office and the item's responsible leaders: every file of the item;
* a unit's liaison or head: only the files of their own unit's share (units do not read each
  other's evidence);
* anyone else: 「无权查看」, nothing more.

A confidential item's files are never sent through the chat (regulation §9(五)).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.attachments import OWNER_KINDS
from bot.domain.errors import DomainError, NotAllowed
from bot.domain.workflow import NO_ACCESS, act, can_view, item_label, load_item
from bot.kernel.clock import OFFICE_TZ
from bot.kernel.render import render
from bot.outbox.queue import enqueue
from store.models import Person
from store.workflow import Assignment, Attachment, CompletionReport, Item

MAX_PHOTO_BYTES = 10 * 1024 * 1024  # sendPhoto's limit for an uploaded photo; larger ones go as documents
OWNER_LABELS = {**OWNER_KINDS, "supervision": "督查记录"}


def _sees_all(me: Person, item: Item) -> bool:
    """The office, and a leader who may see the item (its responsible leaders): every file."""
    return me.has_role("office", "office_head") or (me.has_role("leader") and can_view(me, item))


def visible(me: Person, item: Item, files: Sequence[Attachment]) -> list[Attachment]:
    """The files of ``item`` that ``me`` may receive (``me`` may view the item)."""
    if item.confidential:
        return []
    if _sees_all(me, item):
        return list(files)
    mine = {a.id for a in item.assignments if me.unit_id is not None and a.unit_id == me.unit_id}
    return [f for f in files if f.assignment_id in mine]


async def item_files(session: AsyncSession, item_id: int) -> list[Attachment]:
    return list(
        (
            await session.scalars(
                select(Attachment).where(Attachment.item_id == item_id).order_by(Attachment.created_at, Attachment.id)
            )
        ).all()
    )


async def report_files(session: AsyncSession, report_id: int) -> list[Attachment]:
    return list(
        (
            await session.scalars(
                select(Attachment)
                .where(Attachment.owner_kind == "report", Attachment.owner_id == report_id)
                .order_by(Attachment.id)
            )
        ).all()
    )


async def visible_count(session: AsyncSession, me: Person, item: Item) -> int:
    """How many files ``/item`` may offer ``me`` (0: no 查看附件 button)."""
    return len(visible(me, item, await item_files(session, item.id)))


async def _viewer_of(session: AsyncSession, person: Person, item_id: int) -> tuple[Person, Item]:
    me = await act(session, person, "attachments.view")
    try:
        item = await load_item(session, item_id)
    except DomainError:
        raise NotAllowed(NO_ACCESS) from None  # an outsider learns nothing, not even that it is missing
    if not can_view(me, item):
        raise NotAllowed(NO_ACCESS)
    if item.confidential:
        raise DomainError("涉密事项的材料不通过机器人发送，请到督查室查阅。")
    return me, item


async def send_item_files(session: AsyncSession, person: Person, item_id: int, *, now: datetime) -> int:
    """/item's 查看附件: every file of the item ``person`` may receive; returns how many were queued."""
    me, item = await _viewer_of(session, person, item_id)
    return await _queue(session, me, item, visible(me, item, await item_files(session, item.id)), now, f"i{item.id}")


async def send_report_files(session: AsyncSession, person: Person, report_id: int, *, now: datetime) -> int:
    """The 办结报告 notice's 查看附件 (office review, the leader's 审阅): that report's files."""
    me = await act(session, person, "attachments.view")
    report = await session.get(CompletionReport, report_id)
    if report is None:
        raise NotAllowed(NO_ACCESS)
    item_id = await session.scalar(select(Assignment.item_id).where(Assignment.id == report.assignment_id))
    if item_id is None:
        raise NotAllowed(NO_ACCESS)
    me, item = await _viewer_of(session, me, item_id)
    return await _queue(
        session, me, item, visible(me, item, await report_files(session, report_id)), now, f"r{report_id}"
    )


async def _queue(
    session: AsyncSession, me: Person, item: Item, files: list[Attachment], now: datetime, tap: str
) -> int:
    if not files:
        raise DomainError("没有可查看的附件。")
    units = {a.id: a.unit.name for a in item.assignments}
    minute = now.astimezone(OFFICE_TZ).strftime("%Y%m%d%H%M")
    queued = 0
    for n, f in enumerate(files, start=1):
        caption = render(
            "notices/attachment.html.j2",
            label=item_label(item),
            n=n,
            total=len(files),
            unit=units.get(f.assignment_id or 0),
            owner=OWNER_LABELS.get(f.owner_kind, "附件"),
            at=f.created_at,
            file_name=f.file_name,
            missing=f.local_path is None,
        )
        photo = (f.mime_type or "").startswith("image/") and f.size <= MAX_PHOTO_BYTES
        kind = "text" if f.local_path is None else "photo" if photo else "document"
        # A double tap on the same button within the same minute sends the files once.
        row = await enqueue(
            session,
            me,
            caption,
            now=now,
            urgent=True,
            kind=kind,
            file_path=f.local_path,
            file_name=f.file_name,
            item_ids=[item.id],
            dedupe_key=f"att:{me.id}:{tap}:{f.id}:{minute}",
        )
        queued += row is not None
    return queued
