"""Flood limits (with a fake clock) and injected faults, seen through PTB over both transports."""

import pytest
from telegram.error import Forbidden, NetworkError, RetryAfter, TimedOut

from bot.emulator import Emulator, FakeClock, FloodLimits

# PTB 22 warns on every RetryAfter that retry_after will become a timedelta; not our concern here.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def seconds(exc: RetryAfter) -> float:
    value = exc.retry_after
    return value.total_seconds() if hasattr(value, "total_seconds") else value


@pytest.fixture
def emu_options() -> dict:
    return {"limits": FloodLimits()}


async def test_private_chat_tolerates_a_burst_then_429(emu, bot, clock):
    alice = emu.person("张三")
    for text in ("一", "二", "三"):  # a quick multi-message answer is fine (burst of 3)
        await bot.send_message(alice.id, text)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(alice.id, "四")
    assert seconds(info.value) == 1
    assert emu.calls[-1].description == "Too Many Requests: retry after 1"
    clock.advance(1)
    await bot.send_message(alice.id, "四")
    assert [m.text for m in alice.inbox] == ["一", "二", "三", "四"]
    assert emu.stats.rate_limited == 1 and emu.stats.messages_delivered == 4


async def test_sustained_two_per_second_is_punished(emu, bot, clock):
    alice = emu.person("张三")
    limited = 0
    for i in range(20):
        try:
            await bot.send_message(alice.id, f"第{i}条")
        except RetryAfter:
            limited += 1
        clock.advance(0.5)
    assert limited >= 8  # about half of them once the burst is spent
    assert emu.stats.rate_limited == limited


async def test_429_body_is_exactly_telegrams(emu, clock):
    alice = emu.person("张三")
    for _ in range(3):
        assert (await emu.request("sendMessage", {"chat_id": str(alice.id), "text": "x"})).ok
    reply = await emu.request("sendMessage", {"chat_id": str(alice.id), "text": "x"})
    assert reply.status == 429
    assert reply.body == {"ok": False, "error_code": 429,
                          "description": "Too Many Requests: retry after 1",
                          "parameters": {"retry_after": 1}}


async def test_group_limit_is_twenty_per_minute():
    clock = FakeClock()
    emu = Emulator(limits=FloodLimits(per_chat_burst=100), clock=clock)  # isolate the group rule
    alice = emu.person("张三")
    group = emu.group("某某群", members=[alice])

    async def send(chat_id):
        return await emu.request("sendMessage", {"chat_id": chat_id, "text": "通知"})

    for _ in range(20):
        assert (await send(group.id)).ok
    reply = await send(group.id)
    assert reply.status == 429 and reply.body["parameters"] == {"retry_after": 3}  # 60 s / 20
    assert (await send(alice.id)).ok  # a private chat is not held back by the group
    clock.advance(3)
    assert (await send(group.id)).ok
    assert (await send(group.id)).status == 429


async def test_overall_thirty_per_second(emu, bot):
    people = [emu.person(f"用户{i}") for i in range(31)]
    for person in people[:30]:
        await bot.send_message(person.id, "通知")
    with pytest.raises(RetryAfter):
        await bot.send_message(people[30].id, "通知")


async def test_no_limits_when_disabled():
    emu = Emulator(limits=None, clock=FakeClock())
    alice = emu.person("张三")
    for _ in range(50):
        assert (await emu.request("sendMessage", {"chat_id": alice.id, "text": "x"})).ok
    assert emu.stats.rate_limited == 0


async def test_injected_rate_limit_server_error_and_forbidden(emu, bot):
    alice = emu.person("张三")
    emu.faults.add("rate_limit", method="sendMessage", retry_after=7)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(alice.id, "x")
    assert seconds(info.value) == 7
    emu.faults.add("server_error", method="sendMessage", times=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(alice.id, "x")
    emu.faults.add("forbidden", method="sendMessage")
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(alice.id, "x")
    await bot.send_message(alice.id, "终于")  # faults are used up
    assert [m.text for m in alice.inbox] == ["终于"]
    assert emu.stats.faults == 4 and emu.stats.rate_limited == 1
    assert emu.faults.pending == []


async def test_faults_match_by_chat(emu, bot):
    alice, bob = emu.person("张三"), emu.person("李四")
    emu.faults.add("forbidden", chat_id=bob.id, times=5)
    await bot.send_message(alice.id, "给张三")
    await bot.get_me()  # other methods and chats are untouched
    with pytest.raises(Forbidden):
        await bot.send_message(bob.id, "给李四")
    assert [m.text for m in alice.inbox] == ["给张三"] and bob.inbox == []
    assert emu.faults.pending[0].times == 4


@pytest.mark.parametrize("delivered", [False, True])
async def test_timeouts_lost_or_delivered(emu, transport, delivered):
    alice = emu.person("张三")
    emu.faults.add("timeout", method="sendMessage", delivered=delivered)
    async with transport.make_bot(read_timeout=0.3) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(alice.id, "可能送达")
        # the ambiguity an outbox has to handle: did it arrive?
        assert [m.text for m in alice.inbox] == (["可能送达"] if delivered else [])
        await bot.send_message(alice.id, "下一条")
    assert emu.stats.faults == 1


async def test_unknown_fault_kind_is_refused(emu):
    with pytest.raises(ValueError, match="unknown fault kind"):
        emu.faults.add("explode")


async def test_driver_paces_people_on_a_fake_clock(emu, transport, polling, clock):
    """Each user action advances the FakeClock by think_time, as a human would take time."""
    from telegram.ext import MessageHandler, filters

    async def two_replies(update, context):
        await update.effective_message.reply_text("收到")
        await update.effective_message.reply_text("请稍候")

    app = transport.builder().build()
    app.add_handler(MessageHandler(filters.TEXT, two_replies))
    alice = emu.person("张三")
    start = clock()
    async with polling(app, emu):
        for i in range(5):  # 10 bot messages to one chat: fine at a human pace
            await alice.send(f"第{i}条")
    assert len(alice.inbox) == 10 and emu.stats.rate_limited == 0
    assert clock() - start == 5 * emu.think_time
