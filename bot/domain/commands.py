"""Which commands each role sees in its menu and in /help (no telegram here: handlers render it)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from store import menus as store_menus


@dataclass(frozen=True)
class Command:
    command: str
    description: str
    roles: frozenset[str] | None  # None: everyone the bot knows


_ALL = None
_OFFICE = frozenset({"office", "office_head"})

COMMANDS: tuple[Command, ...] = (
    Command("help", "查看可用命令", _ALL),
    Command("items", "督查事项清单（红黄绿灯）", _ALL),
    Command("item", "事项详情与办理，如 /item 3", _ALL),
    Command("find", "查找事项，如 /find 道路 或 /find 城关镇", _ALL),
    Command("new", "登记督查事项（立项）", frozenset({"office"})),
    Command("archive", "归档已办结事项，如 /archive 3", frozenset({"office"})),
    Command("follow", "设置事项跟踪专人，如 /follow 3 或 /follow 3 李强", frozenset({"office"})),
    Command("digest", "每日督办摘要", frozenset({"leader", "office", "office_head"})),
    Command("outbox", "未送达的消息（督查室）", _OFFICE),
    Command("call", "记录电话督查", frozenset({"office"})),
    Command("visit", "记录实地督查（明查、暗访）", frozenset({"office"})),
    Command("bulletin", "发布通报（批评、表扬）", frozenset({"office"})),
    Command(
        "stats", "事项统计：按单位、领导、来源（按时办结率、超期）", frozenset({"office", "office_head", "leader"})
    ),
    Command("score", "年度考核得分", frozenset({"office", "office_head", "leader", "liaison", "unit_head"})),
    Command("export", "导出考核表、督办台账（Excel）", _OFFICE),
    Command("notice", "督办通知单（Word），如 /notice 3", _OFFICE),
    Command("dossier", "事项卷宗（Word），如 /dossier 3", _OFFICE),
    Command("audit", "事项变更记录（谁在何时改了什么），如 /audit 3", frozenset({"office_head"})),
    Command("invite", "生成邀请链接（督查室）", _OFFICE),
    Command("report", "督查工作情况报告（月报，送审后报县领导）", _OFFICE),
    Command("people", "人员管理：停用、角色、单位、移交联络员", _OFFICE),
    Command("cancel", "取消当前操作", _ALL),
)

# What a person the bot does not know yet sees in the menu.
STRANGER_COMMANDS: tuple[Command, ...] = (Command("start", "开始使用（需邀请链接）", _ALL),)


def commands_for(roles: frozenset[str]) -> list[Command]:
    return list(_commands_for(frozenset(roles)))


@functools.lru_cache(maxsize=64)
def _commands_for(roles: frozenset[str]) -> tuple[Command, ...]:
    # Once per role set: /help and the menu check ask on every update.
    return tuple(c for c in COMMANDS if c.roles is None or c.roles & roles)


# --------------------------------------------------------------------------------------------
# The menu each chat shows (remembered across restarts: start-up re-sends only changed ones)
# --------------------------------------------------------------------------------------------


async def menu_fingerprints(session: AsyncSession) -> dict[int, str]:
    return await store_menus.fingerprints(session)


async def remember_menu(session: AsyncSession, chat_id: int, fingerprint: str, now: datetime) -> None:
    await store_menus.remember(session, chat_id, fingerprint, now)


async def forget_menu(session: AsyncSession, chat_id: int) -> None:
    await store_menus.forget(session, chat_id)
