"""Recording an item's business history (``store.events.ItemEvent``).

The services call ``record_item_event`` at each moment the dossier (卷宗) and ``/item`` tell, in the
same transaction as the change, with the same timestamp the record carries. The dossier reads
these events; it no longer reads the audit trail, which stays what it is: who changed which
column, for accountability.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.events import ItemEvent
from store.models import Base

# kind → what the ``ref_id`` points at (None: the moment is the item's or the assignment's own).
KINDS: dict[str, str | None] = {
    "register": None,
    "submit": None,
    "approve": "item_approvals",
    "reject": "item_approvals",
    "notice": None,  # the assignment's notice (督办通知单) was sent
    "acknowledge": None,
    "decline": None,
    "plan": "plans",
    "milestone": "milestones",
    "progress": "progress",
    "extension_request": "extension_requests",
    "extension_decision": "extension_requests",
    "transfer_request": "transfers",
    "transfer_decision": "transfers",
    "call": "supervision_records",
    "call_answer": "supervision_records",
    "visit": "supervision_records",
    "bulletin": "bulletins",
    "report": "completion_reports",
    "office_report": "office_reports",  # the office's own result of an item it handles (issue 12)
    "review": "reviews",
    "leader_review": "leader_reviews",
    # Issue 12: the leader's 退回重办 at 审阅, and a 批示 while the item is being handled.
    "leader_return": "leader_reviews",
    "leader_instruction": "leader_reviews",
    "urge": None,  # office staff chased the assignment's unit by hand (bot.domain.manual_urge)
    "close": None,
    "archive": None,
    # Issue 12: mistakes fixed (bot.domain.changes).
    "withdraw": None,  # a submitted draft taken back by its submitter
    "delete": None,  # a draft deleted (its reason: the item_changes row of kind "delete")
    "change_request": "item_changes",  # office staff proposed a change to an approved item
    "change": "item_changes",  # the office head decided it (approved: the change was made)
}


async def record_item_event(
    session: AsyncSession,
    kind: str,
    item_id: int,
    at: datetime,
    *,
    actor_id: int | None = None,
    assignment_id: int | None = None,
    ref: Base | None = None,
) -> ItemEvent:
    """Add one event. ``ref`` is the record the event is about (flushed first if it has no id yet)."""
    if kind not in KINDS:
        raise ValueError(f"unknown item event kind {kind!r}")
    if ref is not None and (KINDS[kind] is None or ref.__tablename__ != KINDS[kind]):
        raise ValueError(f"an event {kind!r} refers to {KINDS[kind]}, not {ref.__tablename__}")
    ref_id = None
    if ref is not None:
        if getattr(ref, "id", None) is None:
            await session.flush()
        ref_id = ref.id  # type: ignore[attr-defined]
    event = ItemEvent(item_id=item_id, assignment_id=assignment_id, kind=kind, at=at, actor_id=actor_id, ref_id=ref_id)
    session.add(event)
    return event


async def item_events(session: AsyncSession, item_id: int) -> list[ItemEvent]:
    """An item's events in the order they were written."""
    return list(
        (await session.scalars(select(ItemEvent).where(ItemEvent.item_id == item_id).order_by(ItemEvent.id))).all()
    )
