"""What one update costs: the bot next to a bare python-telegram-bot bot, on the same transport.

    .venv/bin/python bench/per_update.py [--users 200] [--help-updates 2000] [--lists 500] [--runs 3]
                                         [--marks grouped|each] [--bare-answers same|fixed]
                                         [--page-from-memory]

Three bots poll an in-process emulator each (``EmulatorRequest``, Telegram's flood limits off), in
the same event loop, so two idle in their long polls while the third is measured:
* the bot: ``build_application`` as in the end-to-end tests (``start_jobs=False``: no outbox sender
  loop, which these cases do not use), on a temporary SQLite database with the demo county plus
  liaisons up to ``--users`` people, all bound to emulator users, and 10 approved items for 城关镇.
  Its pacing budget is lifted (as the tests do) so Telegram's 30 msg/s cannot be the bottleneck:
  what is measured is the work per update, not the rate limit;
* the bare bot: a few lines of PTB. It answers /help, /items and a tap (answer + edit) with what
  the bot itself sent for them in its warm-up, text and buttons alike (``--bare-answers same``, the
  default), so the ratio is the bot's own work per update (the database, who may see what, the
  rendering), not the size of its answers: PTB and the emulator handle a message in time that
  grows with its text and buttons, and the bot's list page has 1,868 characters and 14 buttons.
  ``--bare-answers fixed`` gives the bare bot the bench's earlier answers (a 1,047-character list
  with 9 buttons, a short help);
* the bare bot with the durable inbox (issue 9) and nothing else, on its own SQLite database: the
  floor under any bot that writes every update down before handling it.
The durable inbox writes each getUpdates batch in one INSERT and marks handled updates: several in
one UPDATE during a burst (``--marks grouped``, the default: what ``python -m bot run`` does on one
instance, the SQLite default; ``bot.runtime.inbox.MARK_DELAY``), or one by one (``--marks each``:
what an instance in a PostgreSQL election does, so that a killed leader repeats at most one update).

Three cases, each run ``--runs`` times, each run started by another bot, medians printed:
  /help      ``--help-updates`` /help from all users, injected at once;
  /items     ``--lists`` /items from the people of 城关镇 (a liaison's view: 10 items, 2 pages);
  tap        下一页 on every list message the /items case produced (answer + edit).
The clock runs from injecting the updates until the emulator has recorded every answer
(sendMessage; for a tap answerCallbackQuery and editMessageText), then every answer is checked.
SQL statements per update are counted on the bot's engine (``before_cursor_execute``), the
durable inbox's bookkeeping (issue 9) apart from the rest (which includes the calendar's re-check,
once a minute of the bot's clock: a real clock here), and so are aiosqlite's thread round-trips.
Goals (issue 11): /help <= 1.5x the bare bot, a tap <= 2x, /items <= 3x.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import re
import unicodedata
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiosqlite.core  # noqa: E402
from sqlalchemy import event, select  # noqa: E402
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update  # noqa: E402
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, CommandHandler  # noqa: E402

from bot.runtime.app import build_application, start_polling, stop_polling  # noqa: E402
from bot.runtime.inbox import InboxApplication, InboxQueue, attach_inbox  # noqa: E402
from bot.kernel.clock import Clock  # noqa: E402
from bot.kernel.config import OfficeSettings, Settings, StorageSettings, TelegramSettings  # noqa: E402
from bot.demo.county import demo_people, demo_units, seed_directory  # noqa: E402
from bot.domain import items as items_svc  # noqa: E402
from bot.emulator import Emulator  # noqa: E402
from bot.emulator.driver import Person as User  # noqa: E402
from bot.emulator.ptb_request import EmulatorRequest  # noqa: E402
from bot.outbox.pacing import Pacing  # noqa: E402
from store.audit import Actor  # noqa: E402
from store.db import Database  # noqa: E402
from store.models import Person, PersonRole, Unit  # noqa: E402

UNIT = "城关镇"
ITEMS = 10
GOALS = {"help": 1.5, "tap": 2.0, "items": 3.0}
BUDGET = {"help": 1, "tap": 3, "items": 4}  # statements per update, issue 11 item 1
ISSUE_NOW = {"help": "8.1×", "tap": "20×", "items": "47× (~13 statements/update)"}
FLOOR = "bare PTB + inbox"
BARE_ANSWERS = {
    "same": "the bot's own /help, list page and tapped page, as it sent them: the same text and buttons",
    "fixed": "a fixed shorter text and a 9-button list, the bench's earlier baseline",
}
MARK_MODES = {
    "grouped": "several in one UPDATE during a burst, as `python -m bot run` on one instance",
    "each": "one UPDATE per update, as `python -m bot run` with several instances on PostgreSQL",
}
_INBOX = re.compile(r'\b(?:INTO|UPDATE|FROM)\s+"?inbox"?\b', re.IGNORECASE)


# --------------------------------------------------------------------------------------------
# The two bots
# --------------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    emu: Emulator
    app: Application
    everyone: list[User]
    unit_people: list[User]
    stop: Callable[[], Awaitable[None]]
    taps: list[tuple[int, int, str]] = field(default_factory=list)  # (chat, message, data) to tap next


@dataclass
class Answer:
    """What a bot sent for a case (``sendMessage`` or ``editMessageText`` parameters, as recorded
    by the emulator): its text as sent (HTML), and its keyboard as (label, callback data) rows."""

    text: str
    parse_mode: str | None
    rows: list[list[tuple[str, str]]]

    @classmethod
    def of(cls, params: dict) -> Answer:
        keyboard = (params.get("reply_markup") or {}).get("inline_keyboard", [])
        return cls(params["text"], params.get("parse_mode"),
                   [[(b["text"], b.get("callback_data", "")) for b in row] for row in keyboard])

    def markup(self) -> InlineKeyboardMarkup | None:
        """Built anew for every answer, as any bot builds its keyboard."""
        if not self.rows:
            return None
        return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d) for t, d in row] for row in self.rows])


# --bare-answers fixed: the earlier baseline, a short list of the same shape the bot's used to be.
_FIXED_PAGE = "<b>我的事项</b>（第{page}页/共2页，共10项）\n" + "\n".join(
    f"🟢 督字〔2026〕{n}号 {UNIT}事项{n}　截止 2026-04-{n:02d}" for n in range(1, 9))
_FIXED_ROWS = [[(f"🟢 {UNIT}事项{n}", f"i:v:{n}")] for n in range(1, 9)]
FIXED_ANSWERS = {
    "help": Answer("<b>督办助手</b>\n可用命令：\n/items 查看我的事项\n/item 编号 查看事项详情\n/help 帮助", "HTML", []),
    "items": Answer(_FIXED_PAGE.format(page=1), "HTML", [*_FIXED_ROWS, [("下一页", "ls:all:2")]]),
    "tap": Answer(_FIXED_PAGE.format(page=2), "HTML", [*_FIXED_ROWS, [("上一页", "ls:all:1")]]),
}


def answers_of(bot: Target) -> dict[str, Answer]:
    """The bot's last /help answer, /items page and tapped page, as the emulator recorded them
    (``warm_up`` ran each case on the bot last)."""
    last: dict[str, dict] = {}
    for call in bot.emu.calls:
        if call.method == "sendMessage" and "/items" in call.params.get("text", "") and "reply_markup" not in call.params:
            last["help"] = call.params
        elif call.method == "sendMessage" and "下一页" in str(call.params.get("reply_markup")):
            last["items"] = call.params
        elif call.method == "editMessageText":
            last["tap"] = call.params
    return {case: Answer.of(params) for case, params in last.items()}


def bare_handlers(answers: dict[str, Answer]) -> list:
    """A few lines of PTB answering each case with ``answers``."""
    help_, items, tap = answers["help"], answers["items"], answers["tap"]

    async def bare_help(update: Update, _context) -> None:  # noqa: ANN001
        await update.effective_chat.send_message(help_.text, parse_mode=help_.parse_mode)

    async def bare_items(update: Update, _context) -> None:  # noqa: ANN001
        await update.effective_chat.send_message(items.text, parse_mode=items.parse_mode, reply_markup=items.markup())

    async def bare_tap(update: Update, _context) -> None:  # noqa: ANN001
        query = update.callback_query
        await query.answer()
        await query.edit_message_text(tap.text, parse_mode=tap.parse_mode, reply_markup=tap.markup())

    return [CommandHandler("help", bare_help), CommandHandler("items", bare_items), CallbackQueryHandler(bare_tap)]


async def start_bare(users: int, answers: dict[str, Answer], inbox_db: Database | None = None,
                     marks: str = "grouped") -> Target:
    """The bare bot; with ``inbox_db``, the bare bot with only the durable inbox (issue 9) added:
    every getUpdates batch written before PTB parses it, every update marked handled afterwards
    (``marks`` as the bot's). What no bot that keeps that guarantee can go below."""
    label = "bare PTB" if inbox_db is None else FLOOR
    emu = Emulator(token=f"65432{inbox_db is not None:d}:BARE-BENCH", bot_username="bare_bench_bot", limits=None)
    everyone = [emu.person(name) for name in people_names(users)]
    builder = ApplicationBuilder().token(emu.token).request(EmulatorRequest(emu))
    if inbox_db is not None:
        builder = builder.application_class(InboxApplication).update_queue(InboxQueue())
    app = builder.get_updates_request(EmulatorRequest(emu)).build()
    if inbox_db is not None:
        inbox = attach_inbox(app, inbox_db)
        if marks == "each":
            inbox.mark_batch = 1
    app.add_handlers(bare_handlers(answers))
    await app.initialize()
    await app.updater.start_polling(poll_interval=0, timeout=5, allowed_updates=Update.ALL_TYPES)
    await app.start()

    async def stop() -> None:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        if inbox_db is not None:
            await inbox_db.dispose()

    unit_people = [u for u, name in zip(everyone, people_names(users)) if name in unit_names(users)]
    return Target(label, emu, app, everyone, unit_people, stop)


async def start_floor(users: int, answers: dict[str, Answer], tmp: str, marks: str) -> Target:
    db = Database(f"sqlite:///{tmp}/floor.sqlite3", now=Clock().now)
    await db.upgrade()
    return await start_bare(users, answers, db, marks)


def extra_people(users: int) -> list[tuple[str, str]]:
    """(name, unit) of the liaisons added to the demo county to reach ``users`` people."""
    units = [name for name, _ in demo_units()]
    return [(f"联络员{i:03d}", units[i % len(units)]) for i in range(users - len(demo_people()))]


def people_names(users: int) -> list[str]:
    return [dp.name for dp in demo_people()] + [name for name, _ in extra_people(users)]


def unit_names(users: int) -> set[str]:
    return ({dp.name for dp in demo_people() if dp.unit == UNIT}
            | {name for name, unit in extra_people(users) if unit == UNIT})


async def start_bot(users: int, tmp: str, marks: str = "each") -> tuple[Target, Database]:
    clock = Clock()
    db = Database(f"sqlite:///{tmp}/bench.sqlite3", now=clock.now)
    await db.upgrade()
    emu = Emulator(token="123456:BOT-BENCH", bot_username="bench_bot", limits=None)
    by_name = {name: emu.person(name) for name in people_names(users)}
    rows = await seed_directory(db, clock.now(), lambda dp: by_name[dp.name].id)
    async with db.session(Actor.system("bench"), "bench.seed") as s:
        units = {u.name: u for u in (await s.scalars(select(Unit))).all()}
        for name, unit in extra_people(users):
            s.add(Person(name=name, unit=units[unit], title="联络员", telegram_id=by_name[name].id,
                         created_at=clock.now(), role_rows=[PersonRole(role="liaison")]))
    settings = Settings(office=OfficeSettings(name="测试县人民政府督查室"),
                        storage=StorageSettings(files_dir=f"{tmp}/files"),
                        telegram=TelegramSettings(token=emu.token))
    app = build_application(settings, db, clock, request=EmulatorRequest(emu),
                            get_updates_request=EmulatorRequest(emu), start_jobs=False)
    services = app.bot_data["services"]
    services.sender.pacing = Pacing(overall_per_second=1e6, per_chat_burst=10**6)  # the work, not the limit
    if marks == "each":
        app.inbox.mark_batch = 1  # as bot.runtime.app.lead sets it for `python -m bot run`
    await seed_items(db, services, rows, units[UNIT].id, clock)
    await start_polling(app, poll_timeout=5)
    await asyncio.gather(*list(app.bot_data.get("background", ())))  # start-up menus out of the way

    async def stop() -> None:
        await stop_polling(app)

    names = unit_names(users)
    target = Target("bot", emu, app, list(by_name.values()), [u for n, u in by_name.items() if n in names], stop)
    return target, db


async def seed_items(db: Database, services, rows: dict, unit_id: int, clock: Clock) -> None:  # noqa: ANN001
    """Registered, submitted and approved through the domain, as the end-to-end tests' demo_item."""
    calendar = await services.calendar()
    for n in range(1, ITEMS + 1):
        now = clock.now()
        async with db.session() as s:
            item = await items_svc.register_item(
                s, rows["王敏"], title=f"{UNIT}事项{n}", requirements="按要求办理并报送情况。", source="other",
                importance="important", lead_unit_id=unit_id, leader_ids=[rows["陈志远"].id],
                calendar=calendar, now=now)
            await items_svc.submit_item(s, rows["王敏"], item.id, now=now)
            await items_svc.approve_item(s, rows["赵建国"], item.id, calendar=calendar, now=now)


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


class Statements:
    """SQL statements the bot's engine runs while ``on``: (inbox bookkeeping, the rest), and the
    driver's round-trips: every aiosqlite call is a hop to its worker thread and back (execute,
    fetch, commit, rollback on returning a connection to the pool, ...)."""

    def __init__(self, db: Database) -> None:
        self.on = False
        self.inbox = self.rest = self.hops = 0
        for engine in db.sync_engines:  # the inbox writes through an autocommit engine of its own
            event.listen(engine, "before_cursor_execute", self._count)
        original = aiosqlite.core.Connection._execute

        async def counted(conn, fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            if self.on:
                self.hops += 1
            return await original(conn, fn, *args, **kwargs)

        aiosqlite.core.Connection._execute = counted

    def _count(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if self.on:
            if _INBOX.search(statement):
                self.inbox += 1
            else:
                self.rest += 1


async def until(done: Callable[[], bool], timeout: float) -> bool:
    deadline = time.perf_counter() + timeout
    while not done():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.002)
    return True


async def timed(t: Target, inject: Callable[[], Awaitable[int]], answers: dict[str, int],
                timeout: float) -> tuple[float, float]:
    """Seconds from injecting the updates until the emulator recorded ``answers`` more calls, and
    the process's CPU seconds meanwhile (all threads: aiosqlite's worker included)."""
    calls = t.emu.stats.calls
    base = {m: calls[m] for m in answers}
    errors = sum(t.emu.stats.errors.values())
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    await inject()
    if not await until(lambda: all(calls[m] - base[m] >= n for m, n in answers.items()), timeout):
        got = {m: calls[m] - base[m] for m in answers}
        raise SystemExit(f"{t.name}: only {got} of {answers} answered within {timeout:.0f} s")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if sum(t.emu.stats.errors.values()) != errors or t.emu.violations:
        raise SystemExit(f"{t.name}: the emulator refused calls: {t.emu.stats.errors} {t.emu.violations[:3]}")
    return elapsed, cpu


def last_text(user: User) -> str:
    mine = user.inbox
    return mine[-1].text or "" if mine else ""


async def case_help(t: Target, n: int) -> tuple[float, float]:
    async def inject() -> int:
        for i in range(n):
            await t.emu.user_sends(t.everyone[i % len(t.everyone)].id, "/help")
        return n

    elapsed = await timed(t, inject, {"sendMessage": n}, timeout=max(60.0, n * 0.1))
    assert all("/items" in last_text(u) for u in t.everyone[: min(n, len(t.everyone))]), t.name
    return elapsed


async def case_items(t: Target, n: int) -> tuple[float, float]:
    before = {u.id: max((m.message_id for m in u.inbox), default=0) for u in t.unit_people}

    async def inject() -> int:
        for i in range(n):
            await t.emu.user_sends(t.unit_people[i % len(t.unit_people)].id, "/items")
        return n

    elapsed = await timed(t, inject, {"sendMessage": n}, timeout=max(60.0, n * 0.2))
    t.taps = []
    for u in t.unit_people:
        for m in u.inbox:
            if m.message_id > before[u.id]:
                button = m.button("下一页")
                assert button is not None and f"{UNIT}事项" in (m.text or ""), (t.name, m.text)
                t.taps.append((u.id, m.message_id, button["callback_data"]))
    assert len(t.taps) == n, (t.name, len(t.taps), n)
    return elapsed


async def case_tap(t: Target, n: int) -> tuple[float, float]:
    taps, t.taps = t.taps, []

    async def inject() -> int:
        for user_id, message_id, data in taps:
            await t.emu.press_button(user_id, user_id, message_id, data)
        return len(taps)

    elapsed = await timed(t, inject, {"answerCallbackQuery": len(taps), "editMessageText": len(taps)},
                          timeout=max(60.0, n * 0.2))
    for user_id, message_id, _ in taps:
        msg = t.emu.chats[user_id].messages[message_id]
        labels = [b["text"] for row in msg["reply_markup"]["inline_keyboard"] for b in row]
        assert "上一页" in labels, (t.name, labels)
    return elapsed


@dataclass
class Figures:
    seconds: dict[tuple[str, str], list[float]] = field(default_factory=dict)  # (case, bot) -> per update
    cpu: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    statements: dict[str, list[int]] = field(default_factory=dict)  # case -> [inbox, rest, hops, updates]

    def add(self, case: str, who: str, elapsed: float, cpu: float) -> None:
        self.seconds.setdefault((case, who), []).append(elapsed)
        self.cpu.setdefault((case, who), []).append(cpu)


async def run_target(t: Target, sizes: dict[str, int], figures: Figures, stmts: Statements | None) -> None:
    runs: list[tuple[str, Callable[[Target, int], Awaitable[tuple[float, float]]]]] = [
        ("help", case_help), ("items", case_items), ("tap", case_tap)]
    for case, fn in runs:
        if stmts is not None:
            stmts.inbox = stmts.rest = stmts.hops = 0
            stmts.on = True
        elapsed, cpu = await fn(t, sizes[case])
        figures.add(case, t.name, elapsed / sizes[case], cpu / sizes[case])
        await t.app.update_queue.join()  # the inbox marks the last update handled after its answer
        if stmts is not None:
            stmts.on = False
            counted = figures.statements.setdefault(case, [0, 0, 0, 0])
            for i, value in enumerate((stmts.inbox, stmts.rest, stmts.hops, sizes[case])):
                counted[i] += value


async def warm_up(t: Target) -> None:
    """Every user once, so first-time costs (menus, caches, imports) are not in the figures."""
    await case_help(t, len(t.everyone))
    await case_items(t, len(t.unit_people))
    await case_tap(t, len(t.unit_people))


def serve_pages_from_memory() -> None:
    """The ablation ``--page-from-memory``: each list page the bot builds (read, summaries, text,
    keyboard) is kept and served again for the same person, filter and page. Not what the bot
    does: it shows how much of /items and a tap is the page and how much everything around it."""
    import handlers.views as views

    built = views._list
    pages: dict[tuple, tuple] = {}

    async def kept(context, person, code, page):  # noqa: ANN001, ANN202
        key = (person.id, code, page)
        if key not in pages:
            pages[key] = await built(context, person, code, page)
        return pages[key]

    views._list = kept


async def main(users: int, help_updates: int, lists: int, runs: int, marks: str = "grouped",
               bare_answers: str = "same", page_from_memory: bool = False) -> None:
    logging.basicConfig(level=logging.WARNING)
    total, load = time.perf_counter(), os.getloadavg()[0]
    sizes = {"help": help_updates, "items": lists, "tap": lists}
    with tempfile.TemporaryDirectory() as tmp:
        bot, db = await start_bot(users, tmp, marks)
        await warm_up(bot)
        answers = answers_of(bot) if bare_answers == "same" else FIXED_ANSWERS
        if page_from_memory:
            serve_pages_from_memory()
        bare = await start_bare(users, answers)
        floor = await start_floor(users, answers, tmp, marks)
        stmts = Statements(db)
        try:
            for t in (bare, floor):
                await warm_up(t)
            figures = Figures()
            order = (bot, bare, floor)
            for i in range(runs):  # each run starts with another of the three
                for t in order[i % 3:] + order[:i % 3]:
                    await run_target(t, sizes, figures, stmts if t is bot else None)
        finally:
            await floor.stop()
            await bare.stop()
            await bot.stop()
            await db.dispose()
    report(figures, users, len(bot.unit_people), sizes, runs, (load, os.getloadavg()[0]))
    print(f"the bare bots' answers: {bare_answers} ({BARE_ANSWERS[bare_answers]})")
    print(f"inbox marks: {marks} ({MARK_MODES[marks]})")
    if page_from_memory:
        print("ABLATION --page-from-memory: the bot served each list page from memory after building it once "
              "(not what the bot does; the ratios above are not the issue's figures)")
    print(f"(whole bench {time.perf_counter() - total:.0f} s)")


def pad(text: str, width: int) -> str:
    """``text`` left-aligned in ``width`` terminal columns (a Chinese character takes two)."""
    shown = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - shown)


def report(figures: Figures, users: int, unit_people: int, sizes: dict[str, int], runs: int,
           load: tuple[float, float]) -> None:
    print(f"per-update bench: the bot, a bare python-telegram-bot bot, and the bare bot with the durable inbox "
          f"only (bare+inbox), each polling an in-process emulator (limits off), SQLite; {users} people bound; "
          f"median of {runs} runs, each started by another bot; "
          f"{os.cpu_count()} CPUs, load average {load[0]:.1f} at the start, {load[1]:.1f} at the end")
    labels = {
        "help": f"/help, {sizes['help']:,} updates from {users} users",
        "tap": f"tap 下一页 on a list, {sizes['tap']:,} taps",
        "items": f"/items, {sizes['items']:,} from the {unit_people} people of {UNIT} ({ITEMS} items)",
    }
    width = max(len(pad(v, 0).rstrip()) + sum(unicodedata.east_asian_width(c) in 'WF' for c in v) for v in labels.values())
    print(f"{pad('wall time per update', width)} │ {'bot ms':>8} {'bare ms':>8} │ {'ratio':>6} {'goal':>6} │ "
          f"{'bare+inbox ms':>13} {'ratio':>6} │ runs: bot / bare (ms)")
    for case in labels:
        bot, bare = figures.seconds[(case, "bot")], figures.seconds[(case, "bare PTB")]
        b, p = statistics.median(bot) * 1000, statistics.median(bare) * 1000
        f = statistics.median(figures.seconds[(case, FLOOR)]) * 1000
        ratio, goal = b / p, GOALS[case]
        runs_text = " ".join(f"{x * 1000:.2f}" for x in bot) + " / " + " ".join(f"{x * 1000:.2f}" for x in bare)
        print(f"{pad(labels[case], width)} │ {b:>8.2f} {p:>8.2f} │ {ratio:>5.1f}× {'≤' + format(goal, 'g') + '×':>6} │ "
              f"{f:>13.2f} {f / p:>5.1f}× │ {runs_text}  {'met' if ratio <= goal else 'NOT met'}")
    print(f"{pad('CPU time per update (the process, all threads)', width)} │ {'bot ms':>8} {'bare ms':>8} │ {'ratio':>6}")
    for case in labels:
        b = statistics.median(figures.cpu[(case, "bot")]) * 1000
        p = statistics.median(figures.cpu[(case, "bare PTB")]) * 1000
        print(f"{pad(labels[case], width)} │ {b:>8.2f} {p:>8.2f} │ {b / p:>5.1f}×")
    print(f"{pad('the bot, SQL statements per update', width)} │ {'inbox':>8} {'the rest':>8} │ {'budget':>6} │ "
          f"aiosqlite round-trips")
    for case in labels:
        inbox, rest, hops, n = figures.statements[case]
        print(f"{pad(labels[case], width)} │ {inbox / n:>8.3f} {rest / n:>8.3f} │ {'≤' + str(BUDGET[case]):>6} │ "
              f"{hops / n:>6.1f}  {'met' if rest / n <= BUDGET[case] else 'NOT met'}")
    print("issue 11's reference for the old implementation (its machine): "
          + ", ".join(f"{c} {v}" for c, v in ISSUE_NOW.items()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=200, help="people bound to emulator users (>= 46)")
    parser.add_argument("--help-updates", type=int, default=2000)
    parser.add_argument("--lists", type=int, default=500, help="/items updates, then as many taps")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--marks", choices=("grouped", "each"), default="grouped")
    parser.add_argument("--bare-answers", choices=tuple(BARE_ANSWERS), default="same")
    parser.add_argument("--page-from-memory", action="store_true",
                        help="an ablation: list pages served from memory, to show what the page costs")
    args = parser.parse_args()
    asyncio.run(main(args.users, args.help_updates, args.lists, args.runs, args.marks, args.bare_answers,
                     args.page_from_memory))
