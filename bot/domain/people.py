"""People who come and go: the office finds a person, deactivates them, changes their roles or
unit, hands a unit's liaison role to someone else and re-invites.

Access follows at once: every service (``workflow.act``) reads ``Person.active`` and the role rows
from the database on each update; the gate's copy of a person (``bot.runtime.senders``) is void
after any write to the directory, so the change made here counts from the next update; and every
recipient list (``directory.people_with_role``, the urging and digest queries) reads only active
people. Deactivating a person therefore also

* unbinds their Telegram account (a later invitation of the same account as someone else must
  not collide with the old row), revokes their unused invitation links (a departed liaison cannot
  bind again with an old link), and
* cancels what the outbox still holds for them (a queued reminder would carry item content to
  someone who no longer may see it);

and they are told once, in a message queued before the account is unbound.

Each change is one audited action (``person.*``) by the acting office member, announced to the
person affected. A person keeps their role rows when deactivated: the record shows what they
were, and a re-invitation restores them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.briefing import brief_liaison
from bot.domain.errors import DomainError, NotAllowed
from bot.domain.onboarding import NewInvitation, create_invitation
from bot.domain.roles import OFFICE_ROLES, ROLE_NAMES, UNIT_ROLES
from bot.domain.workflow import act, drop_controls
from bot.kernel.render import render
from bot.outbox.queue import enqueue
from store.models import Invitation, OutboxMessage, Person, PersonRole, Unit

MAX_FOUND = 10
MAX_QUERY = 30
CANCELLED = "cancelled"  # an outbox status: never sent, on purpose (the recipient left)


@dataclass(frozen=True)
class PersonCard:
    id: int
    name: str
    unit_id: int | None
    unit_name: str | None
    title: str | None
    phone: str | None
    roles: tuple[str, ...]  # role codes, in ROLE_NAMES order
    active: bool
    bound: bool  # a Telegram account is bound

    @property
    def role_names(self) -> str:
        return "、".join(ROLE_NAMES[r] for r in self.roles) or "无角色"

    @property
    def is_liaison(self) -> bool:
        return "liaison" in self.roles


def card(person: Person) -> PersonCard:
    roles = tuple(r for r in ROLE_NAMES if r in person.roles)
    return PersonCard(
        person.id,
        person.name,
        person.unit_id,
        person.unit.name if person.unit else None,
        person.title,
        person.phone,
        roles,
        person.active,
        person.telegram_id is not None,
    )


async def _office(session: AsyncSession, me: Person, action: str) -> Person:
    office = await act(session, me, action)
    if not office.has_role(*OFFICE_ROLES):
        raise NotAllowed("只有督查室人员才能管理人员")
    return office


async def _person(session: AsyncSession, person_id: int) -> Person:
    person = await session.get(Person, person_id, populate_existing=True) if isinstance(person_id, int) else None
    if person is None:
        raise DomainError("找不到该人员，可能已被删除")
    return person


async def find_people(
    session: AsyncSession, me: Person, text: str, *, include_inactive: bool = True
) -> list[PersonCard]:
    """People whose name or unit name contains ``text`` (exact names first), at most ``MAX_FOUND``."""
    await _office(session, me, "person.find")
    text = " ".join(drop_controls(text or "").split())
    if not text:
        raise DomainError("请输入要查找的姓名或单位，例如 /people 张三 或 /people 城关镇")
    if len(text) > MAX_QUERY:
        raise DomainError(f"查找内容太长（最多{MAX_QUERY}个字）")
    q = (
        select(Person)
        .outerjoin(Unit, Unit.id == Person.unit_id)
        .where(or_(Person.name.contains(text, autoescape=True), Unit.name.contains(text, autoescape=True)))
        .order_by(Person.active.desc(), Unit.name.is_(None).desc(), Unit.name, Person.name, Person.id)
        .limit(MAX_FOUND * 5)
    )
    if not include_inactive:
        q = q.where(Person.active)
    found = list((await session.scalars(q)).unique().all())
    found.sort(key=lambda p: (p.name != text, not p.active))
    return [card(p) for p in found[:MAX_FOUND]]


async def person_card(session: AsyncSession, me: Person, person_id: int) -> PersonCard:
    await _office(session, me, "person.view")
    return card(await _person(session, person_id))


async def _tell(session: AsyncSession, person: Person, kind: str, now: datetime, **context: object) -> None:
    await enqueue(
        session,
        person,
        render("people/changed.html.j2", role_names=ROLE_NAMES, kind=kind, person=person, **context),
        now=now,
    )


async def _revoke_invitations(session: AsyncSession, person: Person, now: datetime) -> int:
    """Unused links for ``person`` expire now (audited: each is a row the ORM changes)."""
    open_ = (
        await session.scalars(
            select(Invitation).where(
                Invitation.person_id == person.id, Invitation.used_at.is_(None), Invitation.expires_at > now
            )
        )
    ).all()
    for inv in open_:
        inv.expires_at = now
    return len(open_)


def _only_liaison_warning(person: Person, others: list[Person]) -> str | None:
    if person.has_role("liaison") and person.unit is not None and not others:
        return f"{person.unit.name}现在没有联络员，请尽快邀请或指定新的联络员（/people {person.unit.name}）"
    return None


async def _other_liaisons(session: AsyncSession, person: Person) -> list[Person]:
    if person.unit_id is None:
        return []
    return list(
        (
            await session.scalars(
                select(Person)
                .join(PersonRole)
                .where(
                    PersonRole.role == "liaison",
                    Person.unit_id == person.unit_id,
                    Person.active,
                    Person.id != person.id,
                )
            )
        )
        .unique()
        .all()
    )


@dataclass(frozen=True)
class Outcome:
    """What the office is told after a change."""

    person: PersonCard
    chat_id: int | None  # the affected person's chat before the change (its menu is refreshed)
    warning: str | None = None
    briefed: int = 0  # open items sent to a new liaison


async def deactivate(
    session: AsyncSession,
    me: Person,
    person_id: int,
    *,
    now: datetime,
    action: str = "person.deactivate",
    reason: str = "office",
    admins: Iterable[int] = (),
) -> Outcome:
    """The person leaves: no access from the next update on, nothing more is sent to them.

    ``admins``: the Telegram ids of ``[office] admins``, office staff by configuration — they
    would be made office staff again on their next message, so they are taken off there."""
    office = await _office(session, me, action)
    person = await _person(session, person_id)
    if person.id == office.id:
        raise DomainError("不能停用自己的账号")
    if person.telegram_id is not None and person.telegram_id in set(admins):
        raise DomainError(f"{person.name}是配置文件中的管理员（[office] admins），请先从配置中删除后再停用")
    if not person.active:
        raise DomainError(f"{person.name}的账号已经停用，无需重复操作")
    warning = _only_liaison_warning(person, await _other_liaisons(session, person))
    chat_id = await leave(session, person, now=now, reason=reason)
    return Outcome(card(person), chat_id, warning)


async def leave(session: AsyncSession, person: Person, *, now: datetime, reason: str) -> int | None:
    """Deactivate ``person`` (the caller names the audit action and checks who may): cancel what
    the outbox still holds for them, tell them once, revoke their links, unbind the account.
    Returns the chat they had (its menu is the caller's to clear)."""
    chat_id = person.telegram_id
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.person_id == person.id, OutboxMessage.status.in_(("pending", "unbound")))
        .values(status=CANCELLED, last_error="人员已停用")
    )
    await _tell(session, person, "deactivated", now, reason=reason)
    await _revoke_invitations(session, person, now)
    person.active = False
    person.telegram_id = None
    await session.flush()
    return chat_id


def _unit_name(person: Person) -> str:
    """The unit's name of a person already checked to belong to one (``unit_id`` set)."""
    assert person.unit is not None
    return person.unit.name


def _check_role_fits(person: Person, role: str) -> None:
    if role not in ROLE_NAMES:
        raise DomainError(f"未知的角色「{role}」（可选：{'、'.join(ROLE_NAMES.values())}）")
    if role in UNIT_ROLES and person.unit_id is None:
        raise DomainError(f"{person.name}不属于任何单位，不能担任{ROLE_NAMES[role]}")
    if role not in UNIT_ROLES and person.unit_id is not None:
        raise DomainError(f"{person.name}属于{_unit_name(person)}，{ROLE_NAMES[role]}不属于承办单位")


def roles_that_fit(c: PersonCard) -> list[str]:
    """The roles a person of this kind (in a unit or not) can hold."""
    return [r for r in ROLE_NAMES if (r in UNIT_ROLES) == (c.unit_id is not None)]


async def add_role(session: AsyncSession, me: Person, person_id: int, role: str, *, now: datetime) -> Outcome:
    await _office(session, me, "person.role_add")
    person = await _person(session, person_id)
    if not person.active:
        raise DomainError(f"{person.name}的账号已停用，请先重新邀请")
    _check_role_fits(person, role)
    if person.has_role(role):
        raise DomainError(f"{person.name}已经是{ROLE_NAMES[role]}，无需重复操作")
    person.role_rows.append(PersonRole(role=role))
    await session.flush()
    briefed = 0
    headline = render("people/changed.html.j2", role_names=ROLE_NAMES, kind="role_added", person=person, role=role)
    if role == "liaison":
        briefed = await brief_liaison(session, person, _unit_name(person), now=now, headline=headline, always=True)
    else:
        await enqueue(session, person, headline, now=now)
    return Outcome(card(person), person.telegram_id, None, briefed)


async def remove_role(session: AsyncSession, me: Person, person_id: int, role: str, *, now: datetime) -> Outcome:
    office = await _office(session, me, "person.role_remove")
    person = await _person(session, person_id)
    if role not in ROLE_NAMES:
        raise DomainError(f"未知的角色「{role}」")
    if not person.has_role(role):
        raise DomainError(f"{person.name}不是{ROLE_NAMES[role]}，无需取消")
    if len(person.role_rows) == 1:
        raise DomainError(f"这是{person.name}唯一的角色。如此人已离开，请使用「停用」")
    if (
        person.id == office.id
        and role in OFFICE_ROLES
        and not any(r.role in OFFICE_ROLES for r in person.role_rows if r.role != role)
    ):
        raise DomainError("不能取消自己的督查室角色")
    warning = _only_liaison_warning(person, await _other_liaisons(session, person)) if role == "liaison" else None
    person.role_rows = [r for r in person.role_rows if r.role != role]
    await session.flush()
    await _tell(session, person, "role_removed", now, role=role)
    return Outcome(card(person), person.telegram_id, warning)


async def change_unit(session: AsyncSession, me: Person, person_id: int, unit_id: int, *, now: datetime) -> Outcome:
    """Move a unit's liaison or head to another unit (their roles go with them)."""
    await _office(session, me, "person.unit_change")
    person = await _person(session, person_id)
    unit = await session.get(Unit, unit_id) if isinstance(unit_id, int) else None
    if unit is None or not unit.active:
        raise DomainError("找不到该单位，或该单位已停用")
    if not person.active:
        raise DomainError(f"{person.name}的账号已停用，请先重新邀请")
    if person.unit_id is None:
        raise DomainError(
            f"{person.name}（{'、'.join(ROLE_NAMES[r] for r in person.roles)}）不属于承办单位，不能更改单位"
        )
    if person.unit_id == unit.id:
        raise DomainError(f"{person.name}已经在{unit.name}，无需更改")
    same = await session.scalar(select(Person.id).where(Person.name == person.name, Person.unit_id == unit.id))
    if same is not None:
        raise DomainError(f"{unit.name}已有一位{person.name}，不能重复")
    old_unit = _unit_name(person)
    warning = _only_liaison_warning(person, await _other_liaisons(session, person))
    person.unit_id = unit.id
    await session.flush()
    await session.refresh(person, ["unit"])
    headline = render(
        "people/changed.html.j2",
        role_names=ROLE_NAMES,
        kind="unit_changed",
        person=person,
        old_unit=old_unit,
        new_unit=unit.name,
    )
    briefed = 0
    if person.has_role("liaison"):
        briefed = await brief_liaison(session, person, unit.name, now=now, headline=headline, always=True)
    else:
        await enqueue(session, person, headline, now=now)
    return Outcome(card(person), person.telegram_id, warning, briefed)


async def liaison_successors(session: AsyncSession, me: Person, person_id: int) -> tuple[PersonCard, list[PersonCard]]:
    """The liaison and the active people of their unit who could take the role over."""
    await _office(session, me, "person.view")
    person = await _person(session, person_id)
    if not person.has_role("liaison") or person.unit_id is None:
        raise DomainError(f"{person.name}不是联络员，无需移交")
    others = (
        (
            await session.scalars(
                select(Person)
                .where(Person.unit_id == person.unit_id, Person.active, Person.id != person.id)
                .order_by(Person.name)
            )
        )
        .unique()
        .all()
    )
    return card(person), [card(p) for p in others]


async def hand_over(session: AsyncSession, me: Person, from_id: int, to_id: int, *, now: datetime) -> Outcome:
    """The unit's liaison role passes from one person to another of the same unit. The one who
    hands over loses it at once (and, with no role left, is deactivated: they have left); the one
    who takes over gets the unit's open items in one message."""
    office = await _office(session, me, "person.liaison_handover")
    old = await _person(session, from_id)
    new = await _person(session, to_id)
    if not old.has_role("liaison") or old.unit_id is None:
        raise DomainError(f"{old.name}不是联络员，无需移交")
    if old.id == new.id:
        raise DomainError("不能移交给本人")
    if new.unit_id != old.unit_id:
        raise DomainError(f"{new.name}不在{_unit_name(old)}，只能移交给本单位人员")
    if not new.active:
        raise DomainError(f"{new.name}的账号已停用，请先重新邀请")
    unit_name = _unit_name(old)
    if not new.has_role("liaison"):
        new.role_rows.append(PersonRole(role="liaison"))
    old.role_rows = [r for r in old.role_rows if r.role != "liaison"]
    await session.flush()
    headline = render(
        "people/changed.html.j2", role_names=ROLE_NAMES, kind="took_over", person=new, unit=unit_name, old=old.name
    )
    briefed = await brief_liaison(session, new, unit_name, now=now, headline=headline, always=True)
    chat_id = old.telegram_id
    if old.role_rows:
        await _tell(session, old, "handed_over", now, unit=unit_name, new=new.name)
    else:
        await deactivate(session, office, old.id, now=now, action="person.liaison_handover", reason="handover")
    return Outcome(card(old), chat_id, None, briefed)


async def reinvite(
    session: AsyncSession, me: Person, person_id: int, role: str, *, now: datetime, ttl_days: int
) -> NewInvitation:
    """A new one-time link for the person in ``role`` (a departed person comes back with it, an
    active one binds a new phone): their older unused links are revoked, and an active, bound
    person is told that the office issued one (so a link they did not ask for is noticed)."""
    office = await _office(session, me, "invitation.create")
    person = await _person(session, person_id)
    _check_role_fits(person, role)
    await _revoke_invitations(session, person, now)
    inv = await create_invitation(
        session,
        role=role,
        name=person.name,
        unit_name=person.unit.name if person.unit else None,
        created_by=office,
        now=now,
        ttl_days=ttl_days,
    )
    if person.active and person.telegram_id is not None:
        await _tell(session, person, "reinvited", now, role=role)
    return inv
