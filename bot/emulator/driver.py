"""Conversation-style test driver over the emulator, so e2e tests read like a chat:

    alice = emu.person("张三")
    await alice.send("/start")
    await alice.tap("签收")
    assert "已签收" in alice.last.text

Every action waits for `emu.settle()`, i.e. until the bot has finished reacting.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:  # core imports this module; only type names are needed here
    from .core import Emulator

__all__ = ["BotMessage", "Person", "Group"]

ChatRef = Union["Group", int, None]


class BotMessage:
    """A live view of one message: later edits show through; `.deleted` once it is gone."""

    def __init__(self, emu: Emulator, chat_id: int, message_id: int) -> None:
        self._emu, self.chat_id, self.message_id = emu, chat_id, message_id
        self._last = emu.chats[chat_id].messages[message_id]

    @property
    def raw(self) -> dict:
        """The Message JSON as Telegram holds it now (the last version if deleted)."""
        current = self._emu.chats[self.chat_id].messages.get(self.message_id)
        if current is not None:
            self._last = current
        return self._last

    @property
    def deleted(self) -> bool:
        return self.message_id not in self._emu.chats[self.chat_id].messages

    @property
    def text(self) -> str | None:
        """Plain text (entities stripped), or the caption of a photo/document."""
        return self.raw.get("text", self.raw.get("caption"))

    @property
    def html(self) -> str | None:
        """The raw HTML the bot sent (parse_mode=HTML), else the plain text."""
        return self._emu.chats[self.chat_id].html.get(self.message_id, self.text)

    @property
    def entities(self) -> list[dict]:
        return self.raw.get("entities", self.raw.get("caption_entities", []))

    @property
    def reply_markup(self) -> dict | None:
        return self.raw.get("reply_markup")

    @property
    def button_rows(self) -> list[list[str]]:
        return [[b["text"] for b in row] for row in (self.reply_markup or {}).get("inline_keyboard", [])]

    @property
    def buttons(self) -> list[str]:
        """Labels of the inline buttons, row by row."""
        return [label for row in self.button_rows for label in row]

    def button(self, label: str) -> dict | None:
        for row in (self.reply_markup or {}).get("inline_keyboard", []):
            for button in row:
                if button["text"] == label:
                    return button
        return None

    @property
    def photo(self) -> list[dict] | None:
        return self.raw.get("photo")

    @property
    def document(self) -> dict | None:
        return self.raw.get("document")

    @property
    def reply_to(self) -> int | None:
        replied = self.raw.get("reply_to_message")
        return replied["message_id"] if replied else None

    @property
    def edited(self) -> bool:
        return "edit_date" in self.raw

    @property
    def from_bot(self) -> bool:
        return self.raw["from"]["id"] == self._emu.bot_id

    def __repr__(self) -> str:
        text = (self.text or "")[:40]
        extra = f" buttons={self.buttons}" if self.buttons else ""
        return f"<message #{self.message_id} in {self.chat_id}: {text!r}{extra}>"


class _Chatty:
    """What people and groups share: reading the bot's messages in a chat."""

    _emu: Emulator

    def _bot_messages(self, chat_id: int) -> list[BotMessage]:
        chat = self._emu.chats[chat_id]
        return [
            BotMessage(self._emu, chat_id, mid)
            for mid, msg in chat.messages.items()
            if msg["from"]["id"] == self._emu.bot_id
        ]


class Person(_Chatty):
    def __init__(self, emu: Emulator, user: dict) -> None:
        self._emu = emu
        self.user = user
        self.id: int = user["id"]
        self.name: str = user["first_name"]

    def __repr__(self) -> str:
        return f"<Person {self.name} #{self.id}>"

    @staticmethod
    def _chat_id(chat: ChatRef, default: int) -> int:
        if chat is None:
            return default
        return chat if isinstance(chat, int) else chat.id

    async def _act(self, coro_factory: Callable[[], Awaitable[Any]]) -> Any:
        """Human pause (moves a FakeClock), the action, then wait for the bot to finish."""
        self._emu.user_pause()
        result = await coro_factory()
        await self._emu.settle()
        return result

    def _view(self, msg: dict) -> BotMessage:
        return BotMessage(self._emu, msg["chat"]["id"], msg["message_id"])

    # --- actions --------------------------------------------------------------------------
    async def send(self, text: str, *, chat: ChatRef = None, reply_to: BotMessage | None = None) -> BotMessage:
        """Send text (commands included); returns the user's own message."""
        chat_id = self._chat_id(chat, reply_to.chat_id if reply_to else self.id)
        msg = await self._act(
            lambda: self._emu.user_sends(
                self.id, text, chat_id=chat_id, reply_to=reply_to.message_id if reply_to else None
            )
        )
        return self._view(msg)

    async def reply(self, message: BotMessage, text: str) -> BotMessage:
        return await self.send(text, reply_to=message)

    async def send_photo(
        self, data: bytes, caption: str | None = None, *, chat: ChatRef = None, reply_to: BotMessage | None = None
    ) -> BotMessage:
        chat_id = self._chat_id(chat, reply_to.chat_id if reply_to else self.id)
        msg = await self._act(
            lambda: self._emu.user_sends(
                self.id,
                chat_id=chat_id,
                photo=data,
                caption=caption,
                reply_to=reply_to.message_id if reply_to else None,
            )
        )
        return self._view(msg)

    async def send_document(
        self,
        data: bytes,
        filename: str = "文件.bin",
        mime_type: str | None = None,
        caption: str | None = None,
        *,
        chat: ChatRef = None,
        reply_to: BotMessage | None = None,
    ) -> BotMessage:
        chat_id = self._chat_id(chat, reply_to.chat_id if reply_to else self.id)
        msg = await self._act(
            lambda: self._emu.user_sends(
                self.id,
                chat_id=chat_id,
                document=data,
                filename=filename,
                mime_type=mime_type,
                caption=caption,
                reply_to=reply_to.message_id if reply_to else None,
            )
        )
        return self._view(msg)

    async def edit(self, message: BotMessage, text: str) -> BotMessage:
        """Edit the text or caption of one of this person's own messages (an edited_message update)."""
        await self._act(lambda: self._emu.user_edits(self.id, message.message_id, text, chat_id=message.chat_id))
        return message

    async def tap(self, label: str, message: BotMessage | None = None, *, chat: ChatRef = None) -> dict:
        """Tap the button with this label on `message`, or on the newest bot message having it."""
        chat_id = message.chat_id if message is not None else self._chat_id(chat, self.id)
        candidates = [message] if message is not None else self._bot_messages(chat_id)[::-1]
        for msg in candidates:
            button = msg.button(label)
            if button is None:
                continue
            if "callback_data" not in button:
                raise ValueError(f"{self.name}: button {label!r} on {msg!r} is not a callback button: {button}")
            return await self._act(
                functools.partial(self._emu.press_button, self.id, chat_id, msg.message_id, button["callback_data"])
            )
        shown = "; ".join(
            f"#{m.message_id} {(m.text or '')[:30]!r}: {m.buttons}" for m in candidates if m.buttons and not m.deleted
        )
        where = f"on {message!r}" if message is not None else f"in chat {chat_id}"
        raise LookupError(f"{self.name}: no button {label!r} {where}. Buttons there: {shown or 'none at all'}")

    async def forge_tap(self, data: str, message: BotMessage | int | None = None, *, chat: ChatRef = None) -> dict:
        """A crafted callback_query with arbitrary data (what a malicious client can send)."""
        if isinstance(message, BotMessage):
            chat_id, message_id = message.chat_id, message.message_id
        else:
            chat_id = self._chat_id(chat, self.id)
            last = self._bot_messages(chat_id)
            message_id = message if message is not None else (last[-1].message_id if last else 1)
        return await self._act(lambda: self._emu.press_button(self.id, chat_id, message_id, data, forged=True))

    async def join(self, group: Group) -> None:
        await self._act(lambda: self._emu.user_joins(self.id, group.id))

    async def leave(self, group: Group) -> None:
        await self._act(lambda: self._emu.user_leaves(self.id, group.id))

    async def block(self) -> None:
        await self._act(lambda: self._emu.user_blocks(self.id))

    async def unblock(self) -> None:
        await self._act(lambda: self._emu.user_unblocks(self.id))

    async def download(self, message: BotMessage) -> bytes:
        """Bytes of the document or the largest photo size in a message."""
        media = message.document or (message.photo[-1] if message.photo else None)
        if media is None:
            raise ValueError(f"{message!r} has no photo or document")
        stored = self._emu.files.get(media["file_id"])
        if stored is None:
            raise ValueError(f"{message!r}: file {media['file_id']} is not stored")
        return stored.data

    # --- what the person sees -------------------------------------------------------------
    @property
    def inbox(self) -> list[BotMessage]:
        """Bot messages in this person's private chat, oldest first (deleted ones are gone)."""
        return self._bot_messages(self.id)

    @property
    def last(self) -> BotMessage:
        inbox = self.inbox
        if not inbox:
            raise LookupError(f"{self.name} has no message from the bot")
        return inbox[-1]

    def newest(self, text: str) -> BotMessage:
        """The newest bot message in this person's chat that contains ``text``."""
        for message in reversed(self.inbox):
            if text in (message.text or ""):
                return message
        raise LookupError(f"{self.name} has no message containing {text!r}")

    @property
    def answers(self) -> list[dict]:
        """answerCallbackQuery answers to this person's taps, oldest first."""
        return [a for a in self._emu.callback_answers.values() if a["user_id"] == self.id]

    @property
    def last_answer(self) -> str | None:
        """Text of the last callback answer shown to this person (None: answered silently)."""
        answers = self.answers
        if not answers:
            raise LookupError(f"no callback query of {self.name} was answered")
        return answers[-1]["text"]

    @property
    def commands(self) -> dict[str, str]:
        """Command menu of this person's private chat: {command: description}."""
        return self.commands_in(None)

    def commands_in(self, chat: ChatRef) -> dict[str, str]:
        chat_id = self._chat_id(chat, self.id)
        return {c["command"]: c["description"] for c in self._emu.effective_commands(chat_id, self.id)}

    @property
    def blocked(self) -> bool:
        return self.id in self._emu.blocked


class Group(_Chatty):
    def __init__(self, emu: Emulator, chat_id: int) -> None:
        self._emu = emu
        self.id = chat_id

    @property
    def title(self) -> str | None:
        return self._emu.chats[self.id].title

    def __repr__(self) -> str:
        return f"<Group {self.title} #{self.id}>"

    @property
    def messages(self) -> list[BotMessage]:
        """Bot messages in the group, oldest first."""
        return self._bot_messages(self.id)

    @property
    def last(self) -> BotMessage:
        messages = self.messages
        if not messages:
            raise LookupError(f"no message from the bot in {self.title}")
        return messages[-1]
