"""handlers.dialogs: the quick look at a dialog's entry points never says no where PTB's own check
of an entry point would take the update (every update meets every dialog's entry points)."""

from __future__ import annotations

import re

from telegram import Bot, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from handlers.dialogs import _Entries, _entry_matches


async def _noop(update, context) -> None:
    return None


class _Dialog:
    """What ``_entry_matches`` reads of a ConversationHandler."""

    def __init__(self, entry_points: list) -> None:
        self.entry_points = entry_points


class _Bot(Bot):
    """A bot that knows its username without asking Telegram (CommandHandler compares it)."""

    @property
    def username(self) -> str:
        return "duban_bot"


BOT = _Bot("123:TEST")


def _user(uid: int = 7) -> dict:
    return {"id": uid, "is_bot": False, "first_name": "张"}


def _message(text: str | None, command_length: int | None = None, **extra: object) -> dict:
    message = {"message_id": 1, "date": 0, "chat": {"id": 7, "type": "private"}, "from": _user(), **extra}
    if text is not None:
        message["text"] = text
    if command_length is not None:
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": command_length}]
    return message


def _update(**fields: object) -> Update:
    return Update.de_json({"update_id": 1, **fields}, BOT)


UPDATES = [
    _update(message=_message("/new", 4)),
    _update(message=_message("/NEW@duban_bot 标题", 14)),
    _update(message=_message("/new@other_bot", 14)),
    _update(message=_message("/new-thing", 4)),  # Telegram's entity ends at the "-": the command is "new"
    _update(message=_message("/newer", 6)),
    _update(message=_message("/help", 5)),
    _update(message=_message("new")),
    _update(message=_message("看 /new", None)),
    _update(message=_message(None, document={"file_id": "f", "file_unique_id": "u", "file_name": "a.toml"})),
    _update(callback_query={"id": "1", "from": _user(), "chat_instance": "c", "data": "c:no:5"}),
    _update(callback_query={"id": "1", "from": _user(), "chat_instance": "c", "data": "x:c:no:5"}),
    _update(callback_query={"id": "1", "from": _user(), "chat_instance": "c", "game_short_name": "g"}),
    # a button under a message that itself starts with a command: PTB's CommandHandler reads it
    _update(
        callback_query={"id": "1", "from": _user(), "chat_instance": "c", "data": "z", "message": _message("/new", 4)}
    ),
]

ENTRY_POINTS = [
    [CommandHandler("new", _noop)],
    [CommandHandler(["call", "visit"], _noop), CallbackQueryHandler(_noop, pattern=r"^c:no:")],
    [CallbackQueryHandler(_noop, pattern=re.compile(r"^c:no:\d+$"))],
    [CallbackQueryHandler(_noop, pattern=lambda data: data == "z")],  # not a regex: always checked
    [MessageHandler(filters.Document.FileExtension("toml"), _noop)],
]


def test_the_quick_look_never_refuses_what_an_entry_point_takes():
    for entry_points in ENTRY_POINTS:
        entries, dialog = _Entries.of(entry_points), _Dialog(entry_points)
        for update in UPDATES:
            if _entry_matches(dialog, update):  # type: ignore[arg-type]
                assert entries.could_take(update), (entry_points, update.to_dict())


def test_the_quick_look_refuses_what_no_entry_point_could_take():
    new = _Entries.of([CommandHandler("new", _noop)])
    assert new.could_take(UPDATES[0]) and new.could_take(UPDATES[1]) and new.could_take(UPDATES[3])
    assert not new.could_take(UPDATES[4]) and not new.could_take(UPDATES[5]) and not new.could_take(UPDATES[6])
    call = _Entries.of(ENTRY_POINTS[1])
    assert call.could_take(UPDATES[9]) and not call.could_take(UPDATES[10]) and not call.could_take(UPDATES[0])
    # other kinds of entry points are always asked
    assert _Entries.of(ENTRY_POINTS[4]).could_take(UPDATES[5])
