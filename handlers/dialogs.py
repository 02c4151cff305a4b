"""Dialogs: one open dialog per person, one /cancel for whichever it is.

Every multi-step dialog (/new, /call|/visit|/bulletin and 有异议, /score add, /invite, the
buttons that ask for a reason or progress) is a ``Dialog``. The guard runs before the dialogs
(group -1, after the gate): while one dialog is open, an update that would open *another* is not
passed on — the person is told which dialog is open and offered a button to cancel it. Without
it, two dialogs would be open at once and the next text would go to whichever was registered
first (``/new`` then ``/call`` then ``1`` made ``1`` the new item's title).

Re-entering the same dialog (``/new`` during ``/new``) restarts it, as the person asked. Since at
most one dialog is open, the ``/cancel`` fallback of that dialog is the one that ends it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, ApplicationHandlerStop, ConversationHandler, TypeHandler

from handlers.common import reply
from handlers.context import Ctx

GUARD_GROUP = -1


class TimedConversation(ConversationHandler):
    """A ConversationHandler whose timeout is read when it is used, so a test can lower it."""

    def __init__(self, *args: Any, timeout: Callable[[], float], **kwargs: Any) -> None:
        self._timeout_of = timeout
        super().__init__(*args, conversation_timeout=timeout(), **kwargs)

    @property
    def conversation_timeout(self) -> float:  # type: ignore[override]
        return self._timeout_of()


def _entry_matches(dialog: ConversationHandler, update: Update) -> bool:
    return any(ep.check_update(update) not in (None, False) for ep in dialog.entry_points)


class Dialog(TimedConversation):
    """A dialog the guard knows: its name for people, its cancel button, what really opens it.

    ``label`` names the open dialog for the person (it may read the dialog's chat_data);
    ``cancel_data`` is the callback data its own cancel button handles in every state;
    ``opens`` narrows the entry points to the updates that really start a dialog (``/score``
    alone shows a table, only ``/score add`` asks questions).
    """

    def __init__(self, *args: Any, label: str | Callable[[Ctx], str], cancel_data: str,
                 opens: Callable[[Update], bool] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._label = label
        self.cancel_data = cancel_data
        self._opens = opens

    def label(self, context: Ctx) -> str:
        return self._label(context) if callable(self._label) else self._label

    def is_open(self, update: Update) -> bool:
        # PTB keeps the states in ``_conversations`` by ``_get_key``; check_update would also
        # match entry points, so it cannot tell "open" from "would open".
        return self._conversations.get(self._get_key(update)) is not None

    def opens(self, update: Update) -> bool:
        return _entry_matches(self, update) and (self._opens is None or self._opens(update))


def command_args(update: Update) -> list[str]:
    """The words after a command (``/score add x`` → ``["add", "x"]``)."""
    text = update.message.text if update.message is not None else None
    return (text or "").split()[1:]


def _dialogs(app: Application) -> list[Dialog]:
    # A few dozen handlers: read each time rather than cached in bot_data, which a persistence
    # would try to store.
    return [h for hs in app.handlers.values() for h in hs if isinstance(h, Dialog)]


def _applies(update: object) -> bool:
    return (isinstance(update, Update) and update.effective_user is not None and update.effective_chat is not None
            and (update.message is not None or update.callback_query is not None))


async def one_dialog_at_a_time(update: Update, context: Ctx) -> None:
    if not _applies(update):
        return
    dialogs = _dialogs(context.application)
    current = next((d for d in dialogs if d.is_open(update)), None)
    if current is None:
        return
    if not any(d is not current and d.opens(update) for d in dialogs):
        return
    label = current.label(context)
    if update.callback_query is not None:
        await update.callback_query.answer(
            f"您正在进行「{label}」，尚未完成。请先完成，或发送 /cancel 取消后再操作。", show_alert=True)
    else:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(f"取消「{label}」", callback_data=current.cancel_data)]])
        await reply(update, "chat/busy.html.j2", reply_markup=keyboard, label=label, what="开始新的操作")
    raise ApplicationHandlerStop


def register(app: Application) -> None:
    app.add_handler(TypeHandler(Update, one_dialog_at_a_time), group=GUARD_GROUP)
