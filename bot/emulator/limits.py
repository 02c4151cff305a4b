"""Flood control modelled on Telegram's documented limits, measured with an injected clock.

Telegram's FAQ: about 30 messages/second overall, 1 message/second in one chat (short bursts
tolerated), 20 messages/minute in one group. Each limit is a token bucket: it refills at the
documented rate and holds at most `burst` tokens. The per-chat bucket holds 3 by default, so a
bot answering with two or three quick messages passes while a sustained 2/s to one chat gets 429.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FloodLimits", "FloodControl", "FakeClock"]


@dataclass(frozen=True)
class FloodLimits:
    overall_per_second: float = 30.0
    per_chat_per_second: float = 1.0
    per_chat_burst: int = 3
    group_per_minute: float = 20.0


class FakeClock:
    """A clock tests move by hand: `clock.advance(1.5)`. Use for `clock=` (and `wallclock=`)."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class _Bucket:
    __slots__ = ("rate", "capacity", "tokens", "stamp")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate, self.capacity, self.tokens, self.stamp = rate, capacity, capacity, now

    def wait(self, now: float) -> float:
        """Seconds until one token is available (0 if one is available now)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class FloodControl:
    def __init__(self, limits: FloodLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self.clock = clock
        self._overall: _Bucket | None = None
        self._chats: dict[int, _Bucket] = {}
        self._groups: dict[int, _Bucket] = {}

    def acquire(self, chat_id: int, is_group: bool) -> int:
        """Take one message slot for chat_id; return 0, or retry_after (whole seconds) if over."""
        now = self.clock()
        lim = self.limits
        if self._overall is None:
            self._overall = _Bucket(lim.overall_per_second, lim.overall_per_second, now)
        buckets = [self._overall]
        buckets.append(self._chats.setdefault(chat_id, _Bucket(lim.per_chat_per_second, lim.per_chat_burst, now)))
        if is_group:
            buckets.append(
                self._groups.setdefault(chat_id, _Bucket(lim.group_per_minute / 60.0, lim.group_per_minute, now))
            )
        wait = max(b.wait(now) for b in buckets)
        if wait > 0:
            return max(1, math.ceil(wait))  # Telegram's retry_after is a whole number >= 1
        for b in buckets:
            b.tokens -= 1
        return 0
