"""跟踪专人: which office person follows an item (issue 13: office workload).

Notices about an item and its overdue reminders go to its follower only; the other office staff
see the item in their digest. By default the follower is whoever registered the item
(``bot.domain.notices.follower_id``); ``/follow N`` lets an office person take an item over, or
hand it to a colleague (``/follow N 姓名``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.errors import DomainError
from bot.domain.notices import follower_id
from bot.domain.workflow import act, format_number, load_item, local_date, notify, parse_item_ref, require_role
from store.models import Person, PersonRole
from store.workflow import Item


async def set_follower(
    session: AsyncSession, person: Person, ref: str, *, name: str | None = None, now: datetime
) -> tuple[Item, Person, bool]:
    """Make ``name`` (default: the acting office person) the follower of item ``ref`` ("3",
    "督字〔2026〕3号"). Returns (item, follower, changed); a new follower other than the actor
    is told."""
    me = await act(session, person, "item.follow")
    require_role(me, "office", "设置跟踪专人")
    year, number = parse_item_ref(ref, local_date(now).year)
    item_id = await session.scalar(select(Item.id).where(Item.year == year, Item.number == number))
    if item_id is None:
        raise DomainError(f"找不到{format_number(year, number)}，请检查编号")
    item = await load_item(session, item_id, lock=True)
    target = me
    if name:
        named = await session.scalar(
            select(Person)
            .join(PersonRole, PersonRole.person_id == Person.id)
            .where(Person.name == name.strip(), Person.active, PersonRole.role == "office")
        )
        if named is None:
            raise DomainError(f"督查室没有名为「{name.strip()[:20]}」的在职工作人员")
        target = named
    if follower_id(item) == target.id:
        return item, target, False
    item.follower_id = target.id
    await session.flush()
    await session.refresh(item, ["follower"])
    if target.id != me.id:
        await notify(
            session,
            target,
            "follow/assigned.html.j2",
            item=item,
            now=now,
            label="跟踪专人",
            dedupe=f"follow:{item.id}:{target.id}:{now.isoformat()}",
            by=me.name,
        )
    return item, target, True
