"""What people do, as a mixin of `Emulator` (see core.py): write, upload, tap, join, block.

Each action stores the message as Telegram would and queues the Update the bot would get.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, cast

from .driver import Group, Person
from .host import EmulatorHost
from .markup import detect_entities
from .state import ChatState

if TYPE_CHECKING:
    from .core import Emulator


class UserSide(EmulatorHost):
    """Mixin: the human side of the Emulator."""

    def add_user(
        self,
        first_name: str,
        *,
        user_id: int | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "zh-hans",
        started: bool = True,
    ) -> dict:
        """Create a user and their private chat. started=False: the user never wrote to the bot,
        so the bot cannot message them yet (403), as in Telegram."""
        user_id = user_id if user_id is not None else next(self._user_ids)
        if user_id in self.users:
            raise ValueError(f"user {user_id} exists already")
        user = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self.users[user_id] = user
        self.chats[user_id] = ChatState(id=user_id, type="private", user=user, username=username, members={user_id})
        if started:
            self.started.add(user_id)
        return user

    def add_group(
        self,
        title: str,
        members: list[int] | tuple = (),
        *,
        supergroup: bool = True,
        admins: list[int] | tuple = (),
        bot_member: bool = True,
        bot_admin: bool = False,
        username: str | None = None,
        chat_id: int | None = None,
    ) -> dict:
        """Create a group the bot is already in (no service updates are sent for the setup)."""
        n = next(self._group_ids)
        chat_id = chat_id if chat_id is not None else (-1001000000000 - n if supergroup else -4000000000 - n)
        chat = ChatState(
            id=chat_id,
            type="supergroup" if supergroup else "group",
            title=title,
            username=username,
            members=set(members) | set(admins),
            admins=set(admins),
            bot_member=bot_member,
        )
        if bot_admin:
            chat.admins.add(self.bot_id)
        self.chats[chat_id] = chat
        return chat.json()

    def _user(self, user_id: int) -> dict:
        if user_id not in self.users:
            raise KeyError(f"no user {user_id}")
        return self.users[user_id]

    def _user_chat(self, user_id: int, chat_id: int | None) -> ChatState:
        user = self._user(user_id)
        chat = self.chats.get(user_id if chat_id is None else chat_id)
        if chat is None:
            raise KeyError(f"no chat {chat_id}")
        if chat.type == "private":
            if user_id in self.blocked:
                raise RuntimeError(f"{user['first_name']} has blocked the bot; unblock first")
        elif user_id not in chat.members:
            raise RuntimeError(f"{user['first_name']} is not a member of {chat.title!r}")
        return chat

    def _bot_sees(self, chat: ChatState, msg: dict) -> bool:
        """Privacy mode: in groups a bot gets commands, mentions, replies and service messages."""
        if chat.type == "private":
            return True
        if not chat.bot_member:
            return False
        if not self.group_privacy or self.bot_id in chat.admins:
            return True
        if "new_chat_members" in msg or "left_chat_member" in msg:
            return True
        text = msg.get("text") or msg.get("caption") or ""
        username = self.bot_user["username"].lower()
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            return "@" not in command or command.split("@", 1)[1].lower() == username
        if f"@{username}" in text.lower():
            return True
        replied = msg.get("reply_to_message")
        return bool(replied and replied["from"]["id"] == self.bot_id)

    async def user_sends(
        self,
        user_id: int,
        text: str | None = None,
        *,
        chat_id: int | None = None,
        reply_to: int | None = None,
        photo: bytes | None = None,
        document: bytes | None = None,
        filename: str | None = None,
        mime_type: str | None = None,
        caption: str | None = None,
    ) -> dict:
        """A user sends text, a photo or a document (optionally as a reply); returns the Message.
        With a photo or document, `caption` (or else `text`) becomes the caption."""
        chat = self._user_chat(user_id, chat_id)
        content: dict = {}
        if photo is not None:
            content["photo"] = self.files.add_photo(photo)
        elif document is not None:
            content["document"] = self.files.add_document(document, filename or "file", mime_type)
        body = (caption if caption is not None else text) if content else text
        # Clients trim ASCII white space before sending; other blanks (U+3000 ideographic space) go through.
        if not content and not (text or "").strip(" \t\n\r"):
            raise ValueError("a user cannot send an empty message")
        if body:
            key = "caption" if content else "text"
            content[key] = body
            entities = detect_entities(body)
            if entities:
                content["caption_entities" if content.get("caption") else "entities"] = entities
        target = None
        if reply_to is not None:
            if reply_to not in chat.messages:
                raise KeyError(f"no message {reply_to} in chat {chat.id} to reply to")
            target = {k: v for k, v in chat.messages[reply_to].items() if k != "reply_to_message"}
        if chat.type == "private":
            self.started.add(user_id)
        msg = self._store(chat, self._user(user_id), content, reply_to=target)
        if self._bot_sees(chat, msg):
            self._enqueue("message", msg)
        return msg

    async def user_edits(self, user_id: int, message_id: int, text: str, *, chat_id: int | None = None) -> dict:
        """A user edits the text (or the caption) of a message they sent. As in Telegram, the
        bot then gets an ``edited_message`` update: the new version of the whole message, with
        ``edit_date``. Returns that Message."""
        chat = self._user_chat(user_id, chat_id)
        msg = chat.messages.get(message_id)
        if msg is None:
            raise KeyError(f"no message {message_id} in chat {chat.id} to edit")
        if msg["from"]["id"] != user_id:
            raise ValueError("a user can edit only their own messages")
        key = "text" if "text" in msg else "caption"
        if key == "caption" and not any(k in msg for k in ("photo", "document", "video", "audio")):
            raise ValueError(f"message {message_id} has no text or caption to edit")
        if key == "text" and not text.strip():
            raise ValueError("a message text cannot be empty")
        entities_key = "entities" if key == "text" else "caption_entities"
        msg.pop(entities_key, None)
        msg.pop(key, None)
        if text:
            msg[key] = text
            entities = detect_entities(text)
            if entities:
                msg[entities_key] = entities
        msg["edit_date"] = self._now()
        self._emit("edit", chat.id, msg)
        if self._bot_sees(chat, msg):
            self._enqueue("edited_message", msg)
        return msg

    async def press_button(
        self, user_id: int, chat_id: int, message_id: int, data: str, *, forged: bool = False
    ) -> dict:
        """A user taps an inline button with this callback_data; returns the CallbackQuery.
        forged=True skips every check: arbitrary data, any message id (security tests)."""
        user = self._user(user_id)
        chat = self.chats[chat_id]
        msg = chat.messages.get(message_id)
        if not forged:
            self._user_chat(user_id, chat_id)
            if msg is None:
                raise KeyError(f"no message {message_id} in chat {chat_id}")
            datas = [
                b.get("callback_data") for row in msg.get("reply_markup", {}).get("inline_keyboard", []) for b in row
            ]
            if data not in datas:
                raise ValueError(f"message {message_id} has no button with callback_data {data!r}; it has {datas}")
        query: dict[str, Any] = {
            "id": str(next(self._query_ids)),
            "from": dict(user),
            "message": copy.deepcopy(msg) if msg else {"chat": chat.json(), "message_id": message_id, "date": 0},
            "chat_instance": str((chat_id * 7919 + self.bot_id) % (2**63)),
            "data": data,
        }
        self.callback_queries[query["id"]] = query
        self._emit("callback_query", chat_id, query)
        self._enqueue("callback_query", query)
        return query

    async def user_joins(self, user_id: int, chat_id: int) -> dict:
        user, chat = self._user(user_id), self.chats[chat_id]
        chat.members.add(user_id)
        msg = self._store(chat, user, {"new_chat_members": [dict(user)]})
        if self._bot_sees(chat, msg):
            self._enqueue("message", msg)
        return msg

    async def user_leaves(self, user_id: int, chat_id: int) -> dict:
        user, chat = self._user(user_id), self.chats[chat_id]
        chat.members.discard(user_id)
        chat.admins.discard(user_id)
        msg = self._store(chat, user, {"left_chat_member": dict(user)})
        if self._bot_sees(chat, msg):
            self._enqueue("message", msg)
        return msg

    async def user_blocks(self, user_id: int) -> None:
        """The user blocks the bot: sends to them get 403; the bot gets my_chat_member."""
        self.blocked.add(user_id)
        self._my_chat_member(user_id, {"status": "member"}, {"status": "kicked", "until_date": 0})

    async def user_unblocks(self, user_id: int) -> None:
        self.blocked.discard(user_id)
        self._my_chat_member(user_id, {"status": "kicked", "until_date": 0}, {"status": "member"})

    def _my_chat_member(self, user_id: int, old: dict, new: dict) -> None:
        user = self._user(user_id)
        self._enqueue(
            "my_chat_member",
            {
                "chat": self.chats[user_id].json(),
                "from": dict(user),
                "date": self._now(),
                "old_chat_member": {**old, "user": dict(self.bot_user)},
                "new_chat_member": {**new, "user": dict(self.bot_user)},
            },
        )

    def user_pause(self) -> None:
        """Human think time between actions: advances an injected FakeClock (see limits.py)."""
        advance = getattr(self.clock, "advance", None)
        if advance is not None and self.think_time:
            advance(self.think_time)

    def _emulator(self) -> Emulator:
        """This mixin is only ever part of core.Emulator, whose whole API the test drivers use."""
        return cast("Emulator", self)

    def person(self, name: str = "用户", *, user_id: int | None = None, **kwargs: Any) -> Person:
        """A conversational test user (see driver.py)."""
        return Person(self._emulator(), self.add_user(name, user_id=user_id, **kwargs))

    def group(
        self, title: str, members: list[Person] | tuple = (), *, admins: list[Person] | tuple = (), **kwargs: Any
    ) -> Group:
        chat = self.add_group(title, [m.id for m in members], admins=[a.id for a in admins], **kwargs)
        return Group(self._emulator(), chat["id"])
