"""``python -m bot invite``: an invitation from the command line (the office's first link)."""

from __future__ import annotations

from typing import TextIO

from telegram import Bot
from telegram.error import TelegramError

from bot.domain.errors import DomainError
from bot.domain.onboarding import create_invitation, deep_link
from bot.domain.roles import parse_role
from bot.kernel.clock import Clock
from bot.kernel.config import Settings
from bot.kernel.render import render
from store.audit import Actor
from store.db import Database


async def bot_username(settings: Settings) -> str | None:
    """The configured @name, else ask Telegram (or the emulator at base_url); None when unknown."""
    if settings.telegram.bot_username:
        return settings.telegram.bot_username
    if not settings.telegram.token:
        return None
    bot = Bot(
        settings.telegram.token, base_url=settings.telegram.base_url, base_file_url=settings.telegram.base_file_url
    )
    try:
        async with bot:
            return bot.username
    except TelegramError:
        return None


async def invite(settings: Settings, role_text: str, unit: str | None, name: str, out: TextIO, err: TextIO) -> int:
    role = parse_role(role_text)
    if role is None:
        print(f"未知的角色「{role_text}」（可选：联络员、单位负责人、县领导、督查室工作人员、督查室负责人）", file=err)
        return 2
    db = Database(settings.database.url)
    try:
        await db.upgrade()
        async with db.session(Actor.system("cli"), "invitation.create") as s:
            inv = await create_invitation(
                s,
                role=role,
                name=name,
                unit_name=unit,
                created_by=None,
                now=Clock().now(),
                ttl_days=settings.invitations.ttl_days,
            )
    except DomainError as exc:
        print(exc.message, file=err)
        return 2
    finally:
        await db.dispose()
    username = await bot_username(settings)
    if username is None:
        print(
            "（未配置 [telegram] bot_username，且无法连接 Telegram 查询，链接中的 <机器人用户名> 请替换为实际用户名）",
            file=err,
        )
        username = "<机器人用户名>"
    out.write(
        render(
            "cli/invite_created.txt.j2",
            person=inv.person,
            role_name=inv.role_name,
            link=deep_link(username, inv.code),
            expires_at=inv.expires_at,
        )
        + "\n"
    )
    return 0
