"""Dialogs: one open dialog per chat, one guard at every dialog's entry, one /cancel.

Every multi-step dialog (/new, /call|/visit|/bulletin and 有异议, /score add, /invite, the
buttons that ask for a reason or progress, …) is a ``Dialog``, registered with ``add`` in
``DIALOG_GROUP`` — after the gate, before every other handler:

* the guard (``DialogGuard``, first in that group): while one dialog is open, an update that
  would open *another* is not passed on — the person is told which dialog is open and offered a
  button to cancel it (without it, ``/new`` then ``/call`` then ``1`` made ``1`` the new item's
  title); ``/cancel`` with no dialog open is answered here too;
* a dialog that takes an update is the only handler to answer it (``Dialog.handle_update`` stops
  the later groups), so the commands, buttons and "this button has expired" answers of group 0
  never see a dialog's updates, whatever order the modules register in.

A dialog keeps its answers in the chat's one dialog slot (``handlers.context.ChatData``).
Re-entering the same dialog (``/new`` during ``/new``) restarts it, as the person asked. Since at
most one dialog is open, the ``/cancel`` of that dialog (``Dialog(cancel=…)`` wires /cancel and
its 取消 button) is the one that ends it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeGuard

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, MessageEntity, Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
)

from handlers.common import reply
from handlers.context import Ctx

DIALOG_GROUP = -1  # after the gate (-2), before the commands and buttons (0)
GUARD_GROUP = DIALOG_GROUP  # the guard is the first handler of the dialogs' group


class TimedConversation(ConversationHandler):
    """A ConversationHandler whose timeout is read when it is used, so a test can lower it."""

    def __init__(self, *args: Any, timeout: Callable[[], float], **kwargs: Any) -> None:
        self._timeout_of = timeout
        self._timeout_now: float | None = None  # set only while schedule_timeout schedules
        # Persistent (issue 14, bot.runtime.persistence): the state is kept under the name, so the
        # name must be the same in every process; without one it is derived from the entry points.
        kwargs.setdefault("persistent", True)
        if kwargs.get("persistent") and not kwargs.get("name"):
            entry = kwargs.get("entry_points", args[0] if args else [])
            kwargs["name"] = (
                "dialog:"
                + "|".join(
                    ",".join(sorted(getattr(h, "commands", ())))
                    or str(getattr(getattr(h, "pattern", None), "pattern", ""))
                    or type(h).__name__
                    for h in entry
                )[:56]
            )
        kwargs["conversation_timeout"] = timeout()
        super().__init__(*args, **kwargs)

    @property
    def conversation_timeout(self) -> float:
        return self._timeout_of() if self._timeout_now is None else self._timeout_now

    @conversation_timeout.setter
    def conversation_timeout(self, _: object) -> NoReturn:  # read-only, as in ConversationHandler
        raise AttributeError("You can not assign a new value to conversation_timeout after initialization.")

    def schedule_timeout(
        self, application: Application, update: Update, context: Ctx, key: tuple, state: object, after: float
    ) -> None:
        """Start the timeout of the dialog ``key`` so that it ends ``after`` seconds from now: a dialog
        restored from the database gets what is left of its time (bot.runtime.persistence)."""
        self._timeout_now = after
        try:
            self._schedule_job(state, application, update, context, key)  # PTB's own scheduling
        finally:
            self._timeout_now = None

    async def _trigger_timeout(self, context: Any) -> None:
        """PTB's timeout, unless the dialog moved on where this process cannot see it: with several
        instances receiving updates (webhook mode), its later steps may have reached another one,
        which runs the timeout from then on. The persistence (bot.runtime.persistence) knows."""
        still_due = getattr(context.application.persistence, "timeout_still_due", None)
        job = context.job
        key = job.data.conversation_key
        if still_due is not None and self.name and not await still_due(self.name, key, self._timeout_of()):
            async with self._timeout_jobs_lock:
                if self.timeout_jobs.get(key) is job:
                    del self.timeout_jobs[key]
            return
        await super()._trigger_timeout(context)
        # Written now, not at PTB's next periodic flush: a dialog that timed out must not come back
        # (and time out again) after a restart in between.
        await context.application.update_persistence()


_last_command: tuple[object, str | None] = (None, None)  # (update, its command): every dialog asks


def _command(update: Update) -> str | None:
    """The command as PTB's CommandHandler reads it (``/New@bot x`` → ``new``); None if none."""
    global _last_command
    if _last_command[0] is update:
        return _last_command[1]
    command = None
    message = update.effective_message
    if message is not None and message.entities and message.text:
        first = message.entities[0]
        if first.type == MessageEntity.BOT_COMMAND and first.offset == 0:
            command = message.text[1 : first.length].split("@")[0].lower()
    _last_command = (update, command)
    return command


@dataclass(frozen=True, slots=True)
class _Entries:
    """What a dialog's entry points could take, for a quick no: the commands of its CommandHandlers
    and the patterns of its CallbackQueryHandlers; ``others`` when it has entry points of other
    kinds, whose own checks then always run. Every update meets every dialog, and PTB's checks of
    every entry point cost more than the rest of a /help."""

    commands: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]
    others: bool

    @classmethod
    def of(cls, entry_points: list[BaseHandler]) -> _Entries:
        commands: set[str] = set()
        patterns: list[re.Pattern[str]] = []
        others = False
        for entry in entry_points:
            if isinstance(entry, CommandHandler):
                commands |= entry.commands
            elif (
                isinstance(entry, CallbackQueryHandler)
                and isinstance(entry.pattern, re.Pattern)
                and not entry.game_pattern
            ):
                patterns.append(entry.pattern)
            else:
                others = True
        return cls(frozenset(commands), tuple(patterns), others)

    def could_take(self, update: Update) -> bool:
        """False only where every entry point's own check would say no."""
        if self.others:
            return True
        query = update.callback_query
        if query is not None and isinstance(query.data, str) and any(p.match(query.data) for p in self.patterns):
            return True
        # as PTB's CommandHandler, on the update's effective message (a button's message too)
        return bool(self.commands) and _command(update) in self.commands


def _entry_matches(dialog: ConversationHandler, update: Update) -> bool:
    return any(ep.check_update(update) not in (None, False) for ep in dialog.entry_points)


class Dialog(TimedConversation):
    """A dialog the guard knows: its name for people, its cancel, what really opens it.

    ``label`` names the open dialog for the person (it may read the dialog's answers);
    ``cancel_data`` is the callback data of its 取消 button; ``cancel``, when given, is wired to
    /cancel and to that button in every state; ``opens`` narrows the entry points to the updates
    that really start a dialog (``/score`` alone shows a table, only ``/score add`` asks questions).
    """

    def __init__(
        self,
        *args: Any,
        label: str | Callable[[Ctx], str],
        cancel_data: str,
        cancel: Callable[[Update, Ctx], Any] | None = None,
        opens: Callable[[Update], bool] | None = None,
        **kwargs: Any,
    ) -> None:
        if cancel is not None:
            kwargs["fallbacks"] = [
                CommandHandler("cancel", cancel),
                CallbackQueryHandler(cancel, pattern=rf"^{re.escape(cancel_data)}$"),
                *kwargs.get("fallbacks", []),
            ]
        super().__init__(*args, **kwargs)
        if not (self.per_chat and self.per_user) or self.per_message:
            raise ValueError(f"{self.name}: a dialog is kept per chat and person (the guard's one slot)")
        self._label = label
        self.cancel_data = cancel_data
        self._opens = opens
        self._entries = _Entries.of(self.entry_points)

    def label(self, context: Ctx) -> str:
        return self._label(context) if callable(self._label) else self._label

    def _state(self, update: Update) -> object | None:
        # PTB's own key for a per chat-and-person dialog, read from the dict under PTB's tracking
        # one (a lookup through its Mapping layers cost more than the rest of this check).
        states = self._conversations
        return getattr(states, "data", states).get((update.effective_chat.id, update.effective_user.id))

    def is_open(self, update: Update) -> bool:
        # check_update would also match entry points, so it cannot tell "open" from "would open".
        return self._state(update) is not None

    def check_update(self, update: object) -> Any:
        """PTB's check, after a quick no for what most updates are to a dialog: neither a step of
        it (no state in this chat) nor its start (no entry point takes it). Every update meets all
        the dialogs; this spares PTB's key building and lookups for each."""
        if _applies(update) and self._state(update) is None and not self._could_open(update):
            return None
        return super().check_update(update)

    def _could_open(self, update: Update) -> bool:
        return self._entries.could_take(update) and _entry_matches(self, update)

    def opens(self, update: Update) -> bool:
        return self._could_open(update) and (self._opens is None or self._opens(update))

    async def handle_update(self, update: Any, application: Any, check_result: Any, context: Any) -> object:
        """A dialog that took an update answers it alone: the later groups do not see it."""
        await super().handle_update(update, application, check_result, context)
        raise ApplicationHandlerStop


def command_args(update: Update) -> list[str]:
    """The words after a command (``/score add x`` → ``["add", "x"]``)."""
    text = update.message.text if update.message is not None else None
    return (text or "").split()[1:]


def _dialogs(app: Application) -> list[Dialog]:
    # A few dozen handlers: read each time rather than cached in bot_data, which a persistence
    # would try to store.
    return [h for hs in app.handlers.values() for h in hs if isinstance(h, Dialog)]


def _applies(update: object) -> TypeGuard[Update]:
    return (
        isinstance(update, Update)
        and update.effective_user is not None
        and update.effective_chat is not None
        and (update.message is not None or update.callback_query is not None)
    )


def _is_cancel(update: Update) -> bool:
    return update.message is not None and (update.message.text or "").split("@")[0].strip() == "/cancel"


class DialogGuard(BaseHandler[Update, Ctx, None]):
    """First in the dialogs' group: takes an update only to refuse a second dialog, or to answer a
    /cancel when there is nothing to cancel; everything else goes on to the dialogs."""

    def __init__(self, app: Application) -> None:
        super().__init__(self._refuse)
        self._app = app
        self._found: tuple[tuple[int, ...], list[Dialog]] = ((), [])

    def _dialogs(self) -> list[Dialog]:
        # Scanning every handler costs more than the rest of the check: only when they changed.
        shape = tuple(map(len, self._app.handlers.values()))
        if self._found[0] != shape:
            self._found = (shape, _dialogs(self._app))
        return self._found[1]

    def check_update(self, update: object) -> object:
        if not isinstance(update, Update) or not _applies(update):
            return None
        dialogs = self._dialogs()
        current = next((d for d in dialogs if d.is_open(update)), None)
        if current is None:
            return "nothing to cancel" if _is_cancel(update) else None
        if any(d is not current and d.opens(update) for d in dialogs):
            return current
        return None

    async def handle_update(self, update: Update, application: Any, check_result: object, context: Any) -> None:
        await self._answer(update, context, check_result)
        raise ApplicationHandlerStop

    async def _refuse(self, update: Update, context: Ctx) -> None:  # the callback PTB requires; unused
        return None

    async def _answer(self, update: Update, context: Ctx, current: object) -> None:
        if not isinstance(current, Dialog):
            await reply(update, "chat/cancelled.html.j2", what="nothing")
            return
        label = current.label(context)
        if update.callback_query is not None:
            await update.callback_query.answer(
                f"您正在进行「{label}」，尚未完成。请先完成，或发送 /cancel 取消后再操作。", show_alert=True
            )
        else:
            keyboard = InlineKeyboardMarkup(
                [[InlineKeyboardButton(f"取消「{label}」", callback_data=current.cancel_data)]]
            )
            await reply(update, "chat/busy.html.j2", reply_markup=keyboard, label=label, what="开始新的操作")


def add(app: Application, dialog: Dialog) -> None:
    """Register a dialog where the guard and the other dialogs are (before commands and buttons)."""
    app.add_handler(dialog, group=DIALOG_GROUP)


def register(app: Application) -> None:
    app.add_handler(DialogGuard(app), group=DIALOG_GROUP)
