"""Resident memory of the running bot at county scale: idle, after office /items, after /export.

    .venv/bin/python bench/memory.py [--items 100000] [--pg] [--seeded FILE.sqlite3]

The real bot (``python -m bot run``, a separate process) polls the emulator over HTTP, on a
database seeded like ``bench/export.py``'s (300 units, ``--items`` approved items of 2026 with
their shares, progress, completion reports and score events; SQLite, or a PostgreSQL database of
its own on the DUBAN_TEST_PG_URL server with ``--pg``; ``--seeded`` runs on a copy of a SQLite
file seeded before, to skip the few minutes of seeding). The bot runs as configured by default:
its sweeps (escalation at county scale included) run on their schedule meanwhile. The office person (王督查) then, one after
the other: /items, /items again (a page of 100,000 in the office's view), /export items 2026 and
/export scores 2026 (each waited for until the workbook arrived through the outbox).

The figure is the bot process's resident set (``/proc/PID/status`` VmRSS) after each step, and
the kernel's peak during the step (VmHWM, reset before it by writing 5 to ``/proc/PID/clear_refs``).
Beside it, in the same run: a bare python-telegram-bot bot process (a few lines of PTB polling the
same emulator, answering /help), idle and after answering: what Python + PTB + httpx cost before
any of our code. Goal (issue 11): <= 200 MB resident, idle, after office /items and after /export.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.export import seed
from bench.scratch_db import Backend
from bot.emulator import Emulator
from bot.emulator.http import EmulatorServer

GOAL_MB = 200
ISSUE_NOW = "issue 11's 'now' (old code): 208 MB idle, 811 MB after office /items, 1.5 GB after /export"
OFFICE_TELEGRAM_ID = 1  # bench/export.py's seed: person 1, office, telegram_id 1

BARE_BOT = """
import sys
from telegram import Update
from telegram.ext import ApplicationBuilder, CommandHandler

async def help_(update, _context):
    await update.effective_chat.send_message("督办助手：/items 查看我的事项")

app = ApplicationBuilder().token(sys.argv[1]).base_url(sys.argv[2]).base_file_url(sys.argv[3]).build()
app.add_handler(CommandHandler("help", help_))
app.run_polling(poll_interval=0, timeout=5, allowed_updates=Update.ALL_TYPES)
"""


def status(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(field)


def reset_peak(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


async def until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def settle(pid: int, seconds: float = 3.0, limit: float = 90.0) -> float:
    """The resident set once it stopped moving for ``seconds`` (start-up work, sweeps, the sender
    sending a file), or after ``limit`` seconds."""
    samples: list[float] = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        samples.append(status(pid, "VmRSS"))
        recent = samples[-int(seconds / 0.25) - 1:]
        if len(recent) > seconds / 0.25 and max(recent) - min(recent) < 1.0:
            break
        await asyncio.sleep(0.25)
    return samples[-1]


class Step:
    def __init__(self, name: str, rss: float, peak: float | None, seconds: float | None, note: str = "") -> None:
        self.name, self.rss, self.peak, self.seconds, self.note = name, rss, peak, seconds, note


async def command(emu: Emulator, person, pid: int, text: str, done, timeout: float) -> Step:
    """Send ``text``; wait until ``done(new_messages)``; the resident set after and the peak during it."""
    peak_ok = reset_peak(pid)
    before = len(person.inbox)
    started = time.monotonic()
    await emu.user_sends(person.id, text)
    ok = await until(lambda: done(person.inbox[before:]), timeout)
    seconds = time.monotonic() - started
    rss = await settle(pid, 2.0)
    peak = status(pid, "VmHWM") if peak_ok else None  # the step and the settling after it
    note = "" if ok else f"NOT answered within {timeout:.0f} s"
    return Step(text, rss, peak, seconds, note)


def has_document(messages) -> bool:
    return any(m.document for m in messages)


async def run_bot(emu: Emulator, server: EmulatorServer, db_url: str, work: Path) -> tuple[list[Step], Path]:
    config = work / "config.toml"
    config.write_text(f'[telegram]\ntoken = "{emu.token}"\nbase_url = "{server.base_url}"\n'
                      f'base_file_url = "{server.base_file_url}"\n[database]\nurl = "{db_url}"\n'
                      f'[storage]\nfiles_dir = "{work / "files"}"\n[logging]\nlevel = "INFO"\n',
                      encoding="utf-8")
    log = work / "bot.log"
    polls = emu.stats.calls["getUpdates"]
    bot = subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config)], cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=log.open("ab"))
    steps: list[Step] = []
    try:
        if not await until(lambda: emu.stats.calls["getUpdates"] > polls + 1, 120):
            raise SystemExit(f"the bot never polled; see {log}")
        office = emu.person("王督查", user_id=OFFICE_TELEGRAM_ID)
        steps.append(Step("idle after start-up (sweeps done)", await settle(bot.pid, 5.0, 300),
                          status(bot.pid, "VmHWM"), None, "peak: since the process started"))
        steps.append(await command(emu, office, bot.pid, "/help", lambda new: len(new) >= 1, 60))
        for n in (1, 2):
            step = await command(emu, office, bot.pid, "/items", lambda new: len(new) >= 1, 120)
            step.name = f"office /items ({'first' if n == 1 else 'again'})"
            steps.append(step)
        for what in ("items 2026", "scores 2026"):
            step = await command(emu, office, bot.pid, f"/export {what}", has_document, 600)
            step.name = f"/export {what} (until the workbook arrived)"
            steps.append(step)
        steps.append(Step("idle at the end", await settle(bot.pid, 5.0), None, None))
    finally:
        bot.terminate()
        try:
            bot.wait(30)
        except subprocess.TimeoutExpired:
            bot.kill()
    return steps, log


async def run_bare(emu: Emulator, server: EmulatorServer) -> list[Step]:
    polls = emu.stats.calls["getUpdates"]
    bare = subprocess.Popen([sys.executable, "-c", BARE_BOT, emu.token, server.base_url, server.base_file_url],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not await until(lambda: emu.stats.calls["getUpdates"] > polls + 1, 60):
            raise SystemExit("the bare bot never polled")
        someone = emu.person("张三")
        idle = Step("idle after start-up", await settle(bare.pid, 3.0), status(bare.pid, "VmHWM"), None)
        return [idle, await command(emu, someone, bare.pid, "/help", lambda new: len(new) >= 1, 60)]
    finally:
        bare.terminate()
        bare.wait(30)


def report(bot: list[Step], bare: list[Step], items: int, counts: dict, backend: str, log: Path) -> None:
    print(f"memory bench: `python -m bot run` against the emulator over HTTP, {backend}, {items:,} items "
          f"({counts['shares']:,} shares, {counts['progress']:,} progress, {counts['reports']:,} reports, "
          f"{counts['events']:,} score events); {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"{'step':<48} │ {'RSS MB':>7} {'peak MB':>8} │ {'goal':>7} │ {'took':>7} │")
    for s in bot:
        verdict = "met" if s.rss <= GOAL_MB and (s.peak is None or s.peak <= GOAL_MB) else "NOT met"
        peak = f"{s.peak:>8.0f}" if s.peak is not None else f"{'-':>8}"
        took = f"{s.seconds:>6.1f}s" if s.seconds is not None else f"{'':>7}"
        print(f"{s.name:<48} │ {s.rss:>7.0f} {peak} │ {'≤' + str(GOAL_MB):>7} │ {took} │ {verdict} {s.note}")
    print("baseline: a bare python-telegram-bot bot process (no database, no handlers of ours)")
    for s in bare:
        peak = f"{s.peak:>8.0f}" if s.peak is not None else f"{'-':>8}"
        print(f"{'  ' + s.name:<48} │ {s.rss:>7.0f} {peak} │")
    print(f"the bot's largest resident set {max(s.rss for s in bot):.0f} MB, largest peak "
          f"{max(s.peak or 0 for s in bot):.0f} MB; the bare bot {max(s.rss for s in bare):.0f} MB")
    print(ISSUE_NOW)
    print(f"(bot log: {log})")


async def main(items: int, pg: bool, seeded: Path | None) -> int:
    pg_url = os.environ.get("DUBAN_TEST_PG_URL") if pg else None
    if pg and not pg_url:
        raise SystemExit("--pg needs DUBAN_TEST_PG_URL")
    backend = Backend("PostgreSQL" if pg_url else "SQLite", pg_url, bench="memory")
    started = time.monotonic()
    if seeded is not None:
        copy = Path(backend.tmp.name) / "bench.sqlite3"
        shutil.copyfile(seeded, copy)
        db_url = f"sqlite:///{copy}"
        counts = await count_rows(db_url)
        items = counts["items"]
    else:
        db = await backend.open()
        counts = await seed(db, items)
        db_url = db.url
        await db.dispose()  # the bot opens its own; this process keeps no connection
    print(f"(database ready in {time.monotonic() - started:.0f} s)")
    work = Path(tempfile.mkdtemp(prefix="duban-memory-"))
    # Each bot its own emulator: a poll of one must not count as the other's.
    bare_emu = Emulator(token="654321:BENCH-memory-bare-abcdefghijklmnop", limits=None)
    emu = Emulator(token="123456:BENCH-memory-token-abcdefghijklmnop", limits=None)
    bare_server, server = EmulatorServer(bare_emu), EmulatorServer(emu)
    await bare_server.start()
    await server.start()
    try:
        bare = await run_bare(bare_emu, bare_server)
        bot, log = await run_bot(emu, server, db_url, work)
    finally:
        await server.stop()
        await bare_server.stop()
        if seeded is None:
            await backend.close(await backend_db(backend, db_url))
        else:
            backend.tmp.cleanup()
    report(bot, bare, items, counts, backend.name, log)
    worst = max(max(s.rss for s in bot), max(s.peak or 0 for s in bot))
    return 0 if worst <= GOAL_MB and not any(s.note.startswith("NOT") for s in bot) else 1


async def count_rows(url: str) -> dict:
    from sqlalchemy import func, select

    from store.db import Database
    from store.score import ScoreEvent
    from store.workflow import Assignment, CompletionReport, Item, Progress

    db = Database(url)
    async with db.session() as s:
        counts = {name: await s.scalar(select(func.count()).select_from(model)) for name, model in (
            ("items", Item), ("shares", Assignment), ("progress", Progress), ("reports", CompletionReport),
            ("events", ScoreEvent))}
    await db.dispose()
    return counts


async def backend_db(backend: Backend, url: str):
    from store.db import Database

    return Database(url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL (DUBAN_TEST_PG_URL) instead of SQLite")
    parser.add_argument("--seeded", type=Path, help="a SQLite file seeded before (copied, not changed)")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.items, args.pg, args.seeded)))
