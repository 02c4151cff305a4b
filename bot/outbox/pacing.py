"""One budget for everything the bot sends, so Telegram never has to say 429.

Telegram documents about 30 messages/second overall and about 1/second in one chat. ``Pacing``
holds that budget as token buckets on the monotonic clock; the outbox sender (``bot.outbox.sender``)
and the direct replies of handlers (through ``SharedLimiter``, PTB's rate limiter hook) draw
from the same buckets, so there is no second limiter fighting the sender's own pacing.

Direct replies come first: they take an overall token whenever one is there, while the sender
leaves ``reserve`` tokens for them. A chat that got a 429 waits alone (``hold``); every other
chat goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, SupportsIndex, SupportsInt

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger("duban.pacing")

# ``rate_limit_args`` of the sender's own calls: they are paced already and handle their own 429.
OUTBOX_CALL = "outbox"


def puts_message(endpoint: str) -> bool:
    """Calls that put a new message into a chat: the ones Telegram's flood limits count."""
    return (endpoint.startswith("send") and endpoint != "sendChatAction") or endpoint in (
        "copyMessage",
        "forwardMessage",
        "copyMessages",
        "forwardMessages",
    )


def retry_seconds(exc: RetryAfter) -> float:
    value = exc.retry_after
    return float(value) if isinstance(value, (int, float)) else value.total_seconds()


@dataclass
class Pacing:
    """The budget: ``overall_per_second`` for the bot, one message per ``per_chat_interval`` +
    ``chat_margin`` seconds in a chat (bursts of ``per_chat_burst``).

    The margins are safety, not slack: 29/s under Telegram's 30, and 1.05 s between two messages
    to one chat, so timer jitter and a reply slipped in between cannot add up to a 429.
    """

    overall_per_second: float = 29.0
    per_chat_interval: float = 1.0
    per_chat_burst: int = 1
    chat_margin: float = 0.05
    reserve: float = 2.0  # overall tokens the sender leaves for direct replies
    slack: float = 1.0  # one more token of room, so a late wake-up is made up, not lost
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # tests pass a fake clock's pair
    _tokens: float | None = None
    _stamp: float = 0.0
    _chats: dict[int, tuple[float, float]] = field(default_factory=dict)  # chat -> (tokens, stamp)
    _held: dict[int, float] = field(default_factory=dict)  # chat -> free again at (429)

    @property
    def capacity(self) -> float:
        return 1.0 + self.reserve + self.slack

    def _overall(self, now: float) -> float:
        if self._tokens is None:
            self._tokens, self._stamp = self.capacity, now
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.overall_per_second)
        self._stamp = now
        return self._tokens

    def _chat(self, chat_id: int, now: float) -> float:
        interval = self.per_chat_interval + self.chat_margin
        tokens, stamp = self._chats.get(chat_id, (float(self.per_chat_burst), now))
        tokens = min(float(self.per_chat_burst), tokens + (now - stamp) / interval)
        self._chats[chat_id] = (tokens, now)
        return tokens

    def outbox_wait(self, now: float | None = None) -> float:
        """Seconds until the sender may take an overall slot (it leaves ``reserve`` for replies)."""
        now = self.clock() if now is None else now
        missing = 1.0 + self.reserve - self._overall(now)
        return max(0.0, missing / self.overall_per_second)

    def direct_wait(self, now: float | None = None) -> float:
        """Seconds until a direct reply may go: as soon as one overall token is there."""
        now = self.clock() if now is None else now
        missing = 1.0 - self._overall(now)
        return max(0.0, missing / self.overall_per_second)

    def chat_wait(self, chat_id: int, now: float | None = None) -> float:
        """Seconds until ``chat_id`` may get the next message (0: now)."""
        now = self.clock() if now is None else now
        held = max(0.0, self._held.get(chat_id, now) - now)
        missing = 1.0 - self._chat(chat_id, now)
        wait = max(held, missing * (self.per_chat_interval + self.chat_margin))
        return wait if wait > 1e-6 else 0.0  # float dust is not a wait

    def cooling(self, now: float | None = None) -> set[int]:
        """Chats that must wait for their slot now; forgets chats whose bucket is full again."""
        now = self.clock() if now is None else now
        busy = set()
        for chat_id in list(self._chats):
            if self.chat_wait(chat_id, now) > 0:
                busy.add(chat_id)
            elif self._chats[chat_id][0] >= self.per_chat_burst:
                del self._chats[chat_id]
                self._held.pop(chat_id, None)
        return busy | {c for c, until in self._held.items() if until > now}

    def take(self, chat_id: int | None, now: float | None = None) -> None:
        """Spend one overall token and one of the chat's. A reply may overdraw (it never waits per
        chat), by one message at most: a quick dialog of a dozen answers must not leave a debt that
        holds the chat's next notice back for ten seconds. Telegram's own word on the chat (a 429's
        retry_after) is kept apart, in ``hold``."""
        now = self.clock() if now is None else now
        self._tokens = self._overall(now) - 1.0
        if chat_id is not None:
            self._chats[chat_id] = (max(-1.0, self._chat(chat_id, now) - 1.0), now)

    def hold(self, chat_id: int, seconds: float, now: float | None = None) -> None:
        """Telegram said 429 for this chat: only this chat waits ``seconds``."""
        now = self.clock() if now is None else now
        self._held[chat_id] = max(self._held.get(chat_id, now), now + seconds)
        self._chat(chat_id, now)  # keep it known, so ``cooling`` sees the hold


class SharedLimiter(BaseRateLimiter[str]):
    """PTB's rate limiter hook over ``Pacing``: direct replies take their budget first, the
    sender's calls (``rate_limit_args=OUTBOX_CALL``) pass through, and a 429 on a reply makes
    that one call (and its chat) wait and try again, never the whole bot."""

    def __init__(self, pacing: Pacing | None = None, max_retries: int = 2) -> None:
        self.pacing = pacing or Pacing()
        self.max_retries = max_retries

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: str | None,
    ) -> Any:
        if rate_limit_args == OUTBOX_CALL:
            return await callback(*args, **kwargs)
        chat_id = _chat_id(data.get("chat_id"))
        counted = chat_id is not None and puts_message(endpoint)
        for attempt in range(self.max_retries + 1):
            if counted:
                while (wait := self.pacing.direct_wait()) > 0:
                    await self.pacing.sleep(wait)
                self.pacing.take(chat_id)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                seconds = retry_seconds(exc)
                if chat_id is not None:
                    self.pacing.hold(chat_id, seconds)
                if attempt >= self.max_retries:
                    raise
                log.info("event=reply_rate_limited endpoint=%s chat=%s retry_after=%s", endpoint, chat_id, seconds)
                await self.pacing.sleep(seconds)
        raise AssertionError("unreachable")  # the loop returns or raises


def _chat_id(value: object) -> int | None:
    if type(value) is int:
        return value  # nearly every call; the Protocol checks below cost more than the send's own work
    if value is None:
        return None  # a call with no chat (answerCallbackQuery): every tap has one
    if not isinstance(value, (str, bytes, bytearray, SupportsInt, SupportsIndex)):
        return None  # what int() would refuse with a TypeError: no chat at all
    try:
        return int(value)
    except ValueError:
        return None  # a channel's @username, or no chat at all
