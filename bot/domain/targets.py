"""What a button's id names, read for the chat: the item a record belongs to (for the "✅ … · 查看"
button and the item's number in a prompt), and the assignment a sent notice is about."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.actions import MalformedAction, parse_action
from bot.domain.workflow import format_number
from store.changes import ItemChange
from store.models import OutboxMessage
from store.records import SupervisionRecord
from store.workflow import Assignment, CompletionReport, ExtensionRequest, Item, Milestone, Plan, Transfer


@dataclass(frozen=True)
class Ref:
    item_id: int
    label: str  # 督字〔2026〕3号, or 登记号N for a draft
    confidential: bool


def _item_id_of(target: str, record_id: int) -> Select:
    if target == "item":
        return select(Item.id).where(Item.id == record_id)
    if target == "assignment":
        return select(Assignment.item_id).where(Assignment.id == record_id)
    if target == "milestone":
        return (
            select(Assignment.item_id)
            .join(Plan, Plan.assignment_id == Assignment.id)
            .join(Milestone, Milestone.plan_id == Plan.id)
            .where(Milestone.id == record_id)
        )
    if target == "record":
        return select(SupervisionRecord.item_id).where(SupervisionRecord.id == record_id)
    if target == "change":
        return select(ItemChange.item_id).where(ItemChange.id == record_id)
    model: Any = {"report": CompletionReport, "extension": ExtensionRequest, "transfer": Transfer}[target]
    return select(Assignment.item_id).join(model, model.assignment_id == Assignment.id).where(model.id == record_id)


async def item_ref(session: AsyncSession, target: str, record_id: int) -> Ref | None:
    """The item the ``target`` record ``record_id`` belongs to; None when there is no such record."""
    item_id = await session.scalar(_item_id_of(target, record_id))
    if item_id is None:
        return None
    row = (
        await session.execute(select(Item.id, Item.year, Item.number, Item.confidential).where(Item.id == item_id))
    ).one()
    return Ref(row.id, format_number(row.year, row.number) or f"登记号{row.id}", row.confidential)


def _assignment_in(datas: list[str | None]) -> int | None:
    for data in datas:
        try:
            action = parse_action(data)
        except MalformedAction:
            continue
        if action.spec.target == "assignment":
            return action.target_id
    return None


async def notice_assignment(session: AsyncSession, chat_id: int, message_id: int, datas: list[str]) -> int | None:
    """The assignment a notice is about: from the buttons it still carries (``datas``), else from
    the outbox row it was sent as (its buttons may have been taken off since)."""
    found = _assignment_in(list(datas))
    if found is not None:
        return found
    buttons = await session.scalar(
        select(OutboxMessage.buttons)
        .where(OutboxMessage.chat_id == chat_id, OutboxMessage.telegram_message_id == message_id)
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
    return _assignment_in([b.get("data") for row in buttons or [] for b in row])
