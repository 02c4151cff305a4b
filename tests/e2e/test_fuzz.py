"""A fuzz of the whole bot: thousands of random and malformed updates from every kind of person.

The demo county with items in every state; then, from a seeded Random (``fuzz_updates``):
junk texts and commands with odd arguments, 4096-character texts, blank texts only a tampered
client can send, edits of earlier messages, photos, documents with odd names, taps on real
buttons (so dialogs get answers at every step), and forged taps — random bytes, payloads with
other ids, payloads copied from other people's buttons, taps on messages that do not exist —
from bound people of every role and from strangers. Then a phase of forged taps only.

Asserted: no unhandled exception, the bot still answers, no item's title or requirements reach
anyone who may not see the item (nobody at all for a confidential one), and the forged phase
changes no table. ``DUBAN_FUZZ_SEED`` / ``DUBAN_FUZZ_UPDATES`` replay or resize a run; the
10,000-update run is marked ``slow`` (``-m slow`` or ``DUBAN_SLOW=1``).
"""

from __future__ import annotations

import logging
import os
import random
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.demo.items import seed_items
from bot.domain.confidential import is_label
from store.models import Base
from store.records import SupervisionRecord
from store.workflow import Assignment, Item, ItemLeader, Milestone, Plan
from tests.e2e.conftest import ADMIN_ID, DemoCounty
from tests.e2e.fuzz_updates import Act, Fuzzer

SEED = int(os.environ.get("DUBAN_FUZZ_SEED", "20260310"))
BATCH = 6  # acts sent before the bot is waited for (it handles them in order)
FORGED_SHARE = 0.15  # of the run, the forged-taps-only phase at the end
# Tables whose rows change without anyone acting (the inbox of updates, menus, sweeps).
UNWATCHED = {"inbox", "menu_states", "sweep_runs"}
ROOT = Path(__file__).resolve().parents[2]

STRANGERS = ("陌生人甲", "陌生人乙")
# The office's item buttons: submit, archive, files, 催办, the draft's edits, withdrawing and
# deleting it, the changes proposed for an approved item, 中止/恢复/撤销 and its own result.
_OFFICE_ITEM = ("i:sub", "i:arc", "i:att", "i:urg", "i:ttl", "i:req", "i:dl", "i:au", "i:ru", "i:lu", "i:wd",
                "i:del", "i:ca", "i:cd", "i:cr", "i:ct", "i:cu", "i:cud", "i:sus", "i:res", "i:can", "i:ofr")
# Besides: /people (pp:), the holiday schedule (sch:), the monthly report (rp:), /stats (st:), the
# digest's chart (dg:), /outbox (ob:) and /audit (au:) — what each role's own commands offer.
_OFFICE_DESK = ("new:", "rec:", "sa:", "inv:", "sc:", "ob:", "pp:", "sch:", "rp:", "st:", "dg:")
OWN_CODE = {"office": (*_OFFICE_ITEM, "x:", "t:", "r:", *_OFFICE_DESK),
            "office_head": ("i:ok", "i:no", "g:", "y:", "au:", *_OFFICE_DESK),
            "leader": ("l:", "st:", "dg:")}


# --------------------------------------------------------------------------------------------
# What went wrong
# --------------------------------------------------------------------------------------------


def _where(exc: BaseException) -> str:
    """The innermost frame of the project (not the emulator, not a library) the exception passed."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f.filename.startswith(str(ROOT)) and "/emulator/" not in f.filename
            and "/.venv/" not in f.filename and "/tests/" not in f.filename]
    if not (ours or frames):
        return "?"
    frame = (ours or frames)[-1]
    return f"{frame.filename.removeprefix(str(ROOT) + '/')}:{frame.lineno} {frame.name}"


def _update_kind(update: object) -> str:
    for kind in ("message", "edited_message", "callback_query", "my_chat_member"):
        if getattr(update, kind, None) is not None:
            return kind
    return type(update).__name__


@dataclass
class Crashes:
    by_site: Counter = field(default_factory=Counter)  # (type, where) → count
    examples: dict = field(default_factory=dict)  # (type, where) → a short description of the update
    kinds: dict = field(default_factory=dict)  # (type, where) → Counter of update kinds

    def add(self, exc: BaseException, update: object) -> None:
        key = (type(exc).__name__, _where(exc))
        self.by_site[key] += 1
        self.kinds.setdefault(key, Counter())[_update_kind(update)] += 1
        if key not in self.examples:
            self.examples[key] = f"{exc!r}"[:160] + " ← " + _describe_update(update)

    @property
    def total(self) -> int:
        return sum(self.by_site.values())

    def table(self) -> str:
        return "\n".join(f"{n:5d}  {t} at {w}  {dict(self.kinds[(t, w)])}\n       e.g. {self.examples[(t, w)]}"
                         for (t, w), n in self.by_site.most_common())


def _describe_update(update: object) -> str:
    message = getattr(update, "effective_message", None)
    query = getattr(update, "callback_query", None)
    if query is not None:
        return f"tap {query.data!r:.80}"
    if message is not None:
        body = message.text or message.caption or ("<photo>" if message.photo else "")
        doc = f" file={message.document.file_name!r:.60}" if message.document else ""
        return f"{_update_kind(update)} {body!r:.80}{doc}"
    return _update_kind(update)


class _GateErrors(logging.Handler):
    """Exceptions a handler caught and logged itself instead of letting them reach the error handler
    (a gate that fails closed logs ``event=gate_error``) are crashes all the same."""

    def __init__(self, crashes: Crashes) -> None:
        super().__init__(logging.ERROR)
        self.crashes = crashes

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None and "handler_error" not in record.getMessage() \
                and record.name.startswith("duban"):
            self.crashes.add(record.exc_info[1], None)


# --------------------------------------------------------------------------------------------
# The world
# --------------------------------------------------------------------------------------------


@dataclass
class World:
    c: DemoCounty
    people: dict  # name → driver Person (bound people, the config admin and strangers)
    seeded: dict  # item id → (title, requirements, confidential)


async def build(c: DemoCounty, demo_item) -> World:  # noqa: ANN001
    h = c.h
    services = h.app.bot_data["services"]
    await seed_items(h.db, await services.calendar(), h.clock.now(), c.rows)
    await demo_item("县城集中供热管网维修改造", assists=("县交通运输局",))
    await demo_item("农贸市场食品安全专项检查", lead="县财政局", approve=False)
    await demo_item("涉密督办事项甲号专项", confidential=True, importance="urgent", days=5)
    await h.settle()
    people = dict(c.people)
    people["配置管理员"] = h.emu.person("配置管理员", user_id=ADMIN_ID)
    for name in STRANGERS:
        people[name] = h.emu.person(name)
    async with h.db.session() as s:
        seeded = {i.id: (i.title, i.requirements, i.confidential) for i in (await s.scalars(select(Item))).all()}
    return World(c, people, seeded)


class ChatView:
    """``fuzz_updates.View`` over the emulator's chats."""

    def __init__(self, world: World) -> None:
        self.emu, self.people = world.c.h.emu, world.people

    def _buttons_in(self, chat_id: int) -> list[tuple[int, int, str]]:
        chat = self.emu.chats[chat_id]
        return [(chat_id, mid, b["callback_data"]) for mid, msg in chat.messages.items()
                for row in msg.get("reply_markup", {}).get("inline_keyboard", []) for b in row
                if "callback_data" in b]

    def buttons(self, who: str) -> list[tuple[int, int, str]]:
        return self._buttons_in(self.people[who].id)

    def other_buttons(self, who: str) -> list[tuple[int, int, str]]:
        me = self.people[who].id
        return [b for p in self.people.values() if p.id != me for b in self._buttons_in(p.id)]

    def own_messages(self, who: str) -> list[tuple[int, bool]]:
        uid = self.people[who].id
        return [(mid, "text" in m) for mid, m in self.emu.chats[uid].messages.items()
                if m["from"]["id"] == uid and ("text" in m or "caption" in m)][-30:]

    def bot_messages(self, who: str) -> list[int]:
        uid = self.people[who].id
        return [mid for mid, m in self.emu.chats[uid].messages.items() if m["from"]["id"] == self.emu.bot_id][-30:]

    def next_message_id(self, who: str) -> int:
        return self.emu.chats[self.people[who].id].next_message_id


async def perform(world: World, act: Act) -> bool:
    """Cause the update; False when the emulator refuses it as Telegram would (then nothing is sent)."""
    emu = world.c.h.emu
    uid = world.people[act.who].id
    emu.user_pause()
    try:
        if act.kind == "text":
            await emu.user_sends(uid, act.text, reply_to=act.reply_to)
        elif act.kind == "blank":  # a tampered client: Telegram itself refuses blank texts
            _inject(emu, uid, {"text": act.text})
        elif act.kind == "edit":
            await emu.user_edits(uid, act.message_id, act.text)
        elif act.kind == "photo":
            await emu.user_sends(uid, photo=act.payload, caption=act.text, reply_to=act.reply_to)
        elif act.kind == "document" and not act.filename:  # a document without a file name
            doc = emu.files.add_document(act.payload, None, act.mime_type)
            _inject(emu, uid, {"document": doc, **({"caption": act.text} if act.text else {})}, act.reply_to)
        elif act.kind == "document":
            await emu.user_sends(uid, document=act.payload, filename=act.filename, mime_type=act.mime_type,
                                 caption=act.text, reply_to=act.reply_to)
        elif act.kind == "tap":
            if act.message_id not in emu.chats[act.chat_id].messages:
                return False
            await emu.press_button(uid, act.chat_id, act.message_id, act.data)
        elif act.kind == "forge":
            await emu.press_button(uid, act.chat_id or uid, act.message_id, act.data, forged=True)
        else:
            raise AssertionError(act.kind)
    except (ValueError, KeyError, RuntimeError):
        return False
    return True


def _inject(emu, uid: int, content: dict, reply_to: int | None = None) -> None:  # noqa: ANN001
    chat = emu.chats[uid]
    target = chat.messages.get(reply_to) if reply_to else None
    msg = emu._store(chat, emu.users[uid], content,
                     reply_to={k: v for k, v in target.items() if k != "reply_to_message"} if target else None)
    emu._enqueue("message", msg)


# --------------------------------------------------------------------------------------------
# Who may see and change what
# --------------------------------------------------------------------------------------------


async def entitled(world: World) -> dict[int, set[str]]:
    """item id → names of the people who may read its title: office, its leaders, its units' people."""
    c = world.c
    async with c.h.db.session() as s:
        units = {}
        for item_id, unit_id in (await s.execute(select(Assignment.item_id, Assignment.unit_id))).all():
            units.setdefault(item_id, set()).add(unit_id)
        leaders = {}
        for item_id, person_id in (await s.execute(select(ItemLeader.item_id, ItemLeader.person_id))).all():
            leaders.setdefault(item_id, set()).add(person_id)
    result = {}
    for item_id, (_, _, confidential) in world.seeded.items():
        names = set()
        if not confidential:
            for name, row in c.rows.items():
                if row.has_role("office", "office_head") or row.id in leaders.get(item_id, ()) or (
                        row.has_role("liaison", "unit_head") and row.unit_id in units.get(item_id, ())):
                    names.add(name)
            names.add("配置管理员")  # an office admin from the config
        result[item_id] = names
    return result


def _fragments(title: str, requirements: str, confidential: bool = False) -> list[str]:
    """What would give an item away. A confidential item's neutral label travels by design (number
    and label, bot.domain.confidential); a title that is not such a label never does."""
    shown = [] if confidential and is_label(title) else [title]
    return shown + [requirements[:16]] if len(requirements) >= 12 else shown


class Deliveries:
    """Everything the bot put in front of each person: messages, edits, alerts, file names."""

    def __init__(self, world: World) -> None:
        self.emu = world.c.h.emu
        self.names = {p.id: n for n, p in world.people.items()}
        self.seen: list[tuple[str, str]] = []  # (name, text)
        self.sub = self.emu.subscribe()

    def collect(self) -> None:
        while not self.sub.queue.empty():
            event = self.sub.queue.get_nowait()
            if event.kind in ("message", "edit"):
                msg = event.data
                if msg["from"]["id"] != self.emu.bot_id or event.chat_id not in self.names:
                    continue
                parts = [msg.get("text") or "", msg.get("caption") or "",
                         (msg.get("document") or {}).get("file_name") or ""]
                parts += [b["text"] for row in msg.get("reply_markup", {}).get("inline_keyboard", []) for b in row]
                self.seen.append((self.names[event.chat_id], "\n".join(parts)))
            elif event.kind == "callback_answer" and event.data.get("text"):
                self.seen.append((self.names.get(event.data["user_id"], "?"), event.data["text"]))

    def leaks(self, seeded: dict, may_see: dict[int, set[str]]) -> list[str]:
        found = []
        for item_id, (title, requirements, confidential) in seeded.items():
            fragments = _fragments(title, requirements, confidential)
            for name, text in self.seen:
                if name not in may_see[item_id] and any(f in text for f in fragments):
                    found.append(f"{name} saw item {item_id} ({title}): {text[:120]!r}")
        return found


class Owners:
    """Which records a person may legitimately act on: a forged tap must stay out of these."""

    def __init__(self, assignment_unit: dict, milestone_unit: dict, record_unit: dict,
                 item_units: dict[int, set[int]], item_leaders: dict[int, set[int]]) -> None:
        self.assignment_unit, self.milestone_unit, self.record_unit = assignment_unit, milestone_unit, record_unit
        self.item_units, self.item_leaders = item_units, item_leaders

    @classmethod
    async def load(cls, db) -> Owners:  # noqa: ANN001
        async with db.session() as s:
            a = dict((await s.execute(select(Assignment.id, Assignment.unit_id))).all())
            m = dict((await s.execute(select(Milestone.id, Assignment.unit_id).join(
                Plan, Milestone.plan_id == Plan.id).join(Assignment, Plan.assignment_id == Assignment.id))).all())
            r = dict((await s.execute(select(SupervisionRecord.id, SupervisionRecord.unit_id))).all())
            units: dict[int, set[int]] = {}
            for item_id, unit_id in (await s.execute(select(Assignment.item_id, Assignment.unit_id))).all():
                units.setdefault(item_id, set()).add(unit_id)
            leaders: dict[int, set[int]] = {}
            for item_id, person_id in (await s.execute(select(ItemLeader.item_id, ItemLeader.person_id))).all():
                leaders.setdefault(item_id, set()).add(person_id)
        return cls(a, m, r, units, leaders)

    def may_act(self, person, data: str, open_dialog: bool) -> bool:  # noqa: ANN001 — a Person row or None
        """True when ``person`` might really be allowed this tap (it is then no forgery)."""
        if person is None:
            return False
        if data.startswith("ask:"):
            return open_dialog
        for role, prefixes in OWN_CODE.items():
            if person.has_role(role) and data.startswith(prefixes):
                return True
        head, _, tail = data.rpartition(":")
        if head == "i:att" and tail.isdigit():  # 查看附件: the item's leaders, a unit on it (its own files)
            item_id = int(tail)
            return (person.is_principal_leader or person.id in self.item_leaders.get(item_id, ())
                    or (person.has_role("liaison", "unit_head") and person.unit_id in self.item_units.get(item_id, ())))
        if not person.has_role("liaison") or not tail.isdigit():
            return False
        owners = {"a": self.assignment_unit, "m": self.milestone_unit, "c": self.record_unit}.get(head[:1])
        return owners is not None and head[1:2] == ":" and owners.get(int(tail)) == person.unit_id


async def snapshot(db) -> dict[str, set]:  # noqa: ANN001
    tables = {}
    async with db.session() as s:
        for table in Base.metadata.sorted_tables:
            if table.name not in UNWATCHED:
                tables[table.name] = {tuple(map(repr, row)) for row in (await s.execute(select(table))).all()}
    return tables


def changes(before: dict[str, set], after: dict[str, set]) -> dict[str, tuple[int, int]]:
    return {name: (len(after[name] - rows), len(rows - after[name])) for name, rows in before.items()
            if rows != after[name]}


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


@dataclass
class Report:
    crashes: Crashes
    sent: Counter
    leaks: list[str]
    forged_changes: dict
    forged_sent: int
    violations: list[str]


async def fuzz(world: World, updates: int, seed: int) -> Report:
    h = world.c.h
    crashes = Crashes()

    async def record_error(update: object, context) -> None:  # noqa: ANN001
        crashes.add(context.error, update)

    h.app.add_error_handler(record_error)
    gate_errors = _GateErrors(crashes)
    logging.getLogger("duban").addHandler(gate_errors)
    deliveries = Deliveries(world)
    view = ChatView(world)
    names = sorted(world.people)
    async with h.db.session() as s:
        item_ids = list((await s.scalars(select(Item.id))).all())
    rng = random.Random(seed)
    fuzzer = Fuzzer(rng, names, item_ids, item_ids)
    sent: Counter = Counter()
    try:
        mixed = int(updates * (1 - FORGED_SHARE))
        while sum(sent.values()) < mixed:
            for _ in range(BATCH):
                act = fuzzer.next(view)
                if await perform(world, act):
                    sent[act.kind] += 1
            await h.settle()
            deliveries.collect()

        # Forged taps only: close every dialog first, then nothing may change.
        for person in world.people.values():
            for _ in range(3):
                await h.emu.user_sends(person.id, "/cancel")
        await h.settle()
        before, owners, forged = await snapshot(h.db), await Owners.load(h.db), 0
        rows = world.c.rows
        while forged < updates - mixed:
            act = fuzzer.next(view, forging_only=True)
            # The chat's one dialog slot (handlers.context.ChatData) names the open dialog.
            open_dialog = getattr(h.app.chat_data.get(world.people[act.who].id), "open_dialog", None) == "ask"
            if owners.may_act(rows.get(act.who), act.data, open_dialog) or act.who == "配置管理员":
                continue
            if await perform(world, act):
                forged += 1
                sent["forge (forged phase)"] += 1
            if forged % BATCH == 0:
                await h.settle()
        await h.settle()
        deliveries.collect()
        forged_changes = changes(before, await snapshot(h.db))
    finally:
        logging.getLogger("duban").removeHandler(gate_errors)
        h.app.remove_error_handler(record_error)
        deliveries.sub.close()
    leaks = deliveries.leaks(world.seeded, await entitled(world))
    violations = [str(v)[:200] for v in h.emu.violations]
    return Report(crashes, sent, leaks, forged_changes, forged, violations)


async def still_answers(world: World) -> None:
    office = world.people["王敏"]
    for _ in range(3):
        await office.send("/cancel")
    before = len(office.inbox)
    await office.send("/help")
    assert len(office.inbox) == before + 1 and "/items" in office.last.text


def summary(report: Report) -> str:
    return (f"updates sent: {dict(report.sent)}\n"
            f"unhandled exceptions: {report.crashes.total} at {len(report.crashes.by_site)} sites\n"
            f"{report.crashes.table()}\n"
            f"leaks: {len(report.leaks)}\n" + "\n".join(report.leaks[:20]) + "\n"
            f"changes from the forged phase ({report.forged_sent} taps): {report.forged_changes}\n"
            f"Bot API violations: {len(report.violations)}\n" + "\n".join(report.violations[:10]))


async def _run(c: DemoCounty, demo_item, updates: int) -> None:  # noqa: ANN001
    world = await build(c, demo_item)
    report = await fuzz(world, updates, SEED)
    print(summary(report))
    Path(os.environ.get("DUBAN_FUZZ_REPORT", "/dev/null")).write_text(summary(report))
    c.h.emu.violations.clear()  # reported here, with the rest
    assert report.crashes.total == 0 and not report.leaks and not report.forged_changes \
        and not report.violations, summary(report)
    await still_answers(world)


async def test_a_few_thousand_random_updates_crash_nothing_leak_nothing_change_nothing(demo_county, demo_item):
    await _run(demo_county, demo_item, int(os.environ.get("DUBAN_FUZZ_UPDATES", "2000")))


@pytest.mark.slow
@pytest.mark.timeout(3600)  # the long fuzz: minutes, not the suite's per-test bound
async def test_ten_thousand_random_updates(request, demo_county, demo_item):
    if "slow" not in (request.config.getoption("markexpr") or "") and not os.environ.get("DUBAN_SLOW"):
        pytest.skip("the 10,000-update fuzz runs with -m slow or DUBAN_SLOW=1")
    await _run(demo_county, demo_item, 10_000)
