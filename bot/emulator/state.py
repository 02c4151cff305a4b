"""Plain data the emulator keeps and answers with: errors, replies, events, stats, chats."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, overload

__all__ = ["ApiError", "Reply", "Event", "CallRecord", "Stats", "ChatState", "Params"]


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


@dataclass
class Reply:
    status: int
    body: dict
    timed_out: bool = False  # transport must time out instead of answering (fault injection)
    hang: float = 0.0  # HTTP transport: seconds to keep the connection silent when timed_out

    @property
    def ok(self) -> bool:
        return self.status == 200

    def payload(self) -> bytes:
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


@dataclass
class Event:
    kind: str  # message | edit | delete | callback_query | callback_answer | commands | call
    chat_id: int | None
    data: dict


@dataclass
class CallRecord:
    method: str
    params: dict
    status: int
    description: str | None = None


@dataclass
class Stats:
    calls: Counter = field(default_factory=Counter)  # per method, every request
    errors: Counter = field(default_factory=Counter)  # per HTTP status
    rate_limited: int = 0  # 429 answers served, flood control and injected
    faults: int = 0  # injected faults served
    messages_delivered: int = 0  # bot messages that reached a chat
    updates: int = 0  # updates queued for the bot
    webhook_failures: int = 0

    def summary(self) -> str:
        return (
            f"calls={sum(self.calls.values())} delivered={self.messages_delivered} "
            f"429s={self.rate_limited} faults={self.faults} errors={dict(self.errors)}"
        )


@dataclass
class ChatState:
    id: int
    type: str  # private | group | supergroup
    title: str | None = None
    username: str | None = None
    user: dict | None = None  # the other party of a private chat
    members: set[int] = field(default_factory=set)
    admins: set[int] = field(default_factory=set)
    bot_member: bool = True
    messages: dict[int, dict] = field(default_factory=dict)  # message_id -> Message JSON
    html: dict[int, str] = field(default_factory=dict)  # raw HTML the bot sent, by message_id
    next_message_id: int = 1
    reply_keyboard: dict | None = None  # last ReplyKeyboardMarkup (not part of Message JSON)
    menu_button: dict | None = None

    def json(self) -> dict:
        """The Chat object embedded in messages."""
        if self.type == "private":
            user = self.user
            if user is None:  # every private chat is made with its user (users.add_user)
                raise ValueError(f"private chat {self.id} has no user")
            out = {"id": self.id, "first_name": user["first_name"]}
            for key in ("last_name", "username"):
                if key in user:
                    out[key] = user[key]
        else:
            out = {"id": self.id, "title": self.title}
            if self.username:
                out["username"] = self.username
        out["type"] = self.type
        return out


class Params(dict):
    """Request parameters with lenient typed access (values may still be strings without a spec)."""

    @overload
    def get_int(self, key: str, default: int) -> int: ...
    @overload
    def get_int(self, key: str, default: None = None) -> int | None: ...
    def get_int(self, key: str, default: int | None = None) -> int | None:
        value = self.get(key)
        if value is None:
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ApiError(400, f"Bad Request: invalid {key} specified") from None

    @overload
    def get_str(self, key: str, default: str) -> str: ...
    @overload
    def get_str(self, key: str, default: None = None) -> str | None: ...
    def get_str(self, key: str, default: str | None = None) -> str | None:
        value = self.get(key)
        return default if value is None else str(value)

    def get_bool(self, key: str) -> bool:
        value = self.get(key)
        return value is True or (isinstance(value, str) and value.lower() == "true")

    def get_json(self, key: str, default: Any = None) -> Any:
        value = self.get(key)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ApiError(400, f"Bad Request: can't parse {key} JSON object") from None
        return default if value is None else value
