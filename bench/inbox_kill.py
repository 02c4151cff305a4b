"""kill -9 with commands in flight: are updates the bot fetched but had not answered lost?

    .venv/bin/python bench/inbox_kill.py [--kills 5] [--commands 25] [--latency 0.1] [--pg URL]

The real bot (``python -m bot run``, a separate process) polls the emulator over HTTP; every call
but getUpdates takes ``--latency`` seconds at the emulator, like a slow link to Telegram. Each
round: ``--commands`` people send /help; once Telegram considers them all delivered (the bot
confirmed them with its next getUpdates) the bot is killed with SIGKILL, restarted on the same
database, and every person's answers are counted at the emulator. Goal (issue 9 item 14): 0 lost;
at most one update per kill is handled twice (the one being handled when the process died).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.emulator import Emulator  # noqa: E402
from bot.emulator.http import EmulatorServer  # noqa: E402


class SlowEmulator(Emulator):
    latency = 0.0

    async def request(self, method, params=None, files=None, *, token=None):  # noqa: ANN001, ANN201
        if method.lower() != "getupdates" and self.latency:
            await asyncio.sleep(self.latency)
        return await super().request(method, params, files, token=token)


def start_bot(config: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=log.open("ab"))


async def until(condition, timeout: float) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def main(kills: int, commands: int, latency: float, pg: str | None) -> int:
    emu = SlowEmulator(token="123456:BENCH-inbox-kill-token-abcdefghijk", limits=None)
    emu.latency = latency
    server = EmulatorServer(emu)
    await server.start()
    work = Path(tempfile.mkdtemp(prefix="duban-inbox-"))
    db_url = pg or f"sqlite:///{work / 'duban.sqlite3'}"
    config = work / "config.toml"
    config.write_text(f'[telegram]\ntoken = "{emu.token}"\nbase_url = "{server.base_url}"\n'
                      f'base_file_url = "{server.base_file_url}"\n[database]\nurl = "{db_url}"\n'
                      f'[storage]\nfiles_dir = "{work / "files"}"\n[logging]\nlevel = "WARNING"\n', encoding="utf-8")
    log = work / "bot.log"
    print(f"{kills} kills, {commands} /help in flight each, {latency * 1000:.0f} ms per call, "
          f"{'PostgreSQL' if pg else 'SQLite'}; bot log: {log}")
    bot = start_bot(config, log)
    total_lost = total_dup = 0
    for round_no in range(1, kills + 1):
        polls = emu.stats.calls["getUpdates"]
        if not await until(lambda: emu.stats.calls["getUpdates"] > polls, 60):
            print("the bot never polled; see the log")
            return 1
        people = [emu.person(f"第{round_no}轮{i}") for i in range(commands)]
        for p in people:
            await emu.user_sends(p.id, "/help")
        await emu.wait_confirmed(60)
        os.kill(bot.pid, signal.SIGKILL)
        bot.wait()
        unanswered = sum(1 for p in people if not p.inbox)
        killed_at = time.monotonic()
        bot = start_bot(config, log)
        done = await until(lambda: all(p.inbox for p in people), 60)
        recovered_in = time.monotonic() - killed_at
        await asyncio.sleep(max(1.0, 3 * latency * commands / 10))  # room for a late duplicate to show
        counts = [len(p.inbox) for p in people]
        lost, dup = counts.count(0), sum(max(0, n - 1) for n in counts)
        total_lost += lost
        total_dup += dup
        print(f"kill {round_no}: {unanswered}/{commands} unanswered at the kill; after the restart "
              f"lost {lost}, duplicated {dup}, all answered {recovered_in:.1f} s after the kill"
              f"{'' if done else ' (NOT all answered)'}")
    bot.send_signal(signal.SIGTERM)
    await until(lambda: bot.poll() is not None, 30)  # the emulator must keep answering meanwhile
    await server.stop()
    print(f"total: lost {total_lost}, duplicated {total_dup} over {kills} kills")
    return 0 if total_lost == 0 and total_dup <= kills else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--commands", type=int, default=25)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--pg", help="a PostgreSQL URL (an empty database) instead of SQLite")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.kills, args.commands, args.latency, args.pg)))
