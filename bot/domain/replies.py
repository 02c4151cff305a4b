"""Which item a reply to one of the bot's messages is about (issue 13: replies land on the right item).

A message names its items (``OutboxMessage.item_ids``, kept when parts are bundled). A liaison's
reply to a message that names one of their unit's live assignments records progress on it; to a
message naming several, the bot asks which — it never guesses the first one listed. Messages
sent before items were recorded on them fall back to their buttons (a 督办通知单 carries its
assignment's buttons; a weekly reminder one 反馈进展 button per item).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.actions import MalformedAction, button, parse_action
from bot.domain.workflow import ACTIVE_ASSIGNMENT_STATES, format_number
from bot.outbox.queue import Keyboard
from store.models import OutboxMessage, Person
from store.workflow import Assignment, Item

MAX_CHOICES = 8


@dataclass(frozen=True)
class Choice:
    assignment_id: int
    label: str  # 督字〔2026〕3号
    title: str | None  # None for a confidential item


@dataclass(frozen=True)
class ReplyTarget:
    """Exactly one assignment (``assignment_id``), or the ones to choose from (``choices``)."""

    assignment_id: int | None = None
    choices: list[Choice] = field(default_factory=list)

    def keyboard(self) -> Keyboard:
        return [[button("a:prg", c.assignment_id, f"反馈进展 {c.label}")] for c in self.choices[:MAX_CHOICES]]


def _assignments_in(datas: list[str | None]) -> list[int]:
    found: list[int] = []
    for data in datas:
        try:
            action = parse_action(data)
        except MalformedAction:
            continue
        if action.spec.target == "assignment" and action.target_id not in found:
            found.append(action.target_id)
    return found


async def _choices(session: AsyncSession, assignment_ids: list[int]) -> list[Choice]:
    rows = (
        await session.execute(
            select(Assignment.id, Item.year, Item.number, Item.id, Item.title, Item.confidential)
            .join(Item, Item.id == Assignment.item_id)
            .where(Assignment.id.in_(assignment_ids))
        )
    ).all()
    by_id = {
        aid: Choice(aid, format_number(y, n) or f"登记号{iid}", None if conf else title)
        for aid, y, n, iid, title, conf in rows
    }
    return [by_id[a] for a in assignment_ids if a in by_id]


async def reply_target(
    session: AsyncSession, person: Person, chat_id: int, message_id: int, datas: list[str]
) -> ReplyTarget | None:
    """What a reply by ``person`` to the bot's message ``message_id`` is about; None when the
    message names no item the person could report on (the caller shows a hint)."""
    item_ids = await session.scalar(
        select(OutboxMessage.item_ids)
        .where(OutboxMessage.chat_id == chat_id, OutboxMessage.telegram_message_id == message_id)
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
    if item_ids and person.unit_id is not None:
        rows = (
            await session.execute(
                select(Assignment.id, Assignment.item_id).where(
                    Assignment.item_id.in_(item_ids),
                    Assignment.unit_id == person.unit_id,
                    Assignment.state.in_(sorted(ACTIVE_ASSIGNMENT_STATES)),
                )
            )
        ).all()
        order = {i: n for n, i in enumerate(item_ids)}
        found = [aid for aid, _ in sorted(rows, key=lambda r: (order.get(r[1], 0), r[0]))]
        if found:
            return _one_or_choice(await _choices(session, found)) if len(found) > 1 else ReplyTarget(found[0])
    # An older message: its buttons (a notice carries its assignment's; a weekly reminder one per item).
    found = _assignments_in(list(datas))
    if not found:
        buttons = await session.scalar(
            select(OutboxMessage.buttons)
            .where(OutboxMessage.chat_id == chat_id, OutboxMessage.telegram_message_id == message_id)
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
        found = _assignments_in([b.get("data") for row in buttons or [] for b in row])
    if not found:
        return None
    return ReplyTarget(found[0]) if len(found) == 1 else _one_or_choice(await _choices(session, found))


def _one_or_choice(choices: list[Choice]) -> ReplyTarget | None:
    if not choices:
        return None
    return ReplyTarget(choices[0].assignment_id) if len(choices) == 1 else ReplyTarget(choices=choices)
