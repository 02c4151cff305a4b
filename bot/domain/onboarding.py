"""Invitations: one-time deep links that bind a Telegram account to a person.

Codes are random (128 bits), single-use, expire, and only their sha256 is stored, so the
database alone never yields a working link.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.directory import person_by_telegram_id, unit_by_name
from bot.domain.errors import DomainError
from bot.domain.roles import ROLE_NAMES, UNIT_ROLES
from bot.domain.workflow import drop_controls
from store.models import Invitation, Person, PersonRole

MAX_NAME = 50


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def deep_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={code}"


@dataclass(frozen=True)
class NewInvitation:
    code: str
    person: Person
    role: str
    expires_at: datetime

    @property
    def role_name(self) -> str:
        return ROLE_NAMES[self.role]


def validate_name(name: str) -> str:
    name = " ".join(drop_controls(name).split())
    if not name:
        raise DomainError("姓名不能为空")
    if len(name) > MAX_NAME:
        raise DomainError(f"姓名太长（最多{MAX_NAME}个字）")
    return name


async def create_invitation(
    session: AsyncSession,
    *,
    role: str,
    name: str,
    unit_name: str | None,
    created_by: Person | None,
    now: datetime,
    ttl_days: int,
) -> NewInvitation:
    """Find or create the person, give them the role once they accept, and issue a code."""
    if role not in ROLE_NAMES:
        raise DomainError(f"未知的角色「{role}」（可选：{'、'.join(ROLE_NAMES.values())}）")
    name = validate_name(name)
    unit = None
    if role in UNIT_ROLES:
        if not unit_name or not unit_name.strip():
            raise DomainError(f"{ROLE_NAMES[role]}必须指定所属单位")
        unit = await unit_by_name(session, unit_name)
    elif unit_name:
        raise DomainError(f"{ROLE_NAMES[role]}不属于承办单位，请不要指定单位")

    person = await session.scalar(
        select(Person).where(Person.name == name, Person.unit_id == unit.id)
        if unit
        else select(Person).where(Person.name == name, Person.unit_id.is_(None))
    )
    if person is None:
        person = Person(name=name, unit=unit, created_at=now, role_rows=[])
        session.add(person)
        await session.flush()

    code = secrets.token_urlsafe(16)
    session.add(
        Invitation(
            code_hash=hash_code(code),
            person_id=person.id,
            role=role,
            created_by_id=created_by.id if created_by else None,
            created_at=now,
            expires_at=now + timedelta(days=ttl_days),
        )
    )
    await session.flush()
    return NewInvitation(code=code, person=person, role=role, expires_at=now + timedelta(days=ttl_days))


async def redeem(session: AsyncSession, code: str, telegram_id: int, now: datetime) -> Person:
    """Bind this Telegram account to the invited person; refuse used, expired and unknown codes."""
    code = code.strip()
    invitation = None
    if code and len(code) <= 64:
        invitation = await session.scalar(select(Invitation).where(Invitation.code_hash == hash_code(code)))
    if invitation is None:
        raise DomainError("邀请码无效。请向督查室索取新的邀请链接。")
    if invitation.used_at is not None:
        raise DomainError("这个邀请链接已经使用过了。如需重新绑定，请向督查室索取新的邀请链接。")
    if invitation.expires_at <= now:
        raise DomainError("这个邀请链接已过期。请向督查室索取新的邀请链接。")

    person = invitation.person
    bound = await person_by_telegram_id(session, telegram_id)
    if bound is not None and bound.id != person.id:
        raise DomainError(f"您的 Telegram 账号已绑定为「{bound.name}」，不能再接受这个邀请。如有误请联系督查室。")

    invitation.used_at = now
    invitation.used_by_telegram_id = telegram_id
    # A liaison's first binding (made liaison before they had the bot, e.g. by a hand-over) or a
    # new liaison role: the unit's open items follow (bot.domain.briefing).
    new_liaison = invitation.role == "liaison" and (
        person.telegram_id is None or not (person.active and person.has_role("liaison"))
    )
    # A new phone replaces the old binding: the invitation is the office's word that this is them.
    person.telegram_id = telegram_id
    person.active = True
    person.unreachable_since = None
    if not person.has_role(invitation.role):
        person.role_rows.append(PersonRole(role=invitation.role))
    await session.flush()
    if new_liaison and person.unit is not None:
        from bot.domain.briefing import brief_liaison  # issue 12: a new liaison gets the unit's open items

        await brief_liaison(session, person, person.unit.name, now=now)
    return person
