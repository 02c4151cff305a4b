"""Broadcast rate through the real sender against the emulator with Telegram's limits enforced.

    .venv/bin/python bench/broadcast.py [--messages 300]

Prints messages/s to distinct chats and how many 429s the emulator served (target: >= 28/s, 0).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram.ext import ExtBot  # noqa: E402

from bot.clock import Clock  # noqa: E402
from bot.emulator import Emulator, FloodLimits  # noqa: E402
from bot.emulator.ptb_request import EmulatorRequest  # noqa: E402
from bot.outbox import enqueue  # noqa: E402
from bot.sender import Sender  # noqa: E402
from store.db import Database  # noqa: E402
from store.models import Person  # noqa: E402


async def main(n: int) -> None:
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/bench.sqlite3", now=clock.now)
        await db.upgrade()
        emu = Emulator(token="123456:BENCH-TOKEN", bot_username="bench_bot", limits=FloodLimits())
        async with db.session() as s:
            people = [Person(name=f"联络员{i}", telegram_id=emu.person(f"联络员{i}").id, created_at=clock.now(),
                             role_rows=[], unit=None) for i in range(n)]
            s.add_all(people)
            await s.flush()
            for p in people:
                await enqueue(s, p, f"<b>通报</b>：第{p.id}号测试消息", now=clock.now())
        bot = ExtBot(emu.token, request=EmulatorRequest(emu))
        await bot.initialize()
        sender = Sender(db, bot, clock)
        started = time.perf_counter()
        sent = await sender.drain_all()
        elapsed = time.perf_counter() - started
        await bot.shutdown()
        await db.dispose()
    print(f"broadcast: {sent} messages to {n} distinct chats in {elapsed:.2f} s "
          f"= {sent / elapsed:.1f} msg/s; 429s served by the emulator: {emu.stats.rate_limited}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=300)
    asyncio.run(main(parser.parse_args().messages))
