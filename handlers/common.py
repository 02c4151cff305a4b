"""Small pieces every handler module uses: replying in HTML, role checks, menus."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from telegram import Bot, BotCommand, BotCommandScopeChat, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot.domain.commands import commands_for, menu_fingerprints, remember_menu
from bot.domain.directory import bound_people
from bot.kernel.render import render
from handlers.context import Ctx

if TYPE_CHECKING:
    from store.db import Database
    from store.models import Person

log = logging.getLogger("duban.handlers")

MAX_TEXT = 2000  # free text we store (names, reasons, progress) — well under Telegram's 4096


def tap_data(update: Update) -> str:
    """The data of the tapped button: every tap handler here matches a pattern, so it has some."""
    data = update.callback_query.data if update.callback_query is not None else None
    if data is None:
        raise RuntimeError("a tap handler got an update without callback data")
    return data


def message_text(update: Update) -> str:
    """The text of a message that passed a ``filters.TEXT`` handler."""
    text = update.message.text if update.message is not None else None
    if text is None:
        raise RuntimeError("a text handler got an update without text")
    return text


async def reply(update: Update, template: str, reply_markup: Any = None, **context: object) -> None:
    """Answer in the chat the update came from, rendered from a template."""
    chat = update.effective_chat
    if chat is None:
        return
    await chat.send_message(
        render(template, **context),
        parse_mode=ParseMode.HTML,
        reply_markup=reply_markup,
        disable_web_page_preview=True,
    )


def requires(*roles: str, what: str, denied: Any = None) -> Callable:
    """Let the handler run only for a bound person holding one of ``roles`` (checked in the DB).

    ``denied`` is what a refused call returns (a dialog's entry point returns END, so that no
    conversation, and no timeout, starts for someone who may not have it).
    """

    def decorate(handler: Callable[[Update, Ctx], Awaitable[Any]]) -> Callable:
        @functools.wraps(handler)
        async def wrapper(update: Update, context: Ctx) -> Any:
            person = await context.person(update)
            if person is None or not person.has_role(*roles):
                log.warning(
                    "event=denied what=%s user=%s person=%s",
                    what,
                    update.effective_user.id if update.effective_user else None,
                    person.id if person else None,
                )
                if update.callback_query:
                    await update.callback_query.answer("您没有权限执行此操作", show_alert=True)
                else:
                    await reply(update, "messages/not_allowed.html.j2", what=what)
                return denied
            return await handler(update, context)

        return wrapper

    return decorate


async def set_menu(context: Ctx, chat_id: int, person: Person) -> None:
    """The command menu for this person's chat, matching their roles (no call when it does already)."""
    await _set_menu(context.bot, chat_id, person, context.services.db, _menus(context.bot_data))


def _menus(bot_data: dict) -> dict[int, str]:
    """This process's view of the menu each chat shows: {chat_id: fingerprint}."""
    return bot_data.setdefault("menus", {})


def _menu(person: Person) -> tuple[list[BotCommand], str]:
    """The commands for this person's roles and their fingerprint (what the chat should show)."""
    commands, fingerprint = _menu_for(person.roles)
    return list(commands), fingerprint


@functools.lru_cache(maxsize=64)
def _menu_for(roles: frozenset[str]) -> tuple[tuple[BotCommand, ...], str]:
    # Per role set, not per update: /help checks the menu every time (BotCommands are immutable).
    commands = tuple(BotCommand(c.command, c.description) for c in commands_for(roles))
    text = json.dumps([[c.command, c.description] for c in commands], ensure_ascii=False)
    return commands, hashlib.sha256(text.encode()).hexdigest()


async def _set_menu(
    bot: Bot, chat_id: int, person: Person, db: Database | None = None, menus: dict[int, str] | None = None
) -> bool:
    """Set the menu unless ``menus`` says the chat shows it already; ``db`` remembers what was
    set across restarts (one statement, only when the menu changed). True when a call was made."""
    commands, fingerprint = _menu(person)
    if menus is not None and menus.get(chat_id) == fingerprint:
        return False
    try:
        await bot.set_my_commands(commands, scope=BotCommandScopeChat(chat_id))
    except TelegramError as exc:  # a menu is a convenience; never fail the answer for it
        log.warning("event=menu_failed chat=%s error=%s", chat_id, exc)
        return False
    if db is not None:
        async with db.session() as s:
            await remember_menu(s, chat_id, fingerprint, db.now())
    if menus is not None:
        menus[chat_id] = fingerprint
    return True


async def refresh_all_menus(bot: Bot, db: Database, bot_data: dict) -> int:
    """In the background after start-up: each bound person's menu matches their roles (they may
    have changed offline). Only chats whose menu differs from the one last set get a call."""
    menus = _menus(bot_data)
    async with db.session() as s:
        people = await bound_people(s)
        for chat_id, fingerprint in (await menu_fingerprints(s)).items():
            menus.setdefault(chat_id, fingerprint)  # a menu set meanwhile (/start) is newer
    changed = 0
    for person in people:
        if person.telegram_id is not None:  # bound people have one; the check tells the type checker
            changed += await _set_menu(bot, person.telegram_id, person, db, menus)
    log.info("event=menus_refreshed people=%d changed=%d", len(people), changed)
    return changed
