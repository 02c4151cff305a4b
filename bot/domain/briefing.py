"""A new liaison's briefing: the unit's open items in one grouped message.

Whoever becomes a unit's liaison (hand-over, a role added in /people, a move to the unit, an
invitation redeemed) must be able to act on the unit's items at once, not wait for the next
reminder round. One message, whatever the number of items: a liaison is not flooded.
A confidential item shows its number only (§9(五)).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.actions import button
from bot.domain.workflow import (
    ASSIGNMENT_STATES,
    LIVE_ASSIGNMENT_STATES,
    UNIT_ROLES_OF_ASSIGNMENT,
    format_number,
)
from bot.kernel.render import render
from bot.outbox.queue import enqueue
from store.models import Person
from store.workflow import Assignment, Item

MAX_LISTED = 30  # a message stays well under Telegram's 4096 characters
MAX_BUTTONS = 8


@dataclass(frozen=True)
class OpenShare:
    item_id: int
    label: str
    title: str | None  # None for a confidential item
    role: str
    state: str
    due: date | None


async def open_shares(session: AsyncSession, unit_id: int) -> list[OpenShare]:
    """The unit's shares it still owes or has reported, earliest deadline first (one statement)."""
    rows = (
        await session.execute(
            select(
                Item.id,
                Item.year,
                Item.number,
                Item.title,
                Item.confidential,
                Assignment.role,
                Assignment.state,
                Assignment.due_date,
            )
            .join(Assignment, Assignment.item_id == Item.id)
            .where(Assignment.unit_id == unit_id, Assignment.state.in_(LIVE_ASSIGNMENT_STATES))
            .order_by(Assignment.due_date.is_(None), Assignment.due_date, Item.id)
        )
    ).all()
    return [
        OpenShare(
            r.id,
            format_number(r.year, r.number) or f"登记号{r.id}",
            None if r.confidential else r.title,
            UNIT_ROLES_OF_ASSIGNMENT.get(r.role, r.role),
            ASSIGNMENT_STATES.get(r.state, r.state),
            r.due_date,
        )
        for r in rows
    ]


async def brief_liaison(
    session: AsyncSession,
    person: Person,
    unit_name: str,
    *,
    now: datetime,
    headline: str | None = None,
    always: bool = False,
) -> int:
    """Queue the briefing for ``person`` (a liaison of ``person.unit_id``); how many items it lists.

    ``headline`` opens the message (e.g. "您已接任…联络员"); without ``always`` nothing is sent
    when the unit has no open item."""
    if person.unit_id is None:
        return 0
    shares = await open_shares(session, person.unit_id)
    if not shares and not always:
        return 0
    text = render(
        "people/liaison_briefing.html.j2",
        headline=headline,
        unit=unit_name,
        shares=shares[:MAX_LISTED],
        more=max(0, len(shares) - MAX_LISTED),
    )
    seen: list[int] = []
    for s in shares:
        if s.item_id not in seen:
            seen.append(s.item_id)
    buttons = [
        button("i:v", item_id, f"查看 {next(s.label for s in shares if s.item_id == item_id)}")
        for item_id in seen[:MAX_BUTTONS]
    ]
    keyboard = [buttons[i : i + 2] for i in range(0, len(buttons), 2)] or None
    await enqueue(session, person, text, now=now, buttons=keyboard)
    return len(shares)
