"""Durable outgoing messages.

``enqueue`` writes a row in the caller's transaction, so a message exists exactly when the change
that caused it was committed. The one sender (``bot.outbox.sender``) drains the rows. Nothing here knows
Telegram: buttons are plain ``Button`` data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import OutboxMessage, Person


@dataclass(frozen=True)
class Button:
    text: str
    data: str


Keyboard = list[list[Button]]


async def enqueue(
    session: AsyncSession,
    person: Person,
    text: str,
    *,
    now: datetime,
    buttons: Keyboard | None = None,
    dedupe_key: str | None = None,
    urgent: bool = False,
    not_before: datetime | None = None,
    kind: str = "text",
    file_path: str | None = None,
    file_name: str | None = None,
    item_ids: list[int] | None = None,
    bundle: str | None = None,
) -> OutboxMessage | None:
    """Queue ``text`` (HTML, already rendered) for ``person``; None if ``dedupe_key`` was queued before.

    A person not bound to Telegram yet gets an ``unbound`` row: the office can see who missed what.
    ``item_ids`` names the items the message is about (a reply to it lands on them). ``bundle``
    ("notice", "round") marks a routine part: the running bot's sender sends it only after
    ``bot.domain.notices.release_due`` has looked at it (now, or held for working hours and sent
    with the person's other parts).
    """
    if dedupe_key is not None:
        existing = await session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key))
        if existing is not None:
            return None
    status = (
        "pending"
        if person.telegram_id is not None and person.unreachable_since is None
        else ("unbound" if person.telegram_id is None else "unreachable")
    )
    if person.active is False:  # a person who left (bot.domain.people) is sent nothing more
        status = "cancelled"
    row = OutboxMessage(
        created_at=now,
        person_id=person.id,
        chat_id=person.telegram_id,
        kind=kind,
        text=text,
        buttons=[[{"text": b.text, "data": b.data} for b in row_] for row_ in buttons] if buttons else None,
        file_path=file_path,
        file_name=file_name,
        dedupe_key=dedupe_key,
        urgent=urgent,
        status=status,
        attempts=0,
        next_attempt_at=not_before or now,
        item_ids=list(item_ids) if item_ids else None,
        bundle=bundle if status == "pending" and not urgent else None,
    )
    session.add(row)
    await session.flush()
    return row


async def withdraw_unsent(session: AsyncSession, dedupe_prefix: str, why: str) -> int:
    """The messages asking for a decision that has now been taken (their ``dedupe_key`` starts with
    ``dedupe_prefix``): the ones not sent yet, or held for a later time, never go (``cancelled``,
    ``why`` kept for the record). One already sent keeps its buttons, which answer that the matter
    is settled. Returns how many were withdrawn."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.dedupe_key.startswith(dedupe_prefix, autoescape=True),
            OutboxMessage.status.in_(("pending", "held")),
        )
        .values(status="cancelled", last_error=why)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
