"""Broadcast pacing of the running bot, measured at the emulator with Telegram's limits on.

    .venv/bin/python bench/broadcast.py [--distinct 600] [--busy 60] [--latency 0.0]

The bot runs as in production: ``build_application`` (the shared rate limiter, the JobQueue, the
sender's continuous loop), polling the emulator. The emulator enforces Telegram's documented
limits (30 messages/s overall, 1/s per chat, short bursts) and answers 429 beyond them. Every
figure printed is counted at the emulator — messages it accepted and when, 429s it served — never
a pacing setting or a count of rows handled.

Three cases: ``distinct`` messages to as many chats; the mixed case, ``busy`` messages to one chat
queued first (the worst place) and ``distinct`` more to other chats; and 20 people sending /help
during a broadcast (a direct reply must not wait behind it; it takes its share of the budget). Goals (issue 11): the
distinct chats at >= 28 msg/s (mixed: >= 27), the busy chat at its 1/s, 0 x 429.
``--latency`` adds that many seconds each way between the bot and the emulator.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram.request import RequestData  # noqa: E402

from bot.runtime.app import build_application, start_polling, stop_polling  # noqa: E402
from bot.kernel.clock import Clock  # noqa: E402
from bot.kernel.config import OfficeSettings, Settings, StorageSettings, TelegramSettings  # noqa: E402
from bot.emulator import Emulator, FloodLimits  # noqa: E402
from bot.emulator.ptb_request import EmulatorRequest  # noqa: E402
from bot.outbox.queue import enqueue  # noqa: E402
from store.db import Database  # noqa: E402
from store.models import Person  # noqa: E402


class TimedRequest(EmulatorRequest):
    """The in-process transport, noting when the emulator accepted each message (and latency)."""

    def __init__(self, emulator: Emulator, latency: float) -> None:
        super().__init__(emulator)
        self.latency = latency
        self.accepted: list[tuple[float, int, str]] = []  # (when, chat_id, text)
        self.refused: int = 0

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         *args, **kwargs) -> tuple[int, bytes]:  # noqa: ANN002, ANN003
        if self.latency:
            await asyncio.sleep(self.latency)
        status, body = await super().do_request(url, method, request_data, *args, **kwargs)
        endpoint = url.rsplit("/", 1)[-1]
        if endpoint.startswith("send") and request_data is not None:
            chat_id = int(request_data.json_parameters.get("chat_id", 0))
            if status == 200:
                self.accepted.append((time.perf_counter(), chat_id, str(request_data.json_parameters.get("text"))))
            else:
                self.refused += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        return status, body


def rate(times: list[float]) -> float:
    """Messages per second between the first and the last one."""
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else float("nan")


async def wait_for(transport: TimedRequest, label: str, expected: int, timeout: float) -> list[float]:
    """When each message of the broadcast ``label`` was accepted, once ``expected`` were (or time is up)."""
    deadline = time.perf_counter() + timeout
    while True:
        got = [t for t, c, text in transport.accepted if label in text]
        if len(got) >= expected or time.perf_counter() > deadline:
            return got
        await asyncio.sleep(0.05)


async def queue(db: Database, clock: Clock, people: list[Person], label: str) -> None:
    async with db.session() as s:
        for p in people:
            await enqueue(s, p, f"<b>通报</b>：{label}，致{p.name}", now=clock.now())


async def main(distinct: int, busy: int, latency: float) -> None:
    logging.basicConfig(level=logging.WARNING)
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/bench.sqlite3", now=clock.now)
        await db.upgrade()
        emu = Emulator(token="123456:BENCH-TOKEN", bot_username="bench_bot", limits=FloodLimits())
        users = [emu.person(f"联络员{i}") for i in range(2 * distinct + 1)]
        async with db.session() as s:
            people = [Person(name=f"联络员{i}", telegram_id=u.id,
                             created_at=clock.now(), role_rows=[], unit=None) for i, u in enumerate(users)]
            s.add_all(people)
        transport = TimedRequest(emu, latency)
        settings = Settings(office=OfficeSettings(name="测试县人民政府督查室"),
                            storage=StorageSettings(files_dir=f"{tmp}/files"),
                            telegram=TelegramSettings(token=emu.token))
        app = build_application(settings, db, clock, request=transport, get_updates_request=EmulatorRequest(emu))
        await start_polling(app, poll_timeout=1)
        await asyncio.sleep(1.0)  # start-up chores (menus) out of the way; the sender loop is running

        print(f"broadcast bench: the running bot against the emulator, limits on (30/s overall, 1/s per chat), "
              f"latency {latency * 1000:.0f} ms each way")
        first, second, one = people[:distinct], people[distinct:2 * distinct], people[-1]

        rl0 = emu.stats.rate_limited
        await queue(db, clock, first, "分别发送")
        got = await wait_for(transport, "分别发送", distinct, timeout=distinct)
        delivered = sum(1 for u in users if any("分别发送" in (m.text or "") for m in u.inbox))
        print(f"  {distinct} distinct chats: delivered {delivered}, {rate(got):.1f} msg/s "
              f"(goal >= 28), 429s served: {emu.stats.rate_limited - rl0}")

        rl0 = emu.stats.rate_limited
        await queue(db, clock, [one] * busy, "同一聊天")
        await queue(db, clock, second, "混合发送")
        others = await wait_for(transport, "混合发送", distinct, timeout=2 * distinct)
        lone = await wait_for(transport, "同一聊天", busy, timeout=3 * busy)
        delivered = sum(1 for u in users if any("混合发送" in (m.text or "") for m in u.inbox))
        print(f"  mixed: {distinct} distinct chats delivered {delivered}, {rate(others):.1f} msg/s "
              f"(goal >= 27); one chat {len(lone)} of {busy} at {rate(lone):.2f} msg/s (goal 1/s); "
              f"429s served: {emu.stats.rate_limited - rl0}")

        # Direct replies during a broadcast: 20 people send /help while the first chats get a notice.
        rl0 = emu.stats.rate_limited
        await queue(db, clock, first, "再次发送")
        asked = []
        for p in second[: distinct: max(1, distinct // 20)]:
            await asyncio.sleep(0.5)
            asked.append((time.perf_counter(), p.telegram_id))
            await emu.user_sends(p.telegram_id, "/help")
        during = await wait_for(transport, "再次发送", distinct, timeout=2 * distinct)
        deadline = time.perf_counter() + 10
        while True:
            replies = []
            for when, chat in asked:
                after = [t for t, c, text in transport.accepted if c == chat and t > when and "通报" not in text]
                if after:
                    replies.append(min(after) - when)
            if len(replies) == len(asked) or time.perf_counter() > deadline:
                break
            await asyncio.sleep(0.05)
        print(f"  /help during a broadcast: {len(replies)} of {len(asked)} answered, after median "
              f"{statistics.median(replies) * 1000:.0f} ms, max {max(replies) * 1000:.0f} ms; the broadcast "
              f"meanwhile {rate(during):.1f} msg/s; 429s served: {emu.stats.rate_limited - rl0}")
        await stop_polling(app)
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--distinct", type=int, default=600)
    parser.add_argument("--busy", type=int, default=60)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    asyncio.run(main(args.distinct, args.busy, args.latency))
