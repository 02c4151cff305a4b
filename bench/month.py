"""A county month against the emulator, counting every message people receive (issue 13).

    .venv/bin/python bench/month.py [--seed 13] [--start 2026-09-14] [--days 35] [--bundle-time 16:00]

The real bot (``build_application``: handlers, outbox, the sender with its release hook) runs
against the Telegram emulator on a fake clock that moves in 15-minute steps through days,
nights, weekends, 中秋 and National Day (from the project's calendar). At each step the scripted
county acts (through the domain services, as the chat's handlers call them), the sweeps that
are due run (``run_due``, as the clock job does) and the sender drains the outbox. A message
counts when the emulator delivered it to a person's chat.

The county: 20 units (a liaison and a head each), two office staff (each registers half of the
items: their follower by default), the office head, three leaders. About 60 items: on time,
late, ignored, extended, urgent (followed by 李强, some left overdue over the holiday), long items
with weekly feedback (some units report every week, others never). About one action in six is
taken in the evening (an approval at 21:16, a review at 19:41, a report at 20:30 …).

Figures per role are per person and working day; "routine" leaves out urgent items' messages
(which may come any time). The "before" column is what issue 13 measured on the code before it
(its own simulation, not re-run here: that code is gone). ``--bundle-time`` sets
``[reminders] bundle_time`` (bundling of in-hours information notices, 16:00 by default);
``--bundle-time off`` measures ``bundle_time = false`` (every notice at once in working hours).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import math
import random
import sys
import tempfile
import time as wall
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from bot.domain import assignments as asg
from bot.domain import items as items_svc
from bot.domain import review
from bot.domain.errors import DomainError
from bot.domain.workdays import WorkCalendar
from bot.domain.workflow import DeadlineSpec
from bot.emulator import Emulator
from bot.emulator.ptb_request import EmulatorRequest
from bot.kernel.clock import OFFICE_TZ, FakeClock
from bot.kernel.config import OfficeSettings, Settings, StorageSettings, TelegramSettings
from bot.outbox.pacing import Pacing
from bot.runtime.app import build_application
from bot.runtime.sweeps import run_due
from store.audit import Actor
from store.db import Database
from store.models import OutboxMessage, Person, PersonRole, Unit
from store.urging import Reminder
from store.workflow import Assignment, CompletionReport, ExtensionRequest, Progress

STEP = timedelta(minutes=15)
UNITS = [f"{n}镇" for n in ("城关", "新马桥", "仲兴", "湖沟", "连城", "王庄", "曹老集", "小蚌埠", "刘府", "大庙")] + [
    f"县{n}局" for n in ("交通运输", "住房和城乡建设", "农业农村", "水利", "教育", "卫生健康", "自然资源", "市场监管",
                        "应急管理", "民政")]
OFFICE, HEAD, LEADERS = ("王敏", "李强"), "赵建国", ("陈志远", "刘华", "张伟")
ROLE_TITLES = {"liaison": "联络员", "unit_head": "单位负责人", "office": "督查室工作人员", "office_head": "督查室负责人",
               "leader": "县领导"}
BEFORE = {  # issue 13's measurements of the code before it
    "liaison": "max 5, p95 2", "office": "max 12, mean 7.5", "outside": "348", "digest": "2",
    "repeat": "57", "soon": "17", "monday": "36",
}


def local(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=OFFICE_TZ).astimezone(UTC)


# --------------------------------------------------------------------------------------------
# The county and its script
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class World:
    db: Database
    clock: FakeClock
    calendar: WorkCalendar
    people: dict[str, Person]
    units: dict[str, Unit]
    errors: Counter = dataclasses.field(default_factory=Counter)

    def liaison(self, unit: str) -> Person:
        return self.people[f"{unit}联络员"]


Action = Callable[[World], Awaitable[None]]


class Script:
    """Actions at times; each runs in its own transaction at the first step at or after its time."""

    def __init__(self) -> None:
        self.at: list[tuple[datetime, int, str, Action]] = []

    def add(self, when: datetime, what: str, action: Action) -> None:
        self.at.append((when, len(self.at), what, action))

    def due(self, now: datetime) -> list[tuple[str, Action]]:
        ready = sorted(a for a in self.at if a[0] <= now)
        self.at = [a for a in self.at if a[0] > now]
        return [(what, action) for _, _, what, action in ready]


async def seed(w: World, emu: Emulator) -> None:
    spec = [(n, None, "office") for n in OFFICE] + [(HEAD, None, "office_head")] + [(n, None, "leader") for n in LEADERS]
    for u in UNITS:
        spec += [(f"{u}联络员", u, "liaison"), (f"{u}负责人", u, "unit_head")]
    async with w.db.session(Actor.system("bench"), "bench.seed") as s:
        for u in UNITS:
            w.units[u] = Unit(name=u, kind="部门" if u.startswith("县") else "乡镇", created_at=w.clock.now())
            s.add(w.units[u])
        await s.flush()
        for name, unit, role in spec:
            user = emu.add_user(name)
            p = Person(name=name, unit=w.units[unit] if unit else None, created_at=w.clock.now(),
                       telegram_id=user["id"], phone="13800000000")
            p.role_rows.append(PersonRole(role=role))
            s.add(p)
            w.people[name] = p


def working_days(cal: WorkCalendar, start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)
            if cal.is_working_day(start + timedelta(days=i), provisional=True)]


def after(cal: WorkCalendar, day: date, n: int) -> date:
    return cal.add_working_days(day, n).due if n > 0 else day


class Plot:
    """Builds the month's items and what each unit does with them."""

    def __init__(self, w: World, script: Script, rng: random.Random, start: date, end: date) -> None:
        self.w, self.script, self.rng, self.start, self.end = w, script, rng, start, end
        self.days = working_days(w.calendar, start, end)
        self.n = 0

    def when(self, day: date, evening_share: float = 0.15) -> datetime:
        """A time on ``day``: in working hours mostly, in the evening sometimes."""
        if self.rng.random() < evening_share:
            return local(day, *self.rng.choice(((21, 16), (19, 41), (20, 30), (22, 5))))
        return local(day, self.rng.randint(9, 16), self.rng.choice((0, 15, 30, 45)))

    def item(self, kind: str, day: date) -> None:
        self.n += 1
        n, rng, cal = self.n, self.rng, self.w.calendar
        office = self.w.people[OFFICE[n % 2]]
        lead = UNITS[(n * 7) % len(UNITS)]
        assist = UNITS[(n * 7 + 3) % len(UNITS)] if n % 4 == 0 and kind in ("on_time", "weekly") else None
        urgent = kind.startswith("urgent")
        days = {"urgent_ignored": 3, "urgent": 3, "weekly": 15}.get(kind, 7)
        title = f"第{n}项：{rng.choice(('推进', '落实', '整改', '督办'))}{lead}{rng.choice(('重点工程', '民生实事', '安全隐患', '信访事项'))}"
        register_at = self.when(day, 0.1)
        approve_at = self.when(day, 0.25) if register_at.astimezone(OFFICE_TZ).hour < 17 else register_at + timedelta(minutes=30)
        approve_at = max(approve_at, register_at + timedelta(minutes=15))
        ids: dict[str, int] = {}

        async def register(w: World) -> None:
            async with w.db.session() as s:
                item = await items_svc.register_item(
                    s, office, title=title, requirements=f"{title}：按要求办理并报送情况。", source="leader",
                    importance="urgent" if urgent else "important", lead_unit_id=w.units[lead].id,
                    assisting_unit_ids=[w.units[assist].id] if assist else [], deadline=DeadlineSpec.working_days(days),
                    weekly_feedback=kind == "weekly", follower_id=w.people["李强"].id if urgent else None,
                    leader_ids=[w.people[LEADERS[n % 3]].id], calendar=w.calendar, now=w.clock.now())
                await items_svc.submit_item(s, office, item.id, now=w.clock.now())
                ids["item"] = item.id

        async def approve(w: World) -> None:
            async with w.db.session() as s:
                item = await items_svc.approve_item(s, w.people[HEAD], ids["item"], calendar=w.calendar, now=w.clock.now())
                for a in item.assignments:
                    ids["lead" if a.role == "lead" else "assist"] = a.id

        self.script.add(register_at, f"{n} register", register)
        self.script.add(approve_at, f"{n} approve", approve)
        a_day = approve_at.astimezone(OFFICE_TZ).date()
        if kind in ("ignored", "urgent_ignored"):
            return
        due = after(cal, a_day, days)
        # 签收 within the hour when the notice came in working hours, else the next working morning.
        ack_at = approve_at + timedelta(minutes=45)
        if not (cal.is_working_day(a_day, provisional=True) and approve_at.astimezone(OFFICE_TZ).hour < 16):
            ack_at = local(after(cal, a_day, 1), 9, rng.choice((30, 45)) )
        ack_day = ack_at.astimezone(OFFICE_TZ).date()
        self.liaison_act(ack_day, lead, "ack", ids, at=ack_at)
        if assist:
            self.liaison_act(after(cal, ack_day, 1), assist, "ack", ids, share="assist")
            self.liaison_act(after(cal, a_day, 4), assist, "report", ids, share="assist")
            self.office_act(after(cal, a_day, 5), office, "approve_assist", ids)
        if kind == "weekly":
            steady = n % 10 < 6  # six of ten report every week, the others never
            d = ack_day
            while steady and d < due:
                d = after(cal, d, 5)
                if d < due:
                    self.liaison_act(d, lead, "progress", ids)
            self.liaison_act(after(cal, due, -0) if due <= self.end else self.end, lead, "report", ids)
        else:
            self.liaison_act(after(cal, ack_day, 2), lead, "progress", ids)
            report_day = {"late": after(cal, due, 2), "extended": after(cal, due, 3)}.get(kind, after(cal, a_day, max(1, days - 2)))
            if kind == "extended":
                ask_day = after(cal, a_day, days - 1)
                self.liaison_act(ask_day, lead, "extend", ids, new_due=due + timedelta(days=10), at=local(ask_day, 10))
                self.office_act(ask_day, office, "approve_extension", ids,
                                at=local(ask_day, *rng.choice(((14, 30), (19, 41)))))
            self.liaison_act(report_day, lead, "report", ids)
            self.office_act(after(cal, report_day, 1), office, "approve_report", ids)
            self.leader_act(after(cal, report_day, 2), self.w.people[LEADERS[n % 3]], ids)

    def liaison_act(self, day: date, unit: str, what: str, ids: dict, share: str = "lead",
                    at: datetime | None = None, **kw) -> None:
        if day > self.end:
            return
        person = self.w.liaison(unit)

        async def act(w: World) -> None:
            aid, now = ids.get(share), w.clock.now()
            async with w.db.session() as s:
                if what == "ack":
                    await asg.acknowledge(s, person, aid, now=now)
                elif what == "progress":
                    await asg.add_progress(s, person, aid, text="本周已完成阶段性任务，下周继续推进。", now=now)
                elif what == "report":
                    await asg.submit_report(s, person, aid, text="已按要求办结，附相关材料。", now=now)
                elif what == "extend":
                    await asg.request_extension(s, person, aid, new_due=kw["new_due"], reason="需协调多个部门，申请延期。",
                                                now=now)

        self.script.add(at or self.when(day), f"{unit} {what}", act)

    def office_act(self, day: date, office: Person, what: str, ids: dict, at: datetime | None = None) -> None:
        if day > self.end:
            return

        async def act(w: World) -> None:
            now = w.clock.now()
            async with w.db.session() as s:
                if what == "approve_extension":
                    req = await s.scalar(select(ExtensionRequest.id).where(
                        ExtensionRequest.assignment_id == ids.get("lead"), ExtensionRequest.status == "pending"))
                    await asg.approve_extension(s, office, req, now=now)
                else:
                    share = "assist" if what == "approve_assist" else "lead"
                    rep = await s.scalar(select(CompletionReport.id).where(
                        CompletionReport.assignment_id == ids.get(share), CompletionReport.status == "pending"))
                    await review.approve_report(s, office, rep, now=now)

        self.script.add(at or self.when(day, 0.2), f"office {what}", act)

    def leader_act(self, day: date, leader: Person, ids: dict) -> None:
        if day > self.end:
            return

        async def act(w: World) -> None:
            async with w.db.session() as s:
                await review.leader_agree(s, leader, ids["item"], now=w.clock.now())

        self.script.add(self.when(day, 0.2), "leader agree", act)

    def month(self) -> None:
        early = [d for d in self.days if d < date(2026, 10, 1)] or self.days
        kinds = (["on_time"] * 22 + ["late"] * 8 + ["ignored"] * 8 + ["extended"] * 6 + ["weekly"] * 10)
        self.rng.shuffle(kinds)
        spread = self.days[: max(1, len(self.days) * 3 // 4)]
        for i, kind in enumerate(kinds):
            self.item(kind, spread[(i * len(spread)) // len(kinds)])
        # Urgent items just before the holiday: three handled, three left overdue over it.
        for i, kind in enumerate(["urgent", "urgent_ignored"] * 3):
            self.item(kind, early[-4 + i % 3] if len(early) >= 4 else early[0])


# --------------------------------------------------------------------------------------------
# Running and measuring
# --------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    started = wall.perf_counter()
    # In memory where the system has it: the month commits tens of thousands of small transactions,
    # and what is measured is who gets what, not the disk's fsync.
    tmp = tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None)
    start = date.fromisoformat(args.start)
    end = start + timedelta(days=args.days - 1)
    clock = FakeClock(local(start, 0))
    db = Database(f"sqlite:///{tmp.name}/month.sqlite3", now=clock.now)
    await db.upgrade()
    emu = Emulator(token="123456:MONTH-bench", bot_username="duban_month_bot", limits=None)
    off = args.bundle_time == "off"
    reminders = dataclasses.replace(Settings().reminders,
                                    bundle_time=None if off else time.fromisoformat(args.bundle_time))
    settings = Settings(office=OfficeSettings(name="某县人民政府督查室"), storage=StorageSettings(files_dir=f"{tmp.name}/files"),
                        telegram=TelegramSettings(token=emu.token), reminders=reminders)
    app = build_application(settings, db, clock, request=EmulatorRequest(emu), get_updates_request=EmulatorRequest(emu),
                            start_jobs=False)
    await app.initialize()
    services = app.bot_data["services"]
    sender = services.sender
    sender.pacing = Pacing(overall_per_second=10_000, per_chat_burst=10_000)
    calendar = await services.calendar()
    w = World(db, clock, calendar, {}, {})
    await seed(w, emu)
    script = Script()
    Plot(w, script, random.Random(args.seed), start, end).month()
    by_user = {p.telegram_id: p for p in w.people.values()}
    delivered: list[tuple[datetime, int]] = []  # (step time, telegram user id)
    seen = Counter()
    now = clock.now()
    steps = 0
    while now < local(end + timedelta(days=1), 0):
        clock.set(now)
        for what, action in script.due(now):
            try:
                await action(w)
            except (DomainError, KeyError, TypeError) as exc:  # a script step the state no longer allows
                w.errors[f"{what.split(' ', 1)[-1]}: {type(exc).__name__}"] += 1
        await run_due(services, now)
        await sender.drain_all()
        for uid in by_user:
            n = len(emu.chats[uid].messages)  # only the bot writes in this month
            if n > seen[uid]:
                delivered.extend((now, uid) for _ in range(n - seen[uid]))
                seen[uid] = n
        now += STEP
        steps += 1
    await app.shutdown()
    await report(w, settings, delivered, by_user, start, end, steps, wall.perf_counter() - started, args)
    await db.dispose()
    tmp.cleanup()


def pct(values: list[int], q: float) -> int:
    if not values:
        return 0
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


async def report(w: World, settings: Settings, delivered: list, by_user: dict, start: date, end: date, steps: int,
                 seconds: float, args: argparse.Namespace) -> None:
    cal, r = w.calendar, settings.reminders
    async with w.db.session() as s:
        rows = (await s.execute(
            select(OutboxMessage.id, OutboxMessage.person_id, OutboxMessage.sent_at, OutboxMessage.urgent,
                   OutboxMessage.text, OutboxMessage.dedupe_key, OutboxMessage.kind)
            .where(OutboxMessage.status == "sent").order_by(OutboxMessage.id))).all()
        roles = defaultdict(set)
        for pid, role in (await s.execute(select(PersonRole.person_id, PersonRole.role))).all():
            roles[role].add(pid)
        soon = (await s.execute(
            select(Reminder.assignment_id, OutboxMessage.sent_at).join(OutboxMessage, OutboxMessage.id == Reminder.outbox_id)
            .where(Reminder.level == "due_soon", OutboxMessage.status == "sent"))).all()
        progress = defaultdict(list)
        for aid, at in (await s.execute(select(Progress.assignment_id, Progress.created_at))).all():
            progress[aid].append(at)
        items = await s.scalar(select(Assignment.item_id).order_by(Assignment.item_id.desc()).limit(1))

    def loc(at: datetime) -> datetime:
        return at.astimezone(OFFICE_TZ)

    def working(at: datetime) -> bool:
        lt = loc(at)
        return cal.is_working_day(lt.date(), provisional=True) and r.work_start <= lt.time() < r.work_end

    days = working_days(cal, start, end)
    per = defaultdict(Counter)  # (person, day) routine messages
    for _id, pid, sent_at, urgent, _text, _key, _kind in rows:
        if not urgent:
            per[pid][loc(sent_at).date()] += 1
    print(f"month simulation: {start} … {end}, {len(days)} working days, {len(UNITS)} units, {items} items, "
          f"{steps} steps of 15 min; bundle_time = {args.bundle_time}; {len(rows)} messages delivered "
          f"(the emulator counted {len(delivered)}); {seconds:.0f} s")
    if w.errors:
        print(f"  script steps the state refused (skipped): {dict(w.errors)}")
    print()
    print("| figure | goal | before (issue 13) | measured |")
    print("|---|---|---|---|")
    for role in ("liaison", "unit_head", "office", "office_head", "leader"):
        counts = [per[pid][d] for pid in roles[role] for d in days]
        goal = {"liaison": "max 2", "office": "≤ 4"}.get(role, "")
        before = BEFORE.get(role, "")
        print(f"| routine messages per {ROLE_TITLES[role]} and working day (max / p95 / mean) | {goal} | {before} | "
              f"{max(counts, default=0)} / {pct(counts, 0.95)} / {sum(counts) / max(1, len(counts)):.2f} "
              f"({sum(1 for c in counts if c > 2)} of {len(counts)} person-days over 2) |")
    outside = [row for row in rows if not row.urgent and not working(row.sent_at)]
    urgent_outside = sum(1 for row in rows if row.urgent and not working(row.sent_at))
    print(f"| non-urgent messages outside working hours | 0 | {BEFORE['outside']} | {len(outside)} "
          f"(urgent ones: {urgent_outside}) |")
    digests = Counter((pid, loc(at).date()) for _id, pid, at, _u, _t, key, _k in rows
                      if key and key.startswith("digest:"))
    leader_days = [digests[(pid, d)] for pid in roles["leader"] for d in days]
    print(f"| messages per digest / digests per leader-day (max) | 1 | {BEFORE['digest']} | 1 / "
          f"{max(leader_days, default=0)} ({sum(leader_days)} digests to leaders) |")
    by_person = defaultdict(list)
    for _id, pid, at, urgent, text, _key, _kind in rows:
        by_person[pid].append((loc(at).date(), text, loc(at).strftime("%m-%d %H:%M"), urgent))
    repeats = 0
    for msgs in by_person.values():
        for (d1, t1, _, _), (d2, t2, _, _) in zip(msgs, msgs[1:], strict=False):
            off = not cal.is_working_day(d1, provisional=True) and not cal.is_working_day(d2, provisional=True)
            if off and d2 == d1 + timedelta(days=1) and t1 == t2:
                repeats += 1
    print(f"| identical reminder text on consecutive days off | 0 | {BEFORE['repeat']} | {repeats} |")
    stale = sum(1 for aid, at in soon if any(at - timedelta(hours=48) <= p <= at for p in progress.get(aid, ())))
    print(f"| 即将到期 for an item with progress within 48 h | 0 | {BEFORE['soon']} | {stale} |")
    double = 0
    for pid in roles["liaison"]:
        per_day = defaultdict(list)
        for d, text, hhmm, urgent in by_person.get(pid, ()):
            if not urgent:  # an urgent item's reminder may come on its own, at any time
                per_day[d].append(f"{hhmm} {text}")
        for texts in per_day.values():
            if any("督办提醒" in t and "每周反馈提醒" not in t for t in texts) and any(
                    "每周反馈提醒" in t and "督办提醒" not in t for t in texts):
                double += 1
                if args.verbose:
                    print("  double:", pid, [t[:30].replace("\n", " ") for t in texts])
    print(f"| liaison-days with the routine round and the weekly reminder as two messages | 0 | {BEFORE['monday']} | {double} |")
    print("| a reply to a reminder: one item recorded, several asked | recorded / asked | not recorded / "
          "first item | tests/e2e/test_respect.py (not simulated here) |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--start", default="2026-09-14")
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--bundle-time", default="16:00", help='"HH:MM" (16:00: the default), or "off"')
    parser.add_argument("--verbose", action="store_true", help="print the cases that miss a goal")
    asyncio.run(run(parser.parse_args()))
