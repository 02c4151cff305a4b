"""Dialog state in the database: python-telegram-bot's ``BasePersistence`` on our own store.

What is kept (table ``dialog_state``, ``store.dialog_state``): the state of every named
ConversationHandler per conversation key and ``chat_data`` (pickles of plain values). Not
``bot_data`` (it holds the live services), not callback data, and not ``user_data``: the bot keeps
nothing per user (a dialog's answers are its chat's; in a private chat the chat is the person).

PTB's own model does not fit several instances: it reads everything once (``get_*`` at
``initialize``), keeps it in memory and writes what changed every ``update_interval`` seconds.
So this persistence is driven per update by ``DialogStateApplication``:

* **Write-through.** After every update, what it changed is written at once, in one transaction
  (``_DialogState._write_through`` hands over the chats PTB marked and the dialog states written,
  ``DbPersistence`` pickles and buffers them and ``write_pending`` writes them). Data that did not
  change (a /help touches chat_data without changing it) is not written: each row's last written
  bytes are remembered. PTB's periodic ``update_persistence`` stays as a safety net.
* **Fresh before use.** An instance whose memory may be stale reloads before it handles:
  - ``shared=False`` (polling: only the elected leader handles updates, ``bot.runtime.leader``):
    everything is reloaded when this instance becomes the leader (``reload``); while it leads,
    nobody else writes, so memory is the truth and an update costs no extra statement;
  - ``shared=True`` (webhook mode: every instance may receive updates): before each update, one
    SELECT reads that update's chat_data and the states of its conversation keys
    (``refresh_for``), so a dialog started on instance A continues on B.

Timeouts: a dialog's timeout is a job in the process that handled its latest step (PTB's). A
dialog restored from the database (a restart, a fail-over) gets its timeout again, counted from
its last step (``restore_timeouts``). A deposed leader drops its timeout jobs (``forget_timeouts``)
so it cannot end a dialog the new leader continues; in webhook mode a timeout checks the database
first (``timeout_still_due``): if the dialog moved on at another instance, that one times it out.
Known limit: in webhook mode two updates of one person that reach two instances at the same
instant race (the later write wins); people type seconds apart.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from copy import deepcopy
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy.exc import SQLAlchemyError
from telegram import Chat, Message, Update, User
from telegram.ext import Application, BasePersistence, ConversationHandler, PersistenceInput
from telegram.ext._handlers.conversationhandler import PendingState
from telegram.ext._utils.trackingdict import TrackingDict

from bot.kernel.logs import LoggedApplication
from bot.runtime.inbox import InboxApplication
from store import dialog_state as rows
from store.db import Database

log = logging.getLogger("duban.persistence")

Row = rows.Row
_DB_ERRORS = (SQLAlchemyError, OSError)
TIMEOUT_SLACK = timedelta(seconds=1)  # a step written just as the timeout was scheduled is not "later"


def conversation_key(key: Iterable[object]) -> str:
    return json.dumps(list(key), separators=(",", ":"))


def _parse_key(text: str) -> tuple:
    return tuple(json.loads(text))


class DbPersistence(BasePersistence):
    def __init__(self, db: Database, shared: bool = False) -> None:
        # update_interval: PTB's periodic flush is only a safety net; updates write through.
        super().__init__(
            # No user_data: the bot keeps nothing per user (a dialog's answers are the chat's).
            store_data=PersistenceInput(bot_data=False, chat_data=True, user_data=False, callback_data=False),
            update_interval=60,
        )
        self.db = db
        self.shared = shared
        self._pending: dict[Row, bytes | None] = {}  # to write, pickled (None: delete)
        self._written: dict[Row, bytes | None] = {}  # what the database holds, as far as we know
        self._writing = asyncio.Lock()

    # ------------------------------------------------------------------ PTB's reads (initialize)
    async def _all(self, scope: str) -> list[tuple[str, str, str, object]]:
        async with self.db.engine.connect() as conn:
            found = await rows.load(conn, scope)
        for s, n, k, value in found:
            self._written[(s, n, k)] = rows.dumps(value)
        return found

    async def get_chat_data(self) -> dict[int, dict]:
        return {int(k): cast(dict, v) for _, _, k, v in await self._all(rows.CHAT)}  # written from dicts

    async def get_user_data(self) -> dict[int, dict]:
        return {}  # not kept

    async def get_conversations(self, name: str) -> dict:
        return {_parse_key(k): v for _, n, k, v in await self._all(rows.CONVERSATION) if n == name}

    async def get_bot_data(self) -> dict:
        return {}

    async def get_callback_data(self) -> None:
        return None

    # ------------------------------------------------------------------ PTB's writes: buffered
    def _note(self, row: Row, value: object | None) -> None:
        # Pickled at once: the bytes are the snapshot to write, so PTB's deep copy is not needed.
        data = None if value is None or value == {} else rows.dumps(value)
        if self._written.get(row) == data and row not in self._pending:
            return  # unchanged: no statement
        self._pending[row] = data

    def note_chat_data(self, chat_id: int, data: dict | None) -> None:
        self._note((rows.CHAT, "", str(chat_id)), data)

    async def update_conversation(self, name: str, key: tuple, new_state: object | None) -> None:
        self._note((rows.CONVERSATION, name, conversation_key(key)), new_state)

    async def update_chat_data(self, chat_id: int, data: dict) -> None:
        self.note_chat_data(chat_id, data)

    async def update_user_data(self, user_id: int, data: dict) -> None:
        pass

    async def drop_chat_data(self, chat_id: int) -> None:
        self.note_chat_data(chat_id, None)

    async def drop_user_data(self, user_id: int) -> None:
        pass

    async def update_bot_data(self, data: dict) -> None:
        pass

    async def update_callback_data(self, data: object) -> None:
        pass

    async def refresh_chat_data(self, chat_id: int, chat_data: dict) -> None:
        pass  # done for the whole update at once, before any handler (refresh_for)

    async def refresh_user_data(self, user_id: int, user_data: dict) -> None:
        pass

    async def refresh_bot_data(self, bot_data: dict) -> None:
        pass

    async def flush(self) -> None:
        await self.write_pending()

    async def write_pending(self) -> None:
        """Write what the last updates changed, in one transaction; one write at a time, so a row's
        later value never lands before its earlier one (PTB's periodic run may overlap an update's)."""
        if not self._pending:
            return
        async with self._writing:
            pending, self._pending = self._pending, {}
            if not pending:
                return
            try:
                async with self.db.engine.begin() as conn:
                    await rows.save(conn, pending, self.db.now())
            except _DB_ERRORS as exc:  # kept for the next write; the answer already went out
                self._pending = {**pending, **self._pending}
                log.error("event=dialog_state_write_failed rows=%d error=%s", len(pending), type(exc).__name__)
                return
            self._written.update(pending)

    # ------------------------------------------------------------------ freshness
    async def refresh_for(self, app: Application, update: Update) -> None:
        """Load this update's chat_data and conversation states (one SELECT)."""
        chat = update.effective_chat
        wanted: set[tuple[str, str]] = set()
        if chat is not None:
            wanted.add((rows.CHAT, str(chat.id)))
        keys: dict[ConversationHandler, tuple] = {}
        for handler in persistent_conversations(app):
            try:
                keys[handler] = handler._get_key(update)  # noqa: SLF001 — PTB's key for this update
            except RuntimeError:
                continue  # the update has no key for it (no chat, no callback query)
            wanted.add((rows.CONVERSATION, conversation_key(keys[handler])))
        if not wanted:
            return
        async with self.db.engine.connect() as conn:
            found = {(s, n, k): v for s, n, k, v in await rows.load(conn, keys=wanted)}
        for s, n, k in [(s, "", k) for s, k in wanted if s != rows.CONVERSATION] + [
            (rows.CONVERSATION, _name(h), conversation_key(key)) for h, key in keys.items()
        ]:
            self._written[(s, n, k)] = rows.dumps(found[(s, n, k)]) if (s, n, k) in found else None
        if chat is not None:
            _replace(app._chat_data[chat.id], found.get((rows.CHAT, "", str(chat.id))))  # noqa: SLF001
        for handler, key in keys.items():
            _set_state(handler, key, found.get((rows.CONVERSATION, _name(handler), conversation_key(key))))

    async def last_steps(self, dialogs: list[tuple[str, tuple]]) -> dict[tuple[str, tuple], datetime]:
        """When each (name, key) dialog last moved as far as the database knows: the later of its
        state's and its chat's data's last write (a step changes one or the other)."""
        async with self.db.engine.connect() as conn:
            found = await rows.last_activity(
                conn,
                [(name, conversation_key(key)) for name, key in dialogs],
                {str(key[0]) for _, key in dialogs if key},
            )
        out = {}
        for name, key in dialogs:
            state_at = found.get((name, conversation_key(key)))
            if state_at is None:  # no state row: the dialog is not open
                continue
            chat_at = found.get(("", str(key[0]))) if key else None
            out[(name, key)] = max(state_at, chat_at) if chat_at is not None else state_at
        return out

    async def timeout_still_due(self, name: str, key: tuple, timeout: float) -> bool:
        """Is this process's timeout of a dialog still due? Always when only this instance handles
        updates; with several (``shared``), only if nobody moved the dialog on (or ended it) since."""
        if not self.shared:
            return True
        try:
            last = (await self.last_steps([(name, key)])).get((name, key))
        except _DB_ERRORS as exc:  # the database cannot say: this process's view stands
            log.warning("event=dialog_timeout_unchecked name=%s error=%s", name, type(exc).__name__)
            return True
        return last is not None and last <= self.db.now() - timedelta(seconds=timeout) + TIMEOUT_SLACK

    async def reload(self, app: Application) -> None:
        """Everything again (this instance has just become the one that handles updates)."""
        self._written.clear()
        chats = await self.get_chat_data()
        conversations = await self._all(rows.CONVERSATION)
        app._chat_data.clear()  # noqa: SLF001
        app._chat_data.update(chats)  # noqa: SLF001
        for handler in persistent_conversations(app):
            _tracking(handler).data.clear()
            _tracking(handler).update_no_track({_parse_key(k): v for _, n, k, v in conversations if n == handler.name})
        log.info("event=dialog_state_reloaded conversations=%d chats=%d", len(conversations), len(chats))


def _replace(target: dict, value: object | None) -> None:
    target.clear()
    if isinstance(value, dict):
        target.update(deepcopy(value))


def _set_state(handler: ConversationHandler, key: tuple, state: object | None) -> None:
    states = _tracking(handler)
    if state is None:
        states.data.pop(key, None)  # not a write: the database already has no row
    else:
        states.update_no_track({key: state})


def _tracking(handler: ConversationHandler) -> TrackingDict[tuple[int | str, ...], object]:
    # PTB annotates the private _conversations as a plain mapping; a persistent handler's is the
    # TrackingDict it persists from.
    return cast("TrackingDict[tuple[int | str, ...], object]", handler._conversations)  # noqa: SLF001


def _name(handler: ConversationHandler) -> str:
    assert handler.name  # persistent_conversations keeps only named handlers
    return handler.name


def persistent_conversations(app: Application) -> list[ConversationHandler]:
    return [
        h for hs in app.handlers.values() for h in hs if isinstance(h, ConversationHandler) and h.persistent and h.name
    ]


async def restore_timeouts(app: Application) -> int:
    """Give each dialog restored from the database (a restart, a fail-over) its timeout again,
    counted from its last step, so a half-finished /new still ends politely; how many."""
    persistence = app.persistence
    if not isinstance(persistence, DbPersistence) or app.job_queue is None:
        return 0
    waiting = [
        (handler, key, state)
        for handler in persistent_conversations(app)
        if hasattr(handler, "schedule_timeout") and handler.conversation_timeout
        for key, state in list(_tracking(handler).items())
        if state is not None and key not in handler.timeout_jobs and len(key) == 2  # (chat, user)
    ]
    if not waiting:
        return 0
    last = await persistence.last_steps([(_name(h), key) for h, key, _ in waiting])
    now = persistence.db.now()
    for handler, key, state in waiting:
        since = last.get((_name(handler), key), now)
        timeout = handler.conversation_timeout  # a TimedConversation's is seconds
        seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout or 0)
        left = max(0.0, seconds - (now - since).total_seconds())
        update = _update_for(key, now)
        context = app.context_types.context.from_update(update, app)
        handler.schedule_timeout(app, update, context, key, state, left)
    log.info("event=dialog_timeouts_restored count=%d", len(waiting))
    return len(waiting)


def _update_for(key: tuple, now: datetime) -> Update:
    """An update standing for the dialog's last step: what its timeout handlers read (the chat,
    the person); PTB passes the real last update when it scheduled the timeout itself."""
    chat_id, user_id = key
    message = Message(
        message_id=0,
        date=now,
        chat=Chat(id=int(chat_id), type=Chat.PRIVATE),
        from_user=User(id=int(user_id), first_name="", is_bot=False),
    )
    return Update(update_id=0, message=message)


def forget_timeouts(app: Application) -> int:
    """Drop this process's dialog timeout jobs (it no longer handles updates: another instance does)."""
    dropped = 0
    for handler in persistent_conversations(app):
        for job in list(handler.timeout_jobs.values()):
            job.schedule_removal()
            dropped += 1
        handler.timeout_jobs.clear()
    return dropped


class _DialogState(LoggedApplication):
    """Refreshes the dialog state before an update (``shared``) and writes it through after."""

    async def process_update(self, update: object) -> None:
        persistence = self.persistence
        if not isinstance(persistence, DbPersistence):
            await super().process_update(update)
            return
        if persistence.shared and isinstance(update, Update):
            await persistence.refresh_for(self, update)
        try:
            await super().process_update(update)
        except Exception:
            await self._write_through(persistence)
            raise
        await self._write_through(persistence)  # not when cancelled: the state stays as it was

    async def _write_through(self, persistence: DbPersistence) -> None:
        """What the update changed, written now: what ``update_persistence`` would hand over (the
        chats PTB marked, the dialog states written), without its deep copy of every chat's data
        and its task per row, which cost a /help more than the rest of the bot's own work."""
        chats, self._chat_ids_to_be_updated_in_persistence = self._chat_ids_to_be_updated_in_persistence, set()
        dropped, self._chat_ids_to_be_deleted_in_persistence = self._chat_ids_to_be_deleted_in_persistence, set()
        self._user_ids_to_be_updated_in_persistence.clear()  # not kept (DbPersistence), so never handed over
        for chat_id in chats - dropped:
            persistence.note_chat_data(chat_id, self._chat_data.get(chat_id))
        for chat_id in dropped:
            persistence.note_chat_data(chat_id, None)
        unresolved = False
        for name, states in self._conversation_handler_conversations.items():
            for key, state in states.pop_accessed_write_items():
                if isinstance(state, PendingState):  # a non-blocking step still running: PTB's run waits
                    states.mark_as_accessed(key)
                    unresolved = True
                    continue
                await persistence.update_conversation(name, key, None if state is TrackingDict.DELETED else state)
        if unresolved:
            await self.update_persistence()
        else:
            await persistence.write_pending()

    async def update_persistence(self) -> None:
        await super().update_persistence()
        if isinstance(self.persistence, DbPersistence):
            await self.persistence.write_pending()


class DialogStateApplication(InboxApplication, _DialogState):
    """The bot's Application: the update is marked handled (inbox) after its state is written."""
