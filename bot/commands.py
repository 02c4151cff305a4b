"""Which commands each role sees in its menu and in /help (no telegram here: handlers render it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    command: str
    description: str
    roles: frozenset[str] | None  # None: everyone the bot knows


_ALL = None
_OFFICE = frozenset({"office", "office_head"})

COMMANDS: tuple[Command, ...] = (
    Command("help", "查看可用命令", _ALL),
    Command("invite", "生成邀请链接（督查室）", _OFFICE),
    Command("cancel", "取消当前操作", _ALL),
)

# What a person the bot does not know yet sees in the menu.
STRANGER_COMMANDS: tuple[Command, ...] = (Command("start", "开始使用（需邀请链接）", _ALL),)


def commands_for(roles: frozenset[str]) -> list[Command]:
    return [c for c in COMMANDS if c.roles is None or c.roles & roles]
