"""The daily digest (每日督办摘要) for each county leader and for the office.

A leader's digest covers the items they are responsible for (审阅领导); the office's covers every
item. Sections: new items (approved since the previous digest), due within 3 working days,
overdue by unit, completed (closed since the previous digest) and what waits for this person's
decision (leader: results to review; office head: items to approve; office: completion reports
to review and extension/transfer requests). The office also sees the messages that could not be
delivered, and 「昨日进展」: every progress entry (反馈进展) since the previous digest, one line each
with its unit and how many files came with it (issue 12: progress notifies nobody on its own; the
office reads it here, once a day, not as one message per entry). Assignments overdue by ``[reminders] leader_after_days`` working days or more are the
last rung of the 催办 ladder: they are listed for the responsible leader and recorded as
``overdue_leader`` reminders.

One digest is one message. Its lists are shortened (their counts kept) until the text fits
Telegram's 4096 characters. With a status chart (the domain says what it shows, ``ChartData``;
``bot.documents.chart`` draws it, handed in by the sweep's runner), a text that fits a photo
caption (1024 characters after entity parsing, sendPhoto) goes as the chart with the text under
it; a longer one goes as the text with a 「查看图表」 button that sends the chart on a tap: a
leader reading on a phone gets what needs them first, and the picture when they want it.

Sent on working days from ``[digest] time`` (never before ``[reminders] work_start``); a
scheduled round that finds nothing worth saying sends nothing, ``/digest`` always answers.
Confidential items show their number only.

Scale: a sweep reads one set of queries for all its recipients (``load_snapshot``) and builds
each person's digest from it in memory; charts are drawn once per distinct picture (equal charts
share one file) in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from html import unescape
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.confidential import shown_label
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
from bot.kernel.config import Settings
from bot.kernel.render import render
from bot.outbox.queue import Button, Keyboard, enqueue
from store.audit import audit_bulk
from store.models import OutboxMessage, Person, PersonRole, Unit
from store.urging import Reminder
from store.workflow import (
    Assignment,
    Attachment,
    CompletionReport,
    ExtensionRequest,
    Item,
    ItemLeader,
    Progress,
    Transfer,
)

log = logging.getLogger("duban.digest")

TEXT_LIMIT = 4096  # sendMessage: characters after entity parsing (UTF-16 units)
CAPTION_LIMIT = 1024  # sendPhoto caption, likewise
LIST_CAPS = (20, 10, 5, 3, 1, 0)  # lines per list, tried in turn until the text fits
MAX_UNITS = 15  # units listed under 超期
MAX_PER_UNIT = 6  # overdue items listed per unit
PROGRESS_SNIPPET = 60  # characters of a progress entry's text shown in 昨日进展
LEADER, OFFICE = "leader", "office"
CHART_BUTTON = "dg:chart"  # 查看图表: the tapping person's own chart, as of the tap
LISTED_ITEM_STATES = sorted(OPEN_ITEM_STATES - {"draft", "pending"})


# --------------------------------------------------------------------------------------------
# The status chart, as data: the documents side draws it (bot.documents.chart)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitBar:
    unit: str
    green: int
    yellow: int
    red: int

    @property
    def total(self) -> int:
        return self.green + self.yellow + self.red


@dataclass(frozen=True)
class ChartData:
    title: str
    bars: tuple[UnitBar, ...]

    @property
    def worth_drawing(self) -> bool:
        return any(b.total for b in self.bars)


@dataclass(frozen=True, slots=True)  # a county's snapshot holds one per share not on track
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
    name: str | None = None  # a confidential item's neutral label, if it has one (bot.domain.confidential)


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
    """One person's digest with its lists whole; ``trimmed`` cuts them for the message."""

    person_id: int
    name: str
    audience: str  # leader | office
    day: date
    since: datetime
    open_counts: dict[str, int]  # green / yellow / red assignments
    new_items: list[Line] = field(default_factory=list)
    due_soon: list[Line] = field(default_factory=list)
    overdue: list[UnitGroup] = field(default_factory=list)  # every unit, most overdue first
    escalated: list[Line] = field(default_factory=list)
    escalated_ids: list[int] = field(default_factory=list)  # assignment ids
    completed: list[Line] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)
    undelivered: list[Undelivered] = field(default_factory=list)
    progress: list[Line] = field(default_factory=list)  # 昨日进展 (office)
    chart: ChartData | None = None
    leader_after_days: int = 3
    new_count: int = 0
    due_soon_count: int = 0
    overdue_count: int = 0
    completed_count: int = 0
    undelivered_count: int = 0
    progress_count: int = 0

    @property
    def empty(self) -> bool:
        """Nothing worth a scheduled message (all open items on track, nothing new)."""
        return not (
            self.new_count
            or self.due_soon_count
            or self.overdue_count
            or self.completed_count
            or self.waiting
            or self.undelivered_count
            or self.progress_count
        )

    def trimmed(self, cap: int) -> Digest:
        """The same digest with at most ``cap`` lines per list (the counts stay whole)."""
        return replace(
            self,
            new_items=self.new_items[:cap],
            due_soon=self.due_soon[:cap],
            completed=self.completed[:cap],
            escalated=self.escalated[:cap],
            undelivered=self.undelivered[:cap],
            progress=self.progress[:cap],
            overdue=[
                UnitGroup(g.unit, g.count, g.lines[: min(cap, MAX_PER_UNIT)])
                for g in self.overdue[: min(cap, MAX_UNITS)]
            ],
            waiting=[Waiting(w.title, w.lines[:cap], w.count) for w in self.waiting],
        )

    def buttons_for(self) -> list[tuple[int, str]]:
        """Items worth opening from the digest: escalated, overdue, due soon, waiting."""
        out = [(x.item_id, x.label) for x in self.escalated]
        out += [(x.item_id, x.label) for g in self.overdue for x in g.lines[:MAX_PER_UNIT]]
        out += [(x.item_id, x.label) for x in self.due_soon]
        out += [(x.item_id, x.label) for w in self.waiting for x in w.lines]
        return out


# --------------------------------------------------------------------------------------------
# When
# --------------------------------------------------------------------------------------------


def digest_time(settings: Settings) -> time:
    """``[digest] time``, never before ``[reminders] work_start`` (the config clamps it too; this
    holds for settings built in code)."""
    return max(settings.digest.time, settings.reminders.work_start)


def previous_digest_time(calendar: WorkCalendar, policy: Policy, settings: Settings, now: datetime) -> datetime:
    """The digest time of the working day before today: "new" and "completed" count from there."""
    day = policy.day(now)
    for _ in range(60):
        day -= timedelta(days=1)
        if is_working_day(calendar, day):
            break
    return policy.at(day, digest_time(settings))


# --------------------------------------------------------------------------------------------
# Gathering: one set of queries for every recipient
# --------------------------------------------------------------------------------------------


def _label(item_id: int, year: int | None, number: int | None) -> str:
    return format_number(year, number) or f"登记号{item_id}"


def _name(title: str, confidential: bool) -> str | None:
    return shown_label(title, True) if confidential else None


@dataclass(frozen=True, slots=True)  # one per active assignment of the county: no __dict__ each
class Share:
    """One active assignment of an open item, classified as of today."""

    item_id: int
    assignment_id: int
    unit: str
    light: str  # green | yellow | red
    left: int  # working days left (negative: overdue)
    line: Line | None  # None for green (not listed)


@dataclass
class Snapshot:
    """What any digest of ``day`` reads, loaded once and shared by all its recipients."""

    day: date
    since: datetime
    scope: int | None  # the one leader whose items alone were read; None: every item
    shares: list[Share]  # by due date, item, assignment
    by_item: dict[int, list[int]]  # item id → positions in ``shares``
    leaders: dict[int, set[int]]  # leader's person id → their items (open, new or completed)
    new_items: list[Line]
    completed: list[Line]
    to_review: list[tuple[int, Line]]  # (leader's person id, item) in leader_review
    to_approve: list[Line]  # items pending the office head's approval
    office_waiting: list[tuple[str, list[Line]]]
    undelivered: list[Undelivered]
    views: dict = field(default_factory=dict)  # the views built from this snapshot, per scope
    progress: list[Line] = field(default_factory=list)  # progress entries since ``since`` (office)


async def load_snapshot(
    session: AsyncSession,
    calendar: WorkCalendar,
    now: datetime,
    settings: Settings,
    *,
    leader_id: int | None = None,
    roles: frozenset[str] = frozenset({"leader", "office", "office_head"}),
    chart_only: bool = False,
) -> Snapshot:
    """Everything the digests of ``now``'s day need: for every recipient (the sweep), or only one
    leader's items (``leader_id``, /digest); ``roles`` limit the waiting lists read; ``chart_only``
    reads only the open assignments (the 查看图表 button)."""
    policy = Policy.from_settings(settings)
    today = policy.day(now)
    since = previous_digest_time(calendar, policy, settings, now)
    mine = (
        None if leader_id is None else Item.id.in_(select(ItemLeader.item_id).where(ItemLeader.person_id == leader_id))
    )

    def scoped(q):  # noqa: ANN001, ANN202
        return q if mine is None else q.where(mine)

    q = (
        select(
            Assignment.id,
            Assignment.role,
            Assignment.due_date,
            Assignment.due_provisional,
            Unit.name,
            Item.id,
            Item.year,
            Item.number,
            Item.title,
            Item.confidential,
        )
        .join(Item, Item.id == Assignment.item_id)
        .join(Unit, Unit.id == Assignment.unit_id)
        .where(
            Assignment.state.in_(sorted(ACTIVE_ASSIGNMENT_STATES)),
            Item.state.in_(LISTED_ITEM_STATES),
            Assignment.due_date.is_not(None),
        )
        .order_by(Assignment.due_date, Item.id, Assignment.id)
    )
    left_by_due: dict[date, int] = {}  # a few hundred distinct deadlines among thousands of assignments
    shares: list[Share] = []
    by_item: dict[int, list[int]] = defaultdict(list)
    for aid, role, due, prov, unit, iid, year, number, title, conf in await session.execute(scoped(q)):
        left = left_by_due.get(due)
        if left is None:
            left = left_by_due[due] = calendar.working_days_left(today, due)
        light = "red" if left < 0 else "yellow" if left <= YELLOW_DAYS else "green"
        line = (
            None
            if light == "green"
            else Line(
                iid,
                _label(iid, year, number),
                None if conf else title,
                unit,
                UNIT_ROLES_OF_ASSIGNMENT.get(role, role),
                due_text(due, bool(prov)),
                "今天到期" if left == 0 else days_text("", left),
                escalated=leader_escalated(left, settings.reminders),
                name=_name(title, conf),
            )
        )
        by_item[iid].append(len(shares))
        shares.append(Share(iid, aid, unit, light, left, line))
    snap = Snapshot(today, since, leader_id, shares, dict(by_item), {}, [], [], [], [], [], [])
    if chart_only:
        return snap

    recent = or_(Item.approved_at >= since, Item.closed_at >= since)
    leaders: dict[int, set[int]] = defaultdict(set)
    lq = (
        select(ItemLeader.person_id, ItemLeader.item_id)
        .join(Item, Item.id == ItemLeader.item_id)
        .where(or_(Item.state.in_(LISTED_ITEM_STATES), recent))
    )
    if leader_id is not None:
        lq = lq.where(ItemLeader.person_id == leader_id)
    for pid, iid in await session.execute(lq):
        leaders[pid].add(iid)
    snap.leaders = dict(leaders)

    items_q = (
        select(
            Item.id,
            Item.year,
            Item.number,
            Item.title,
            Item.confidential,
            Item.due_date,
            Item.due_provisional,
            Item.approved_at,
            Item.closed_at,
        )
        .where(recent)
        .order_by(Item.id)
    )
    for iid, year, number, title, conf, due, prov, approved_at, closed_at in await session.execute(scoped(items_q)):
        line = Line(
            iid,
            _label(iid, year, number),
            None if conf else title,
            due=due_text(due, bool(prov)),
            name=_name(title, conf),
        )
        if approved_at is not None and approved_at >= since:
            snap.new_items.append(line)
        if closed_at is not None and closed_at >= since:
            snap.completed.append(line)

    item_cols = (Item.id, Item.year, Item.number, Item.title, Item.confidential)

    def item_line(
        iid: int, y: int | None, n: int | None, t: str, c: bool, unit: str | None = None, note: str | None = None
    ) -> Line:
        return Line(iid, _label(iid, y, n), None if c else t, unit=unit, note=note, name=_name(t, c))

    if "leader" in roles:
        rq = (
            select(ItemLeader.person_id, *item_cols)
            .join(ItemLeader, ItemLeader.item_id == Item.id)
            .where(Item.state == "leader_review")
            .order_by(Item.id)
        )
        if leader_id is not None:
            rq = rq.where(ItemLeader.person_id == leader_id)
        snap.to_review = [(pid, item_line(iid, y, n, t, c)) for pid, iid, y, n, t, c in await session.execute(rq)]
    if "office_head" in roles:
        rows = await session.execute(select(*item_cols).where(Item.state == "pending").order_by(Item.id))
        snap.to_approve = [item_line(*r) for r in rows]
    if "office" in roles:
        for title, model, note in (
            ("待审核的办结报告", CompletionReport, "办结报告"),
            ("待审批的延期申请", ExtensionRequest, "申请延期"),
            ("待审批的转办申请", Transfer, "申请转办"),
        ):
            waiting = await session.execute(
                select(*item_cols, Unit.name)
                .join(Assignment, Assignment.item_id == Item.id)
                .join(model, model.assignment_id == Assignment.id)
                .join(Unit, Unit.id == Assignment.unit_id)
                .where(model.status == "pending")
                .order_by(model.id)
            )
            snap.office_waiting.append(
                (title, [item_line(iid, y, n, t, c, unit=unit, note=note) for iid, y, n, t, c, unit in waiting])
            )
    if roles & {"office", "office_head"}:
        snap.undelivered = await undelivered(session, since)
        snap.progress = await _progress_since(session, since, now)
    return snap


async def _progress_since(session: AsyncSession, since: datetime, now: datetime) -> list[Line]:
    """昨日进展: progress entries from ``since`` to ``now``, oldest first; a confidential item's
    entry shows its number and unit only."""
    files = (
        select(func.count())
        .select_from(Attachment)
        .where(Attachment.owner_kind == "progress", Attachment.owner_id == Progress.id)
        .scalar_subquery()
    )
    rows = (
        await session.execute(
            select(files, Progress.text, Unit.name, Item.id, Item.year, Item.number, Item.title, Item.confidential)
            .join(Assignment, Assignment.id == Progress.assignment_id)
            .join(Item, Item.id == Assignment.item_id)
            .join(Unit, Unit.id == Assignment.unit_id)
            .where(Progress.created_at >= since, Progress.created_at <= now)
            .order_by(Progress.created_at, Progress.id)
        )
    ).all()
    out = []
    for n_files, text, unit, iid, year, number, title, conf in rows:
        text = " ".join((text or "").split())
        snippet = text if len(text) <= PROGRESS_SNIPPET else text[:PROGRESS_SNIPPET] + "…"
        note = "" if conf else snippet
        if n_files:
            note += f"（附件{n_files}个）"
        out.append(
            Line(
                iid,
                _label(iid, year, number),
                None if conf else title,
                unit=unit,
                note=note or None,
                name=_name(title, conf),
            )
        )
    return out


@dataclass
class _View:
    """One scope's assignments (the county, or one leader's items) as a digest shows them; shared by
    every recipient of that scope (the office's staff and head)."""

    counts: dict[str, int]
    due_soon: list[Line]
    overdue: list[UnitGroup]  # by unit, most overdue units first, most overdue items first
    overdue_count: int
    escalated: list[Line]  # overdue by leader_after_days or more
    escalated_ids: list[int]  # their assignment ids
    chart: ChartData | None


def _view(snap: Snapshot, items: set[int] | None, title: str | None) -> _View:
    """``title``: the chart's, or None for no chart."""
    key = None if items is None else frozenset(items)
    if key in snap.views:
        return snap.views[key]
    shares = (
        snap.shares
        if items is None
        else [snap.shares[i] for i in sorted(i for item in items for i in snap.by_item.get(item, ()))]
    )
    counts = {"green": 0, "yellow": 0, "red": 0}
    per_unit: dict[str, dict[str, int]] = defaultdict(lambda: {"green": 0, "yellow": 0, "red": 0})
    due: list[tuple[int, Line]] = []
    over: list[tuple[int, int, Line]] = []
    for s in shares:
        counts[s.light] += 1
        per_unit[s.unit][s.light] += 1
        if s.line is None:  # green: counted, not listed
            continue
        if s.light == "yellow":
            due.append((s.left, s.line))
        elif s.light == "red":
            over.append((s.left, s.assignment_id, s.line))
    over.sort(key=lambda x: x[0])  # most overdue first
    by_unit: dict[str, list[Line]] = defaultdict(list)
    for _, _, line in over:
        by_unit[line.unit or ""].append(line)
    escalated = [(aid, line) for _, aid, line in over if line.escalated]
    chart = None
    if title is not None and any(per_unit.values()):
        # Sorted by unit, so that equal pictures are equal data (and share one chart file).
        chart = ChartData(
            title, tuple(UnitBar(u, c["green"], c["yellow"], c["red"]) for u, c in sorted(per_unit.items()))
        )
    view = _View(
        counts,
        [line for _, line in sorted(due, key=lambda x: x[0])],
        [
            UnitGroup(unit, len(lines), lines)
            for unit, lines in sorted(by_unit.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        ],
        len(over),
        [line for _, line in escalated],
        [aid for aid, _ in escalated],
        chart,
    )
    snap.views[key] = view
    return view


def audience_of(person: Person) -> str | None:
    if person.has_role("office", "office_head"):
        return OFFICE
    if person.has_role("leader"):
        return LEADER
    return None


def digest_from(snap: Snapshot, person: Person, settings: Settings) -> Digest | None:
    """``person``'s digest (a leader or office person) from the shared snapshot; None for anyone else."""
    audience = audience_of(person)
    if audience is None:
        return None
    # None: every item the snapshot read (the county's, or only this leader's when it was read for them)
    items = None if audience == OFFICE or snap.scope == person.id else snap.leaders.get(person.id, set())
    title = None
    if settings.digest.chart:
        title = f"{'全县' if audience == OFFICE else '您负责的'}督办事项状态（{snap.day.isoformat()}）"
    view = _view(snap, items, title)
    d = Digest(
        person.id,
        person.name,
        audience,
        snap.day,
        snap.since,
        dict(view.counts),
        leader_after_days=settings.reminders.leader_after_days,
        chart=view.chart,
        due_soon=view.due_soon,
        overdue=view.overdue,
        escalated=view.escalated,
        escalated_ids=view.escalated_ids,
    )
    d.new_items = [x for x in snap.new_items if items is None or x.item_id in items]
    d.completed = [x for x in snap.completed if items is None or x.item_id in items]
    d.waiting = _waiting(snap, person)
    if audience == OFFICE:
        d.undelivered = snap.undelivered
        d.progress = snap.progress
    d.new_count, d.completed_count, d.due_soon_count = len(d.new_items), len(d.completed), len(d.due_soon)
    d.overdue_count, d.undelivered_count = view.overdue_count, len(d.undelivered)
    d.progress_count = len(d.progress)
    return d


def _waiting(snap: Snapshot, person: Person) -> list[Waiting]:
    """What waits for this person's decision, by role."""
    sections: list[tuple[str, list[Line]]] = []
    if person.has_role("leader"):
        sections.append(("待您审阅的办理结果", [line for pid, line in snap.to_review if pid == person.id]))
    if person.has_role("office_head"):
        sections.append(("待您审批的立项", snap.to_approve))
    if person.has_role("office"):
        sections += snap.office_waiting
    return [Waiting(title, lines, len(lines)) for title, lines in sections if lines]


async def build_digest(
    session: AsyncSession,
    person: Person,
    calendar: WorkCalendar,
    now: datetime,
    settings: Settings,
    *,
    chart_only: bool = False,
) -> Digest | None:
    """The digest for ``person`` alone (/digest, 查看图表): a leader's reads only their items."""
    audience = audience_of(person)
    if audience is None:
        return None
    snap = await load_snapshot(
        session,
        calendar,
        now,
        settings,
        leader_id=person.id if audience == LEADER else None,
        roles=person.roles,
        chart_only=chart_only,
    )
    return digest_from(snap, person, settings)


# --------------------------------------------------------------------------------------------
# Rendering: one message
# --------------------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def plain_len(html_text: str) -> int:
    """The length Telegram checks: characters (UTF-16 units) after HTML entity parsing."""
    return utf16_len(unescape(re.sub(r"<[^>]+>", "", html_text)).strip())


def fitted(d: Digest) -> tuple[Digest, str]:
    """The digest as one message: its lists shortened (counts kept) until the text fits Telegram's
    limit; the shortened digest (what the buttons may offer) and its text."""
    cap = LIST_CAPS[0]
    while True:
        shown = d.trimmed(cap)
        text = render("digest/digest.html.j2", d=shown)
        length = plain_len(text)
        if length <= TEXT_LIMIT or cap == LIST_CAPS[-1]:
            break
        # Lists make most of a long text: go straight to the largest cap that may fit.
        cap = next(c for c in LIST_CAPS if c < cap and (c <= cap * TEXT_LIMIT / length or c == LIST_CAPS[-1]))
    if length <= TEXT_LIMIT:
        return shown, text
    # Only headings and counts left and still too long (it takes thousands of undelivered
    # recipients): cut between lines; every line of the template closes its own tags.
    out: list[str] = []
    for line in text.split("\n"):
        if plain_len("\n".join([*out, line, "……"])) > TEXT_LIMIT:
            break
        out.append(line)
    return shown, "\n".join([*out, "……"])


def render_digest(d: Digest) -> str:
    return fitted(d)[1]


def caption_fits(text: str) -> bool:
    return plain_len(text) <= CAPTION_LIMIT


@dataclass(frozen=True)
class DigestMessage:
    """What goes to the person: the chart with the text as its caption, or the text (with a
    查看图表 button when there is a chart the caption could not carry)."""

    text: str
    buttons: Keyboard
    photo: Path | None = None


def compose(shown: Digest, text: str, chart: Path | None) -> DigestMessage:
    """``shown`` and ``text`` as ``fitted`` made them; ``chart`` the drawn file, if any."""
    buttons = item_buttons(shown.buttons_for())
    if chart is not None and caption_fits(text):
        return DigestMessage(text, buttons, chart)
    if chart is not None:
        buttons = [[Button("📊 查看图表", CHART_BUTTON)], *buttons]
    return DigestMessage(text, buttons)


# --------------------------------------------------------------------------------------------
# Queueing
# --------------------------------------------------------------------------------------------


def dedupe_key(person_id: int, day: date) -> str:
    return f"digest:{person_id}:{day.isoformat()}:1"  # ":1" as before: a digest queued by an older version counts


async def queue_digest(
    session: AsyncSession, person: Person, d: Digest, message: DigestMessage, now: datetime
) -> OutboxMessage | None:
    """Queue the digest as one message; None when it was queued before."""
    if message.photo is not None:
        return await enqueue(
            session,
            person,
            message.text,
            now=now,
            dedupe_key=dedupe_key(person.id, d.day),
            buttons=message.buttons or None,
            kind="photo",
            file_path=str(message.photo),
            file_name=message.photo.name,
        )
    return await enqueue(
        session, person, message.text, now=now, dedupe_key=dedupe_key(person.id, d.day), buttons=message.buttons or None
    )


RECIPIENT_ROLES = ("leader", "office_head", "office")


async def digest_recipients(session: AsyncSession) -> list[Person]:
    """Leaders, then the office (head and staff), each once: active people holding one of those roles."""
    people = (
        await session.scalars(
            select(Person)
            .where(
                Person.active, Person.id.in_(select(PersonRole.person_id).where(PersonRole.role.in_(RECIPIENT_ROLES)))
            )
            .order_by(Person.id)
        )
    ).all()
    return sorted(people, key=lambda p: min(RECIPIENT_ROLES.index(r) for r in p.roles if r in RECIPIENT_ROLES))


def in_digest_hours(calendar: WorkCalendar, settings: Settings, now: datetime) -> bool:
    """Working days, from the digest time (at or after work_start) until the end of working hours."""
    local = Policy.from_settings(settings).local(now)
    return (
        is_working_day(calendar, local.date()) and digest_time(settings) <= local.time() < settings.reminders.work_end
    )


async def _no_charts(digests: list[tuple[Person, Digest]]) -> dict[int, Path | None]:
    return {person.id: None for person, _ in digests}


# Draws the digests' charts: each one's file by person id (None: no chart, or it could not be drawn).
ChartFiles = Callable[[Settings, list["Digest"]], Coroutine[Any, Any, dict[int, Path | None]]]


async def digest_sweep(
    session: AsyncSession,
    calendar: WorkCalendar,
    now: datetime,
    settings: Settings,
    *,
    charts: ChartFiles | None = None,
) -> SweepResult:
    """The scheduled digest: working days only, from the digest time until the end of working hours
    (a digest is a snapshot: a late one is not queued for the next morning, that day's own goes).

    ``charts`` draws the status charts (the runtime passes ``bot.documents.chart.chart_files``);
    without it every digest goes as text."""
    result = SweepResult("digest")
    if not in_digest_hours(calendar, settings, now):
        result.extra["skipped"] = "outside digest hours"
        return result
    day = Policy.from_settings(settings).day(now)
    people = await digest_recipients(session)
    sent = set(
        await session.scalars(
            select(OutboxMessage.dedupe_key).where(
                OutboxMessage.dedupe_key.in_([dedupe_key(p.id, day) for p in people])
            )
        )
    )
    people = [p for p in people if dedupe_key(p.id, day) not in sent]
    if not people:
        return result
    snap = await load_snapshot(session, calendar, now, settings)
    digests = [(p, d) for p in people if (d := digest_from(snap, p, settings)) is not None]
    result.considered = len(digests)
    digests = [(p, d) for p, d in digests if not d.empty]
    # The charts are drawn in a worker thread while the texts are rendered here.
    drawing = asyncio.create_task(charts(settings, [d for _, d in digests]) if charts else _no_charts(digests))
    texts = {}
    for person, d in digests:
        texts[person.id] = fitted(d)
        await asyncio.sleep(0)  # let other updates in between recipients
    chart_of = await drawing
    result.extra["charts"] = len({p for p in chart_of.values() if p is not None})
    rungs: list[dict[str, Any]] = []
    for person, d in digests:
        row = await queue_digest(session, person, d, compose(*texts[person.id], chart_of[person.id]), now)
        if row is None:
            continue
        result.messages += 1
        if d.audience == LEADER:
            rungs += [
                {
                    "assignment_id": aid,
                    "person_id": person.id,
                    "level": OVERDUE_LEADER,
                    "round_date": d.day,
                    "outbox_id": row.id,
                    "created_at": now,
                }
                for aid in d.escalated_ids
            ]
    if rungs:
        await session.execute(
            _insert(session)(Reminder.__table__).on_conflict_do_nothing(
                index_elements=["assignment_id", "person_id", "level", "round_date"]
            ),
            rungs,
        )
        result.reminders += len(rungs)
        # A Core insert, unseen by the audit hooks: one row sums it up.
        await audit_bulk(
            session,
            "reminders",
            "reminders.insert",
            len(rungs),
            levels={OVERDUE_LEADER: len(rungs)},
            days=sorted({r["round_date"].isoformat() for r in rungs}),
        )
    log.info(
        "event=sweep name=digest people=%s messages=%s charts=%s",
        result.considered,
        result.messages,
        result.extra["charts"],
    )
    return result
