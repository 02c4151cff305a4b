"""督查室自办 (§5(二), issue 12 point 6): the office reports the result of an item it handles itself.

An office-handled item has no unit (see ``bot.domain.items``): it is 办理中 from its approval and
the office staff report its result here (text and files, like a unit's 办结报告). The office does
not review its own report (审核 is the office's check of a unit's work, §5(五)); the result goes
straight to the responsible leader(s) for 审阅 (§5(六)), whose 同意 or 批示 closes the item and
whose 退回重办 sends it back to the office (``bot.domain.review``). No unit, so no score event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.actions import button
from bot.domain.attachments import AttachmentIn, add_attachments, validate
from bot.domain.errors import DomainError
from bot.domain.events import record_item_event
from bot.domain.review import ask_leaders
from bot.domain.workflow import act, check_item, clean_text, load_item, move_item, require_role
from store.models import Person
from store.workflow import Item, OfficeReport


def _office_handled(item: Item) -> Item:
    if not item.office_handled:
        raise DomainError("该事项已交办承办单位，办结报告由主办单位提交")
    return item


async def may_report(session: AsyncSession, person: Person, item_id: int) -> Item:
    """The dry run of 报送办理结果: office staff, an office-handled item being handled."""
    me = await act(session, person, "item.office_report")
    require_role(me, "office", "报送办理结果")
    item = _office_handled(await load_item(session, item_id))
    check_item(item, "item.office_report")
    return item


async def report_result(
    session: AsyncSession,
    person: Person,
    item_id: int,
    *,
    text: str | None,
    attachments: Sequence[AttachmentIn] = (),
    now: datetime,
) -> OfficeReport:
    """报送办理结果 (office): recorded, and each responsible leader gets it with 同意/批示/退回重办."""
    me = await act(session, person, "item.office_report")
    require_role(me, "office", "报送办理结果")
    item = _office_handled(await load_item(session, item_id, lock=True))
    check_item(item, "item.office_report")
    body = clean_text(text, "办理结果")
    validate(attachments)
    move_item(item, "item.office_report")
    report = OfficeReport(item_id=item.id, text=body, created_by_id=me.id, created_at=now)
    session.add(report)
    await session.flush()
    await record_item_event(session, "office_report", item.id, now, actor_id=me.id, ref=report)
    files = add_attachments(
        session,
        attachments,
        item_id=item.id,
        assignment_id=None,
        owner_kind="office_report",
        owner_id=report.id,
        uploaded_by_id=me.id,
        now=now,
    )
    await ask_leaders(
        session,
        item,
        now=now,
        dedupe=f"leader-req-office:{item.id}:{report.id}",
        unit="督查室（自办）",
        text=body,
        attachment_names=[f.file_name for f in files],
        files_button=button("i:att", item.id, f"查看附件（{len(files)}）") if files else None,
    )
    await session.flush()
    return report
