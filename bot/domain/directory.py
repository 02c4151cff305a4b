"""Units and people: look-ups shared by onboarding, import and every handler."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from bot.domain.errors import DomainError
from store.models import Person, PersonRole, Unit

UNIT_KINDS = ("乡镇", "部门", "直属单位", "驻固单位", "开发区", "其他")


# Built once: constructing and keying the statement cost as much as running it (per update).
_BY_TELEGRAM_IDS = (
    select(Person)
    .where(Person.telegram_id.in_(bindparam("telegram_ids", expanding=True)), Person.active)
    .options(joinedload(Person.role_rows))
)


async def people_by_telegram_ids(session: AsyncSession, telegram_ids: list[int]) -> list[Person]:
    """The active people on these accounts, each with unit and roles, in one statement."""
    if not telegram_ids:
        return []
    result = await session.execute(_BY_TELEGRAM_IDS, {"telegram_ids": telegram_ids})
    return list(result.unique().scalars())


async def person_by_telegram_id(session: AsyncSession, telegram_id: int) -> Person | None:
    """The active person on this account (a Telegram id is bound to one person at most)."""
    found = await people_by_telegram_ids(session, [telegram_id])
    return found[0] if found else None


async def find_units(session: AsyncSession, text: str, limit: int = 10) -> list[Unit]:
    """Units whose name contains the text, exact match first: people type part of a name."""
    text = text.strip()
    if not text:
        return []
    rows = (
        await session.scalars(
            select(Unit).where(Unit.active, Unit.name.contains(text, autoescape=True)).order_by(Unit.name)
        )
    ).all()
    rows = sorted(rows, key=lambda u: (u.name != text, len(u.name)))
    return list(rows[:limit])


async def unit_by_name(session: AsyncSession, name: str) -> Unit:
    """The unit with exactly this name; otherwise a message that suggests close names."""
    unit = await session.scalar(select(Unit).where(Unit.name == name.strip()))
    if unit is not None:
        return unit
    close = await find_units(session, name.strip()[:2], limit=5) if name.strip() else []
    hint = f"（相近的单位：{'、'.join(u.name for u in close)}）" if close else ""
    raise DomainError(f"找不到单位「{name.strip()}」{hint}")


async def ensure_admin(session: AsyncSession, telegram_id: int, display_name: str, now: datetime) -> Person:
    """An id listed in ``[office] admins`` is office staff from the first contact."""
    person = await person_by_telegram_id(session, telegram_id)
    if person is None:
        person = Person(
            name=display_name[:50] or f"管理员{telegram_id}",
            telegram_id=telegram_id,
            created_at=now,
            unit=None,
            role_rows=[],
        )
        session.add(person)
        await session.flush()
    if not person.has_role("office"):
        person.role_rows.append(PersonRole(role="office"))
        await session.flush()
    return person


async def people_with_role(session: AsyncSession, role: str, unit_id: int | None = None) -> list[Person]:
    q = select(Person).join(PersonRole).where(PersonRole.role == role, Person.active)
    if unit_id is not None:
        q = q.where(Person.unit_id == unit_id)
    return list((await session.scalars(q.order_by(Person.id))).unique().all())


async def count_units(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(Unit)) or 0


async def unit_by_id(session: AsyncSession, unit_id: int | None, *, active: bool = False) -> Unit | None:
    """The unit a dialog button names (with ``active``, only if it is active); None otherwise."""
    unit = await session.get(Unit, unit_id) if unit_id is not None else None
    return unit if unit is not None and (unit.active or not active) else None


async def person_by_id(session: AsyncSession, person_id: int | None) -> Person | None:
    return await session.get(Person, person_id) if person_id is not None else None


async def bound_people(session: AsyncSession) -> list[Person]:
    """The active people with a Telegram account (whose menus the bot keeps up to date)."""
    return list((await session.scalars(select(Person).where(Person.active, Person.telegram_id.is_not(None)))).all())
