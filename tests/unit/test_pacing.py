"""The shared sending budget (bot.outbox.pacing): per-chat slots with a margin, the overall rate, replies
first, and a 429 that holds only its own chat. Time is a fake monotonic clock."""

from __future__ import annotations

import asyncio

import pytest
from telegram.error import RetryAfter

from bot.emulator.limits import FakeClock
from bot.outbox.pacing import OUTBOX_CALL, Pacing, SharedLimiter, puts_message


def paced(**kw) -> tuple[Pacing, FakeClock]:
    clock = FakeClock()

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    return Pacing(clock=clock, sleep=sleep, **kw), clock


def test_a_chat_gets_one_message_per_slot_plus_the_margin():
    p, clock = paced()
    assert p.chat_wait(1) == 0
    p.take(1)
    assert p.chat_wait(1) == pytest.approx(1.0 + p.chat_margin)
    assert p.chat_wait(2) == 0  # another chat is not held up
    assert p.cooling() == {1}
    clock.advance(1.0)
    assert 0 < p.chat_wait(1) <= p.chat_margin + 1e-9  # exactly one second is not yet enough
    clock.advance(p.chat_margin)
    assert p.chat_wait(1) == pytest.approx(0, abs=1e-9) and p.cooling() == set()


def test_the_sender_keeps_under_the_overall_rate_and_leaves_a_reserve_for_replies():
    p, clock = paced()
    sent = 0
    start = clock()
    while clock() - start < 10:
        wait = p.outbox_wait()
        if wait:
            clock.advance(wait)
        p.take(sent)  # distinct chats
        sent += 1
        assert p.direct_wait() == 0  # a reply never waits behind the broadcast
    assert sent <= 10 * p.overall_per_second + p.capacity
    assert sent >= 10 * p.overall_per_second - 1


def test_replies_slow_the_broadcast_not_the_other_way_round():
    p, clock = paced()
    for chat in range(3):  # three quick replies
        assert p.direct_wait() == 0
        p.take(chat)
    assert p.outbox_wait() > 0  # the sender waits for them


def test_a_429_holds_only_its_chat():
    p, clock = paced()
    p.hold(7, 5)
    assert p.chat_wait(7) == pytest.approx(5) and p.chat_wait(8) == 0
    assert p.cooling() == {7}
    clock.advance(5)
    assert p.cooling() == set()


def test_message_methods_are_the_counted_ones():
    assert puts_message("sendMessage") and puts_message("sendDocument") and puts_message("copyMessage")
    assert not puts_message("sendChatAction") and not puts_message("editMessageText")
    assert not puts_message("answerCallbackQuery") and not puts_message("getUpdates")


async def test_the_limiter_lets_the_senders_calls_through_and_retries_a_reply_alone():
    p, clock = paced()
    limiter = SharedLimiter(p, max_retries=2)
    calls = []

    async def call(name: str, fail: int = 0):
        calls.append(name)
        if calls.count(name) <= fail:
            raise RetryAfter(3)
        return name

    # The sender's own call: no budget taken here, the sender took it already.
    assert await limiter.process_request(call, ("outbox",), {}, "sendMessage", {"chat_id": 5}, OUTBOX_CALL) == "outbox"
    assert p.chat_wait(5) == 0
    # A reply that meets a 429: that chat is held, the call waits and goes again.
    assert await limiter.process_request(call, ("reply",), {"fail": 1}, "sendMessage", {"chat_id": 6}, None) == "reply"
    assert calls.count("reply") == 2 and clock() >= 1_003
    assert p.chat_wait(7) == 0  # nobody else was paused
    # Beyond max_retries the 429 reaches the caller.
    with pytest.raises(RetryAfter):
        await limiter.process_request(call, ("stuck",), {"fail": 9}, "sendMessage", {"chat_id": 8}, None)
    assert calls.count("stuck") == 3


async def test_the_limiter_never_delays_calls_that_are_not_messages():
    p, clock = paced(overall_per_second=1)
    limiter = SharedLimiter(p)
    for _ in range(5):
        p.take(None)  # budget exhausted
    before = clock()

    async def call():
        return True

    assert await asyncio.wait_for(limiter.process_request(call, (), {}, "answerCallbackQuery",
                                                          {"callback_query_id": "1"}, None), 1)
    assert clock() == before
