"""The daily digest (每日督办摘要) for each county leader and for the office.

A leader's digest covers the items they are responsible for (审阅领导); the office's covers every
item. Sections: new items (approved since the previous digest), due within 3 working days,
overdue by unit, completed (closed since the previous digest) and what waits for this person's
decision (leader: results to review; office head: items to approve; office: completion reports
to review and extension/transfer requests). The office also sees the messages that could not be
delivered. Assignments overdue by ``[reminders] leader_after_days`` working days or more are the
last rung of the 催办 ladder: they are listed for the responsible leader and recorded as
``overdue_leader`` reminders.

One message, split at line boundaries under Telegram's 4096 characters, plus a status chart
(``bot.digest_chart``) sent as a photo when there is something to chart. Sent on working days
at ``[digest] time``; a scheduled round that finds nothing worth saying sends nothing, ``/digest``
always answers. Confidential items show their number only.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.digest_chart import ChartData, UnitBar, draw_status_chart
from bot.domain.directory import people_with_role
from bot.domain.urging import (
    OVERDUE_LEADER,
    Policy,
    SweepResult,
    Undelivered,
    _insert,
    days_text,
    is_working_day,
    item_buttons,
    leader_escalated,
    undelivered,
)
from bot.domain.workdays import WorkCalendar
from bot.domain.workflow import (
    ACTIVE_ASSIGNMENT_STATES,
    OPEN_ITEM_STATES,
    UNIT_ROLES_OF_ASSIGNMENT,
    YELLOW_DAYS,
    due_text,
    format_number,
)
from bot.outbox import enqueue
from bot.render import render
from store.models import OutboxMessage, Person, Unit
from store.urging import Reminder
from store.workflow import Assignment, CompletionReport, ExtensionRequest, Item, ItemLeader, Transfer

log = logging.getLogger("duban.digest")

TELEGRAM_LIMIT = 4096
MARKER_ROOM = 20  # "\n\n（12/12，完）" after a split
MAX_LINES = 20  # per list section
MAX_UNITS = 15  # units listed under 超期
MAX_PER_UNIT = 6  # overdue items listed per unit
LEADER, OFFICE = "leader", "office"


@dataclass(frozen=True)
class Line:
    """One item (or one unit's share of it) in a section; ``title`` is None when confidential."""

    item_id: int
    label: str
    title: str | None
    unit: str | None = None
    role: str | None = None
    due: str | None = None
    days: str | None = None
    note: str | None = None
    escalated: bool = False


@dataclass
class UnitGroup:
    unit: str
    count: int
    lines: list[Line]

    @property
    def more(self) -> int:
        return self.count - len(self.lines)


@dataclass
class Waiting:
    title: str
    lines: list[Line]
    count: int

    @property
    def more(self) -> int:
        return self.count - len(self.lines)


@dataclass
class Digest:
    person_id: int
    name: str
    audience: str  # leader | office
    day: date
    since: datetime
    open_counts: dict[str, int]  # green / yellow / red assignments
    new_items: list[Line] = field(default_factory=list)
    due_soon: list[Line] = field(default_factory=list)
    due_soon_count: int = 0
    overdue: list[UnitGroup] = field(default_factory=list)
    overdue_count: int = 0
    escalated: list[Line] = field(default_factory=list)
    escalated_ids: list[int] = field(default_factory=list)  # assignment ids
    completed: list[Line] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)
    undelivered: list[Undelivered] = field(default_factory=list)
    chart: ChartData | None = None
    leader_after_days: int = 3

    @property
    def empty(self) -> bool:
        """Nothing worth a scheduled message (all open items on track, nothing new)."""
        return not (self.new_items or self.due_soon or self.overdue or self.completed or self.waiting
                    or self.undelivered)

    def buttons_for(self) -> list[tuple[int, str]]:
        """Items worth opening from the digest: escalated, overdue, due soon, waiting."""
        out = [(x.item_id, x.label) for x in self.escalated]
        out += [(x.item_id, x.label) for g in self.overdue for x in g.lines]
        out += [(x.item_id, x.label) for x in self.due_soon]
        out += [(x.item_id, x.label) for w in self.waiting for x in w.lines]
        return out


# --------------------------------------------------------------------------------------------
# Gathering
# --------------------------------------------------------------------------------------------


def previous_digest_time(calendar: WorkCalendar, policy: Policy, settings: Settings, now: datetime) -> datetime:
    """The digest time of the working day before today: "new" and "completed" count from there."""
    day = policy.day(now)
    for _ in range(60):
        day -= timedelta(days=1)
        if is_working_day(calendar, day):
            break
    return policy.at(day, settings.digest.time)


def _label(item_id: int, year: int | None, number: int | None) -> str:
    return format_number(year, number) or f"登记号{item_id}"


@dataclass
class _Scope:
    """What a leader's or the office's digest reads, gathered once and shared by the office staff."""

    lines_due: list[tuple[int, Line]]  # (days_left, line)
    lines_over: list[tuple[int, int, Line]]  # (days_left, assignment_id, line)
    counts: dict[str, int]
    bars: list[UnitBar]
    new_items: list[Line]
    completed: list[Line]


async def _scope(session: AsyncSession, leader_id: int | None, calendar: WorkCalendar, policy: Policy,
                 now: datetime, since: datetime) -> _Scope:
    today = policy.day(now)
    mine = None
    if leader_id is not None:
        mine = Item.id.in_(select(ItemLeader.item_id).where(ItemLeader.person_id == leader_id))
    q = (select(Assignment.id, Assignment.role, Assignment.due_date, Assignment.due_provisional, Unit.name,
                Item.id, Item.year, Item.number, Item.title, Item.confidential)
         .join(Item, Item.id == Assignment.item_id).join(Unit, Unit.id == Assignment.unit_id)
         .where(Assignment.state.in_(sorted(ACTIVE_ASSIGNMENT_STATES)),
                Item.state.in_(sorted(OPEN_ITEM_STATES - {"draft", "pending"})))
         .order_by(Assignment.due_date, Item.id, Assignment.id))
    if mine is not None:
        q = q.where(mine)
    counts = {"green": 0, "yellow": 0, "red": 0}
    per_unit: dict[str, dict[str, int]] = defaultdict(lambda: {"green": 0, "yellow": 0, "red": 0})
    due_lines: list[tuple[int, Line]] = []
    over_lines: list[tuple[int, int, Line]] = []
    for aid, role, due, prov, unit, iid, year, number, title, conf in await session.execute(q):
        if due is None:
            continue
        left = calendar.working_days_left(today, due)
        code = "red" if left < 0 else "yellow" if left <= YELLOW_DAYS else "green"
        counts[code] += 1
        per_unit[unit][code] += 1
        if code == "green":
            continue
        line = Line(iid, _label(iid, year, number), None if conf else title, unit,
                    UNIT_ROLES_OF_ASSIGNMENT.get(role, role), due_text(due, bool(prov)),
                    "今天到期" if left == 0 else days_text("", left))
        if code == "yellow":
            due_lines.append((left, line))
        else:
            over_lines.append((left, aid, line))

    items_q = select(Item.id, Item.year, Item.number, Item.title, Item.confidential, Item.due_date,
                     Item.due_provisional, Item.approved_at, Item.closed_at)
    if mine is not None:
        items_q = items_q.where(mine)
    new_items, completed = [], []
    for iid, year, number, title, conf, due, prov, approved_at, closed_at in await session.execute(
            items_q.where(or_(Item.approved_at >= since, Item.closed_at >= since)).order_by(Item.id)):
        line = Line(iid, _label(iid, year, number), None if conf else title, due=due_text(due, bool(prov)))
        if approved_at is not None and approved_at >= since:
            new_items.append(line)
        if closed_at is not None and closed_at >= since:
            completed.append(line)
    bars = [UnitBar(unit, c["green"], c["yellow"], c["red"]) for unit, c in per_unit.items()]
    return _Scope(due_lines, over_lines, counts, bars, new_items, completed)


async def _waiting(session: AsyncSession, person: Person) -> list[Waiting]:
    """What waits for this person's decision, by role."""
    out: list[Waiting] = []

    async def section(title: str, rows) -> None:  # noqa: ANN001
        lines = [Line(iid, _label(iid, y, n), None if c else t, unit=u, note=note) for iid, y, n, t, c, u, note in rows]
        if lines:
            out.append(Waiting(title, lines[:MAX_LINES], len(lines)))

    item_cols = (Item.id, Item.year, Item.number, Item.title, Item.confidential)
    if person.has_role("leader"):
        rows = await session.execute(
            select(*item_cols).join(ItemLeader, ItemLeader.item_id == Item.id)
            .where(ItemLeader.person_id == person.id, Item.state == "leader_review").order_by(Item.id))
        await section("待您审阅的办理结果", [(i, y, n, t, c, None, None) for i, y, n, t, c in rows])
    if person.has_role("office_head"):
        rows = await session.execute(select(*item_cols).where(Item.state == "pending").order_by(Item.id))
        await section("待您审批的立项", [(i, y, n, t, c, None, None) for i, y, n, t, c in rows])
    if person.has_role("office"):
        for title, model, note in (("待审核的办结报告", CompletionReport, "办结报告"),
                                   ("待审批的延期申请", ExtensionRequest, "申请延期"),
                                   ("待审批的转办申请", Transfer, "申请转办")):
            rows = await session.execute(
                select(*item_cols, Unit.name).join(Assignment, Assignment.item_id == Item.id)
                .join(model, model.assignment_id == Assignment.id).join(Unit, Unit.id == Assignment.unit_id)
                .where(model.status == "pending").order_by(model.id))
            await section(title, [(i, y, n, t, c, u, note) for i, y, n, t, c, u in rows])
    return out


async def build_digest(session: AsyncSession, person: Person, calendar: WorkCalendar, now: datetime,
                       settings: Settings, *, cache: dict | None = None) -> Digest | None:
    """The digest for ``person`` (a leader or office person); None for anyone else."""
    policy = Policy.from_settings(settings)
    if person.has_role("office", "office_head"):
        audience, scope_key = OFFICE, None
    elif person.has_role("leader"):
        audience, scope_key = LEADER, person.id
    else:
        return None
    since = previous_digest_time(calendar, policy, settings, now)
    cache = {} if cache is None else cache
    key = ("scope", scope_key)
    if key not in cache:
        cache[key] = await _scope(session, scope_key, calendar, policy, now, since)
    sc: _Scope = cache[key]
    r = settings.reminders
    d = Digest(person.id, person.name, audience, policy.day(now), since, dict(sc.counts),
               leader_after_days=r.leader_after_days)
    d.new_items = sc.new_items[:MAX_LINES]
    d.completed = sc.completed[:MAX_LINES]
    d.due_soon_count = len(sc.lines_due)
    d.due_soon = [line for _, line in sorted(sc.lines_due, key=lambda x: x[0])[:MAX_LINES]]

    over = sorted(sc.lines_over, key=lambda x: x[0])  # most overdue first
    d.overdue_count = len(over)
    by_unit: dict[str, list[Line]] = defaultdict(list)
    for left, aid, line in over:
        esc = leader_escalated(left, r)
        by_unit[line.unit or ""].append(replace(line, escalated=esc))
        if esc:
            d.escalated_ids.append(aid)
            if len(d.escalated) < MAX_LINES:
                d.escalated.append(line)
    units = sorted(by_unit.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    d.overdue = [UnitGroup(unit, len(lines), lines[:MAX_PER_UNIT]) for unit, lines in units[:MAX_UNITS]]
    d.waiting = await _waiting(session, person)
    if audience == OFFICE:
        ukey = ("undelivered",)
        if ukey not in cache:
            cache[ukey] = await undelivered(session, since)
        d.undelivered = cache[ukey][:MAX_LINES]
    if settings.digest.chart and any(b.total for b in sc.bars):
        title = f"{'全县' if audience == OFFICE else '您负责的'}督办事项状态（{d.day.isoformat()}）"
        d.chart = ChartData(title, tuple(sc.bars))
    return d


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_message(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Parts under ``limit`` (UTF-16 units, as Telegram counts), cut between sections where possible,
    else between lines. Every line of our templates closes its own tags, so no cut breaks markup."""
    parts: list[str] = []
    current = ""
    for block in text.split("\n\n"):
        candidate = f"{current}\n\n{block}" if current else block
        if utf16_len(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
            current = ""
        if utf16_len(block) <= limit:
            current = block
            continue
        for line in block.split("\n"):
            if utf16_len(line) > limit:  # cannot happen with our templates; cut plain text safely
                line = line[: limit // 2]
            candidate = f"{current}\n{line}" if current else line
            if utf16_len(candidate) <= limit:
                current = candidate
            else:
                parts.append(current)
                current = line
    if current:
        parts.append(current)
    return parts


def render_digest(d: Digest) -> list[str]:
    """The digest as one or more message parts (each under Telegram's limit)."""
    text = render("digest/digest.html.j2", d=d)
    parts = split_message(text, TELEGRAM_LIMIT - MARKER_ROOM)
    if len(parts) > 1:  # room for the marker was left by the split (TELEGRAM_LIMIT - MARKER_ROOM)
        parts = [f"{p}\n\n{render('digest/part.html.j2', i=i, n=len(parts))}" for i, p in enumerate(parts, 1)]
    return parts


def chart_path(settings: Settings, d: Digest, now: datetime) -> Path:
    scope = "office" if d.audience == OFFICE else f"leader-{d.person_id}"
    stamp = now.strftime("%Y%m%dT%H%M%S")
    return Path(settings.storage.files_dir) / "digest" / d.day.isoformat() / f"{scope}-{stamp}.png"


async def draw_chart(d: Digest, settings: Settings, now: datetime, cache: dict | None = None) -> Path | None:
    """The chart file for this digest (drawn in a worker thread; shared by the office staff)."""
    if d.chart is None or not d.chart.worth_drawing:
        return None
    path = chart_path(settings, d, now)
    key = ("chart", str(path))
    if cache is not None and key in cache:
        return cache[key]
    try:
        result = await asyncio.to_thread(draw_status_chart, d.chart, path)
    except Exception:  # noqa: BLE001 — a chart is a convenience; the text still goes
        log.exception("event=chart_failed path=%s", path)
        result = None
    if cache is not None:
        cache[key] = result
    return result


# --------------------------------------------------------------------------------------------
# Queueing
# --------------------------------------------------------------------------------------------


def dedupe_prefix(person_id: int, day: date) -> str:
    return f"digest:{person_id}:{day.isoformat()}"


async def queue_digest(session: AsyncSession, person: Person, d: Digest, now: datetime, settings: Settings,
                       cache: dict | None = None) -> int:
    """Queue the digest's parts and chart for ``person``; record the leader rung. Returns messages queued."""
    prefix = dedupe_prefix(person.id, d.day)
    parts = render_digest(d)
    queued = 0
    first_id = None
    buttons = item_buttons(d.buttons_for())
    for i, part in enumerate(parts, 1):
        row = await enqueue(session, person, part, now=now, dedupe_key=f"{prefix}:{i}",
                            buttons=buttons if i == len(parts) and buttons else None)
        if row is not None:
            queued += 1
            first_id = first_id or row.id
    path = await draw_chart(d, settings, now, cache)
    if path is not None:
        caption = render("digest/chart_caption.html.j2", d=d)
        row = await enqueue(session, person, caption, now=now, dedupe_key=f"{prefix}:chart", kind="photo",
                            file_path=str(path), file_name=path.name)
        queued += row is not None
    if d.audience == LEADER and d.escalated_ids and first_id is not None:
        values = [{"assignment_id": aid, "person_id": person.id, "level": OVERDUE_LEADER, "round_date": d.day,
                   "outbox_id": first_id, "created_at": now} for aid in d.escalated_ids]
        await session.execute(_insert(session)(Reminder).on_conflict_do_nothing(
            index_elements=["assignment_id", "person_id", "level", "round_date"]), values)
    return queued


async def digest_recipients(session: AsyncSession) -> list[Person]:
    """Leaders, then the office (staff and head), each once."""
    seen: dict[int, Person] = {}
    for role in ("leader", "office_head", "office"):
        for p in await people_with_role(session, role):
            seen.setdefault(p.id, p)
    return list(seen.values())


async def digest_sweep(session: AsyncSession, calendar: WorkCalendar, now: datetime,
                       settings: Settings) -> SweepResult:
    """The scheduled digest: working days only, from ``[digest] time`` until the end of working hours
    (a digest is a snapshot: a late one is not queued for the next morning, that day's own goes)."""
    policy = Policy.from_settings(settings)
    result = SweepResult("digest")
    local = policy.local(now)
    if not is_working_day(calendar, local.date()) or not (
            settings.digest.time <= local.time() < settings.reminders.work_end):
        result.extra["skipped"] = "outside digest hours"
        return result
    cache: dict = {}
    day = local.date()
    for person in await digest_recipients(session):
        if await session.scalar(select(OutboxMessage.id).where(
                OutboxMessage.dedupe_key == f"{dedupe_prefix(person.id, day)}:1")) is not None:
            continue
        d = await build_digest(session, person, calendar, now, settings, cache=cache)
        if d is None:
            continue
        result.considered += 1
        if d.empty:
            continue
        result.messages += await queue_digest(session, person, d, now, settings, cache)
        result.reminders += len(d.escalated_ids) if d.audience == LEADER else 0
    prune_charts(settings, day)
    log.info("event=sweep name=digest people=%s messages=%s", result.considered, result.messages)
    return result


KEEP_CHARTS_DAYS = 30


def prune_charts(settings: Settings, today: date) -> int:
    """Remove chart files of digests older than a month (long sent); returns the days removed."""
    root = Path(settings.storage.files_dir) / "digest"
    removed = 0
    if not root.is_dir():
        return 0
    for folder in root.iterdir():
        try:
            day = date.fromisoformat(folder.name)
        except ValueError:
            continue
        if folder.is_dir() and (today - day).days > KEEP_CHARTS_DAYS:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed
