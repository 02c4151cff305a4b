"""催办: the escalation ladder, working hours, one grouped reminder per person per round, and
telling the office about people the bot cannot reach.

The ladder (defaults; every number is in ``[reminders]`` of config.toml):

=====================================  ===========  =========================================
working days left on the deadline      level        who is reminded
=====================================  ===========  =========================================
3 … 1 (yellow)                         due_soon     the unit's liaisons — once per deadline
0 (the deadline day)                   due_today    the liaisons again — once per deadline
< 0 (red), every working day           overdue      liaisons, the unit's head(s), the office
≤ −3                                   (digest)     also the responsible leaders, in their
                                                    daily digest (``bot.domain.digest``)
=====================================  ===========  =========================================

The same round carries the rungs of ``bot.domain.chasing`` (issue 12 point 4): a 督办通知单 not
signed for (the liaison after one working day, the unit head after two), a plan's 时间节点 on this
ladder's rhythm, and it leaves out what the office chased by hand that day
(``bot.domain.manual_urge``) — each person still gets one grouped message per round.

An urgent item's follower (专人跟踪) gets every step. "Working days left" comes from
``WorkCalendar.working_days_left`` on the day the reminder is delivered, so an approved extension
(which already moved ``assignment.due_date``) is never overdue on the old date.

Rounds and idempotency. A routine reminder is delivered in working hours on a working day; one
produced outside them waits for the next start of working hours (``not_before``) and belongs to
the round of *that* day, so the scheduled round of that morning finds it and adds nothing. Urgent
items are delivered at once (holidays included). A ``Reminder`` row is one rung reached for one
assignment, person and round day (unique); only rungs not reached before produce messages, so a
sweep run twice with the same ``now`` queues nothing new, and two overlapping sweeps are stopped
by the messages' dedupe keys (see ``escalation_sweep``). ``due_soon``/``due_today`` are sent once
per deadline: a rung already reached for the same deadline window is skipped (a moved deadline
opens a new window).

Scale. The sweep reads only live assignments whose deadline is at most a few working days away
or past (the index ``ix_assignments_state_due``), never all assignments, and of the overdue ones
only those with a rung still to reach today (``overdue_unreached``: the sweep runs every minute,
and a county's tens of thousands of overdue shares were read again by every round). It writes
each table once, in bulk: the messages, then the rungs carrying their message ids.

Confidential items: a reminder carries their number only.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from html import unescape
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, CursorResult, Date, and_, case, exists, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.domain.actions import button
from bot.domain.confidential import shown_label
from bot.domain.roles import ROLE_NAMES
from bot.domain.workdays import WorkCalendar
from bot.domain.workflow import (
    ACTIVE_ASSIGNMENT_STATES,
    LIVE_ASSIGNMENT_STATES,
    OPEN_ITEM_STATES,
    UNIT_ROLES_OF_ASSIGNMENT,
    due_text,
    format_number,
    office_staff,
)
from bot.kernel.config import ReminderSettings, Settings
from bot.kernel.render import render
from bot.outbox.queue import Keyboard, enqueue
from store.audit import audit_bulk
from store.models import OutboxMessage, Person, PersonRole, Unit
from store.urging import Reminder, ReminderRow, insert_reminders
from store.workflow import Assignment, Item, ItemLeader

log = logging.getLogger("duban.urging")

DUE_SOON, DUE_TODAY, OVERDUE, OVERDUE_LEADER = "due_soon", "due_today", "overdue", "overdue_leader"
# Issue 12 point 4 (bot.domain.chasing): a notice not signed for (签收), a plan's milestones, and
# the office's one-tap 催办 (bot.domain.manual_urge), all rungs of the same round.
UNSIGNED, UNSIGNED_HEAD = "unsigned", "unsigned_head"
MS_SOON, MS_TODAY, MS_LATE = "ms_soon", "ms_today", "ms_late"
MANUAL = "manual"
# The order sections appear in a message: worst first.
LEVELS = (OVERDUE, UNSIGNED, DUE_TODAY, DUE_SOON, MS_LATE, MS_TODAY, MS_SOON)
SECTION_OF = {UNSIGNED_HEAD: UNSIGNED}  # the head's step of an unsigned notice reads as the same section
LEVEL_TITLES = {
    OVERDUE: "已超期",
    DUE_TODAY: "今日到期",
    DUE_SOON: "即将到期",
    OVERDUE_LEADER: "超期较久",
    UNSIGNED: "未签收",
    MS_LATE: "时间节点已超期",
    MS_TODAY: "时间节点今日到期",
    MS_SOON: "时间节点即将到期",
}
LEVEL_EMOJI = {
    OVERDUE: "🔴",
    DUE_TODAY: "🟠",
    DUE_SOON: "🟡",
    OVERDUE_LEADER: "🔴",
    UNSIGNED: "📮",
    MS_LATE: "📌",
    MS_TODAY: "📌",
    MS_SOON: "📌",
}
# Who a rung is for. "follower" is an urgent item's 专人跟踪 (an office person).
LIAISON, UNIT_HEAD, OFFICE, FOLLOWER = "liaison", "unit_head", "office", "follower"

MAX_LISTED = 25  # items listed in one reminder (a long list ends with "另有N项")
MAX_BUTTONS = 8  # 查看 buttons under one reminder
UNDELIVERED_STATES = ("failed", "unreachable", "unbound")


# --------------------------------------------------------------------------------------------
# Working days and hours
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """The ladder's settings and the office's time zone."""

    reminders: ReminderSettings
    tz: ZoneInfo

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(settings.reminders, settings.office.tz)

    def local(self, now: datetime) -> datetime:
        return now.astimezone(self.tz)

    def day(self, now: datetime) -> date:
        return now.astimezone(self.tz).date()

    def at(self, day: date, t: time) -> datetime:
        """``day`` at local time ``t``, as an aware UTC datetime."""
        return datetime.combine(day, t, tzinfo=self.tz).astimezone(UTC)


def is_working_day(calendar: WorkCalendar, day: date) -> bool:
    """A year nobody loaded counts weekends only (the office is told about such years elsewhere)."""
    return calendar.is_working_day(day, provisional=True)


def next_working_day(calendar: WorkCalendar, day: date) -> date:
    for _ in range(60):
        day += timedelta(days=1)
        if is_working_day(calendar, day):
            return day
    raise RuntimeError("no working day within 60 days")  # no calendar has such a gap


def in_working_hours(calendar: WorkCalendar, policy: Policy, now: datetime) -> bool:
    local = policy.local(now)
    r = policy.reminders
    return is_working_day(calendar, local.date()) and r.work_start <= local.time() < r.work_end


def routine_delivery(calendar: WorkCalendar, policy: Policy, now: datetime) -> datetime:
    """When a routine message produced at ``now`` may go: now in working hours, else the next start."""
    local = policy.local(now)
    r = policy.reminders
    day = local.date()
    if is_working_day(calendar, day):
        if local.time() < r.work_start:
            return policy.at(day, r.work_start)
        if local.time() < r.work_end:
            return now
    return policy.at(next_working_day(calendar, day), r.work_start)


def delivery(calendar: WorkCalendar, policy: Policy, now: datetime, urgent: bool) -> datetime:
    if urgent and policy.reminders.urgent_any_time:
        return now
    return routine_delivery(calendar, policy, now)


# --------------------------------------------------------------------------------------------
# The ladder (pure)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    level: str
    roles: frozenset[str]


def step_for(days_left: int, urgent: bool, r: ReminderSettings) -> Step | None:
    """The rung an assignment with ``days_left`` working days left is on today, and who gets it."""
    if days_left < 0:
        overdue = -days_left
        if (overdue - 1) % r.overdue_every_days:
            return None
        level, roles = OVERDUE, {LIAISON, UNIT_HEAD} | ({OFFICE} if r.overdue_office else set())
    elif days_left == 0:
        if not r.due_day:
            return None
        level, roles = DUE_TODAY, {LIAISON}
    elif days_left <= r.due_soon_days:
        level, roles = DUE_SOON, {LIAISON}
    else:
        return None
    if urgent and r.follower_every_step:
        roles.add(FOLLOWER)
    return Step(level, frozenset(roles))


def leader_escalated(days_left: int | None, r: ReminderSettings) -> bool:
    """Overdue long enough that the responsible leaders are told (in their digest)."""
    return days_left is not None and days_left <= -r.leader_after_days


def horizon(calendar: WorkCalendar, day: date, r: ReminderSettings) -> date:
    """The latest deadline that can be on a rung on ``day`` (anything later is still green)."""
    return calendar.add_working_days(day, r.due_soon_days + 1).due - timedelta(days=1)


class Windows:
    """The days on which a deadline is on the ``due_soon`` or the ``due_today`` rung.

    Those rungs are sent once per deadline: a reminder already sent on a day of the same window
    counts; one sent for an earlier deadline (before an extension moved it) does not.
    """

    def __init__(self, calendar: WorkCalendar, r: ReminderSettings) -> None:
        self.calendar, self.r = calendar, r
        self._cache: dict[tuple[str, date], date] = {}

    def start(self, level: str, due: date) -> date:
        key = (level, due)
        if key not in self._cache:
            limit = 0 if level == DUE_TODAY else self.r.due_soon_days
            day = due if level == DUE_TODAY else due - timedelta(days=1)
            while self.calendar.working_days_left(day - timedelta(days=1), due) <= limit and due - day < timedelta(
                days=60
            ):
                day -= timedelta(days=1)
            self._cache[key] = day
        return self._cache[key]


# --------------------------------------------------------------------------------------------
# What is due, and who hears about it
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)  # a county round holds hundreds of thousands
class DueAssignment:
    """A live assignment near or past its deadline, with what a reminder may show of its item."""

    assignment_id: int
    item_id: int
    unit_id: int
    unit_name: str
    role: str
    due: date
    provisional: bool
    label: str  # 督字〔2026〕3号
    title: str
    confidential: bool
    urgent: bool
    follower_id: int | None
    registrant_id: int | None = None  # who registered the item: its office follower by default
    task: str | None = None  # the start of the unit's own 分工 (issue 12), shown in its reminders


async def due_assignments(session: AsyncSession, until: date, *, unreached: Any = None) -> list[DueAssignment]:
    """Live assignments due on or before ``until`` (index range scan on (state, due_date)), less
    those ``unreached`` (a SQL condition, see ``overdue_unreached``) leaves out."""
    query = due_select().where(
        Assignment.state.in_(sorted(ACTIVE_ASSIGNMENT_STATES)),
        Assignment.due_date <= until,
        Item.state.in_(sorted(OPEN_ITEM_STATES)),
    )
    return await due_rows(session, query if unreached is None else query.where(unreached))


def due_select() -> Any:
    """The columns of a ``DueAssignment``, ordered by deadline (``due_rows`` reads them)."""
    return (
        select(
            Assignment.id,
            Assignment.item_id,
            Assignment.unit_id,
            Unit.name,
            Assignment.role,
            Assignment.due_date,
            Assignment.due_provisional,
            Item.year,
            Item.number,
            Item.title,
            Item.confidential,
            Item.importance,
            Item.follower_id,
            Item.created_by_id,
            # Only the start of a unit's 分工: a round holds many rows, a reminder shows one line.
            func.substr(Assignment.task, 1, TASK_CHARS + 1),
        )
        .join(Item, Item.id == Assignment.item_id)
        .join(Unit, Unit.id == Assignment.unit_id)
        .order_by(Assignment.due_date, Assignment.id)
    )


async def due_rows(session: AsyncSession, query: Any) -> list[DueAssignment]:
    """``due_select`` narrowed by the caller, as ``DueAssignment``s."""
    rows = await session.execute(query)
    # ``due`` is never NULL here: every caller's filter on ``due_date`` leaves NULLs out.
    return [
        DueAssignment(
            aid,
            iid,
            uid,
            uname,
            role,
            cast(date, due),
            bool(prov),
            format_number(year, number) or f"登记号{iid}",
            title,
            bool(conf),
            importance == "urgent",
            follower,
            registrant,
            _short(task),
        )
        for aid, iid, uid, uname, role, due, prov, year, number, title, conf, importance, follower, registrant, task in rows
    ]


TASK_CHARS = 40  # how much of a unit's 分工 a reminder line shows


def _short(task: str | None) -> str | None:
    return task if not task or len(task) <= TASK_CHARS else task[:TASK_CHARS] + "…"


@dataclass
class Directory:
    """The people a round may address, read once per sweep."""

    liaisons: dict[int, list[Person]] = field(default_factory=lambda: defaultdict(list))
    heads: dict[int, list[Person]] = field(default_factory=lambda: defaultdict(list))
    office: list[Person] = field(default_factory=list)
    people: dict[int, Person] = field(default_factory=dict)

    def office_for(self, due: DueAssignment) -> list[Person]:
        """The item's office follower (named, else its registrant) when they are active office
        staff; every office person only when nobody follows it (issue 13: the others see it in
        their digest)."""
        office = {p.id: p for p in self.office}
        for pid in (due.follower_id, due.registrant_id):
            if pid is not None and pid in office:
                return [office[pid]]
        return self.office

    def recipients(self, role: str, due: DueAssignment) -> list[Person]:
        if role == LIAISON:
            return self.liaisons.get(due.unit_id, [])
        if role == UNIT_HEAD:
            return self.heads.get(due.unit_id, [])
        if role == OFFICE:
            return self.office_for(due)
        if role == FOLLOWER and due.follower_id is not None:
            p = self.people.get(due.follower_id)
            return [p] if p is not None else []
        return []


async def load_directory(session: AsyncSession, follower_ids: Iterable[int] = ()) -> Directory:
    d = Directory()
    rows = await session.execute(
        select(Person, PersonRole.role)
        .join(PersonRole, PersonRole.person_id == Person.id)
        .where(PersonRole.role.in_((LIAISON, UNIT_HEAD, OFFICE)), Person.active)
        .order_by(Person.id)
    )
    for person, role in rows.unique():
        d.people[person.id] = person
        if role == OFFICE:
            d.office.append(person)
        elif person.unit_id is not None:
            (d.liaisons if role == LIAISON else d.heads)[person.unit_id].append(person)
    missing = {i for i in follower_ids if i not in d.people}
    if missing:
        for person in (await session.scalars(select(Person).where(Person.id.in_(missing), Person.active))).all():
            d.people[person.id] = person
    return d


def overdue_unreached(r: ReminderSettings, today: date, routine_day: date) -> Any:
    """SQL: an assignment is worth reading unless it is overdue on its round day and every person
    its ``overdue`` rung goes to already has that rung (a row on the unique round key).

    At county scale tens of thousands of shares are overdue; without this, every round of the
    day after the first read them all again to find nothing new. The recipients are the ones
    ``Directory.recipients`` picks (active liaisons and heads of the unit, the office side of
    ``Directory.office_for``, an urgent item's active follower); one missing rung — a new liaison,
    a rung held back by ``nothing_for_nothing`` — and the share is read, so results are unchanged.
    An assignment with no recipient at all is left out: it plans nothing either.
    """
    urgent = Item.importance == "urgent"
    # The round day of a rung: an urgent item's is today, a routine one's the next working hours'.
    day = (
        case((urgent, literal(today, Date)), else_=literal(routine_day, Date))
        if r.urgent_any_time and today != routine_day
        else literal(routine_day, Date)
    )

    def missing(person_id: Any, *person: Any) -> Any:
        # Correlated to the share's assignment and item (and the person's row, when it is one two
        # levels down): said explicitly, as auto-correlation only looks at the enclosing SELECT.
        # The day inside coalesce (never null): a probe on the unique key's (assignment, person,
        # level), never on ix_reminders_day — PostgreSQL picks that one after a first round its
        # statistics have not seen yet, and then scans the whole day's rungs once per share.
        return (
            ~select(Reminder.id)
            .where(
                Reminder.assignment_id == Assignment.id,
                Reminder.person_id == person_id,
                Reminder.level == OVERDUE,
                func.coalesce(Reminder.round_date, day) == day,
            )
            .correlate(Assignment, Item, *person)
            .exists()
        )

    def people(*roles: str) -> tuple[Any, Any]:
        p, pr = aliased(Person), aliased(PersonRole)
        return p, select(p.id).join(pr, pr.person_id == p.id).where(pr.role.in_(roles), p.active)

    unit_p, unit_q = people(LIAISON, UNIT_HEAD)
    # (people.unit_id is indexed: a county has thousands of people, and this runs per share)
    wanted: list[ColumnElement[bool]] = [
        exists(unit_q.where(unit_p.unit_id == Assignment.unit_id, missing(unit_p.id, unit_p)))
    ]
    if r.overdue_office:
        _, office_ids = people(OFFICE)  # one list per statement
        followed = and_(Item.follower_id.is_not(None), Item.follower_id.in_(office_ids))
        registered = and_(Item.created_by_id.is_not(None), Item.created_by_id.in_(office_ids))
        office_p, office_q = people(OFFICE)
        wanted += [
            and_(followed, missing(Item.follower_id)),
            and_(~followed, registered, missing(Item.created_by_id)),
            and_(~followed, ~registered, exists(office_q.where(missing(office_p.id, office_p)))),
        ]
    if r.follower_every_step:
        wanted.append(
            and_(
                urgent,
                Item.follower_id.is_not(None),
                Item.follower_id.in_(select(Person.id).where(Person.active)),
                missing(Item.follower_id),
            )
        )
    return or_(Assignment.due_date >= day, *wanted)


@dataclass(frozen=True, slots=True)
class MilestoneDue:
    """A plan's open milestone (时间节点) on a rung (bot.domain.chasing)."""

    id: int
    due: date
    title: str


@dataclass(frozen=True, slots=True)  # a county round holds hundreds of thousands
class Planned:
    """One rung for one person, before it is known whether it was reached before.

    ``days_left`` is the working days left on the deadline (a milestone's, for its rungs); for an
    unsigned notice, the working days since it was delivered."""

    person_id: int
    due: DueAssignment
    level: str
    round_date: date
    days_left: int
    as_role: str
    deliver_at: datetime
    urgent: bool
    milestone: MilestoneDue | None = None

    @property
    def rung(self) -> str:
        """The level as its ``Reminder`` row stores it: a milestone's names the milestone, so two
        milestones of one assignment on one day are two rungs (``ms_soon:17``)."""
        return self.level if self.milestone is None else f"{self.level}:{self.milestone.id}"


def plan(
    dues: Sequence[DueAssignment], directory: Directory, calendar: WorkCalendar, policy: Policy, now: datetime
) -> list[Planned]:
    """Every rung each due assignment is on for this round, per person (pure)."""
    r = policy.reminders
    routine_at = routine_delivery(calendar, policy, now)
    out: list[Planned] = []
    for due in dues:
        urgent = due.urgent and r.urgent_any_time
        deliver_at = now if urgent else routine_at
        day = policy.day(deliver_at)
        days_left = calendar.working_days_left(day, due.due)
        step = step_for(days_left, due.urgent, r)
        if step is None:
            continue
        seen: set[int] = set()
        for role in (LIAISON, UNIT_HEAD, FOLLOWER, OFFICE):  # a person in two roles: the first one
            if role not in step.roles:
                continue
            for person in directory.recipients(role, due):
                if person.id in seen:
                    continue
                seen.add(person.id)
                out.append(Planned(person.id, due, step.level, day, days_left, role, deliver_at, due.urgent))
    return out


# --------------------------------------------------------------------------------------------
# Grouping and rendering
# --------------------------------------------------------------------------------------------


@dataclass
class Round:
    """Everything one person hears about in one round: one message."""

    person_id: int
    deliver_at: datetime
    round_date: date
    entries: list[Planned]

    @property
    def urgent(self) -> bool:
        return any(e.urgent for e in self.entries)

    def key(self) -> str:
        """A dedupe key naming exactly the rungs in this message."""
        rungs = sorted((e.due.assignment_id, e.rung) for e in self.entries)
        digest = hashlib.sha1(repr(rungs).encode()).hexdigest()[:16]
        return f"urge:{self.person_id}:{self.round_date.isoformat()}:{digest}"


def group(planned: Iterable[Planned]) -> list[Round]:
    """One round per person and delivery time, entries worst first."""
    rounds: dict[tuple[int, datetime], Round] = {}
    for p in planned:
        key = (p.person_id, p.deliver_at)
        if key not in rounds:
            rounds[key] = Round(p.person_id, p.deliver_at, p.round_date, [])
        rounds[key].entries.append(p)
    for rnd in rounds.values():
        rnd.entries.sort(
            key=lambda e: (
                LEVELS.index(section(e.level)),
                e.days_left,
                e.milestone.due if e.milestone else e.due.due,
                e.due.item_id,
                e.due.role != "lead",
                e.due.unit_name,
            )
        )
    return sorted(rounds.values(), key=lambda x: (x.person_id, x.deliver_at))


def section(level: str) -> str:
    return SECTION_OF.get(level, level)


def days_text(level: str, days_left: int) -> str:
    if section(level) == UNSIGNED:
        return f"通知单下发已{days_left}个工作日，尚未签收"
    if level in (DUE_TODAY, MS_TODAY):
        return "今天到期"
    if days_left < 0:
        return f"已超期{-days_left}个工作日"
    return f"剩余{days_left}个工作日"


def entry_view(due: DueAssignment, level: str, days_left: int, milestone: MilestoneDue | None = None) -> dict[str, Any]:
    """What a message may show of one assignment: only the number (and its neutral label, if it has
    one) for a confidential item."""
    if due.confidential:
        return {"label": due.label, "confidential": True, "name": shown_label(due.title, True)}
    return {
        "label": due.label,
        "confidential": False,
        "title": due.title,
        "unit": due.unit_name,
        "role": UNIT_ROLES_OF_ASSIGNMENT.get(due.role, due.role),
        "due": due_text(due.due, due.provisional),
        "days": days_text(level, days_left),
        "urgent": due.urgent,
        "task": due.task,
        "milestone": {"due": milestone.due, "title": milestone.title} if milestone else None,
    }


def item_buttons(entries: Iterable[tuple[int, str]], limit: int = MAX_BUTTONS) -> Keyboard:
    """One 查看详情 button per distinct item, two to a row."""
    seen: dict[int, str] = {}
    for item_id, label in entries:
        if item_id not in seen:
            seen[item_id] = label
    buttons = [button("i:v", item_id, f"查看 {label}") for item_id, label in list(seen.items())[:limit]]
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


def action_buttons(rnd: Round) -> Keyboard:
    """What a liaison can do from the message itself: 签收 an unsigned notice, 节点完成 a milestone."""
    out: Keyboard = []
    for e in rnd.entries:
        if e.as_role != LIAISON or len(out) >= MAX_BUTTONS:
            continue
        if section(e.level) == UNSIGNED and not any(b.data == f"a:ack:{e.due.assignment_id}" for r in out for b in r):
            out.append([button("a:ack", e.due.assignment_id, f"签收 {e.due.label}")])
        elif e.milestone is not None:
            out.append([button("m:ok", e.milestone.id, milestone_label(e.milestone, e.due.confidential))])
    return out


def milestone_label(m: MilestoneDue, confidential: bool = False) -> str:
    """「节点完成 03-20 完成现场勘查」, short enough for a button (a confidential item's: the date)."""
    if confidential:
        return f"节点完成 {m.due:%m-%d}"
    title = m.title if len(m.title) <= 14 else m.title[:13] + "…"
    return f"节点完成 {m.due:%m-%d} {title}"


def render_round(rnd: Round, person: Person) -> tuple[str, Keyboard]:
    sections = []
    listed = 0
    for level in LEVELS:
        entries = [e for e in rnd.entries if section(e.level) == level]
        if not entries:
            continue
        room = max(0, MAX_LISTED - listed)
        shown = entries[:room]
        listed += len(shown)
        # Items, as the headline counts them (「您有1项…」): an item with two units is one 项, listed per unit.
        items = {e.due.item_id for e in entries}
        sections.append(
            {
                "level": level,
                "title": LEVEL_TITLES[level],
                "emoji": LEVEL_EMOJI[level],
                "count": len(items),
                "entries": [entry_view(e.due, e.level, e.days_left, e.milestone) for e in shown],
                "more": len(items - {e.due.item_id for e in shown}),
            }
        )
    distinct = len({e.due.item_id for e in rnd.entries})
    levels = {section(e.level) for e in rnd.entries}
    only = levels.pop() if len(levels) == 1 else None
    text = render(
        "urging/round.html.j2",
        person_name=person.name,
        total=distinct,
        only_level=(("的" if only in (MS_LATE, MS_TODAY, MS_SOON) else "") + LEVEL_TITLES[only]) if only else None,
        sections=sections,
        roles=sorted({e.as_role for e in rnd.entries}),
        # what the closing lines speak of, per role: {role: {"deadline", "unsigned", "milestone"}}
        about={
            role: {_topic(e.level) for e in rnd.entries if e.as_role == role}
            for role in {e.as_role for e in rnd.entries}
        },
        urgent=rnd.urgent,
    )
    actions = action_buttons(rnd)
    return text, actions + item_buttons((e.due.item_id, e.due.label) for e in rnd.entries)


def _topic(level: str) -> str:
    if section(level) == UNSIGNED:
        return "unsigned"
    return "milestone" if level in (MS_LATE, MS_TODAY, MS_SOON) else "deadline"


# --------------------------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    name: str
    considered: int = 0  # live assignments read (due soon or overdue)
    reminders: int = 0  # new rungs reached
    messages: int = 0  # grouped messages queued
    deferred: int = 0  # of which wait for working hours
    by_level: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def _insert(session: AsyncSession):  # noqa: ANN202
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def _reached_once_rungs(session: AsyncSession, first_day: date, until: date) -> dict[tuple[int, int, str], date]:
    """The latest day each (assignment, person) reached ``due_soon``/``due_today`` for the
    assignments not yet overdue (their history is a few days long)."""
    rows = await session.execute(
        select(Reminder.assignment_id, Reminder.person_id, Reminder.level, func.max(Reminder.round_date))
        .join(Assignment, Assignment.id == Reminder.assignment_id)
        .where(
            Assignment.state.in_(sorted(ACTIVE_ASSIGNMENT_STATES)),
            Assignment.due_date >= first_day,
            Assignment.due_date <= until,
            Reminder.level.in_((DUE_SOON, DUE_TODAY)),
        )
        .group_by(Reminder.assignment_id, Reminder.person_id, Reminder.level)
    )
    return {(a, p, lvl): d for a, p, lvl, d in rows}


async def _reached_overdue_rungs(session: AsyncSession, days: Iterable[date]) -> set[tuple[int, int, date]]:
    """(assignment, person, round day) of the ``overdue`` rungs already reached on ``days`` — the
    round's own days (index ``ix_reminders_day``: a round's rows, however long the history)."""
    days = sorted(set(days))
    if not days:
        return set()
    rows = await session.execute(
        select(Reminder.assignment_id, Reminder.person_id, Reminder.round_date).where(
            Reminder.round_date.in_(days), Reminder.level == OVERDUE
        )
    )
    return {(a, p, d) for a, p, d in rows}


@dataclass
class Candidates:
    """The rungs a round would reach, before the ones reached earlier are taken out."""

    result: SweepResult
    directory: Directory
    planned: list[Planned]


async def candidates(
    session: AsyncSession, calendar: WorkCalendar, now: datetime, settings: Settings, *, skip_reached: bool = True
) -> Candidates:
    """Every rung due at ``now``, less the ``due_soon``/``due_today`` ones already sent for the
    same deadline window (those are sent once per deadline). ``skip_reached`` leaves out in SQL
    the overdue assignments whose rungs are all reached (``overdue_unreached``); off, the sweep
    reads every due assignment (bench/escalation.py compares the two)."""
    policy = Policy.from_settings(settings)
    r = policy.reminders
    result = SweepResult("escalation")
    routine_day = policy.day(routine_delivery(calendar, policy, now))
    today = policy.day(now)
    until = max(horizon(calendar, routine_day, r), horizon(calendar, today, r))
    # The filter costs a probe per overdue share: only worth it once the day has overdue rungs
    # (the day's first round has none, and reads what it writes anyway).
    reached_today = (
        skip_reached
        and await session.scalar(
            select(Reminder.id)
            .where(Reminder.round_date.in_(sorted({today, routine_day})), Reminder.level == OVERDUE)
            .limit(1)
        )
        is not None
    )
    dues = await due_assignments(
        session, until, unreached=overdue_unreached(r, today, routine_day) if reached_today else None
    )
    result.considered = len(dues)
    if not dues:
        return Candidates(result, Directory(), [])
    directory = await load_directory(session, {d.follower_id for d in dues if d.follower_id})
    planned = plan(dues, directory, calendar, policy, now)
    once = await _reached_once_rungs(session, min(today, routine_day), until)
    windows = Windows(calendar, r)
    planned = [
        p
        for p in planned
        if p.level == OVERDUE
        or once.get((p.due.assignment_id, p.person_id, p.level), date.min) < windows.start(p.level, p.due.due)
    ]
    return Candidates(result, directory, planned)


def outgoing_rounds(fresh: Iterable[Planned], directory: Directory) -> list[tuple[Round, Outgoing]]:
    """One grouped message per person and round."""
    out = []
    for rnd in group(fresh):
        person = directory.people[rnd.person_id]
        text, buttons = render_round(rnd, person)
        items = list(dict.fromkeys(e.due.item_id for e in rnd.entries))
        out.append((rnd, Outgoing(person, text, buttons, rnd.key(), rnd.urgent, rnd.deliver_at, items)))
    return out


def count_queued(result: SweepResult, rnd: Round, now: datetime) -> None:
    result.messages += 1
    result.deferred += rnd.deliver_at > now
    for e in rnd.entries:
        result.by_level[e.level] = result.by_level.get(e.level, 0) + 1


def log_sweep(result: SweepResult) -> None:
    log.info(
        "event=sweep name=escalation considered=%s reminders=%s messages=%s deferred=%s",
        result.considered,
        result.reminders,
        result.messages,
        result.deferred,
    )


async def escalation_sweep(
    session: AsyncSession, calendar: WorkCalendar, now: datetime, settings: Settings, *, skip_reached: bool = True
) -> SweepResult:
    """Reach every rung that is due at ``now``; queue one grouped message per person and round.

    Idempotent: rungs are rows with a unique round key, so running it again with the same ``now``
    queues nothing new. Sweeps run one at a time (``bot.runtime.sweeps``: a process lock and, on
    PostgreSQL, an advisory lock), so the rungs not reached yet are known by reading; should two
    rounds still overlap, each message's dedupe key names exactly its rungs, so the second finds
    it queued and sends nothing, and the rungs' unique key keeps one row each.

    Writes: the messages, then the rungs with their message ids — one bulk insert each (the rungs
    are thousands at county scale; writing them first and linking them afterwards cost a second
    bulk UPDATE as large as the insert).
    """
    from bot.domain import chasing  # the round's other rungs (issue 12 point 4); it imports this module

    c = await candidates(session, calendar, now, settings, skip_reached=skip_reached)
    result = c.result
    reached = await _reached_overdue_rungs(session, (p.round_date for p in c.planned if p.level == OVERDUE))
    fresh = [
        p for p in c.planned if p.level != OVERDUE or (p.due.assignment_id, p.person_id, p.round_date) not in reached
    ]
    # Unsigned notices and milestones (already less the rungs they reached before), then the
    # liaisons the office chased by hand that day are left out of the round for that item.
    more, directory = await chasing.round_rungs(session, calendar, Policy.from_settings(settings), now, c.directory)
    result.extra["chasing"] = len(more)
    fresh = await chasing.without_manual(session, fresh + more)
    if not fresh:
        return result
    fresh = await nothing_for_nothing(session, fresh, calendar, Policy.from_settings(settings))
    result.reminders = len(fresh)
    rounds = outgoing_rounds(fresh, directory)
    queued = await enqueue_many(session, [out for _, out in rounds], now)
    rungs: list[ReminderRow] = []
    for rnd, out in rounds:
        outbox_id = queued.get(out.dedupe_key)
        if outbox_id is not None:
            count_queued(result, rnd, now)
        rungs.extend((e.due.assignment_id, e.person_id, e.rung, e.round_date, outbox_id) for e in rnd.entries)
    await insert_reminders(session, rungs, now)
    log_sweep(result)
    return result


# --------------------------------------------------------------------------------------------
# Nothing repeated for nothing (issue 13)
# --------------------------------------------------------------------------------------------

QUIET_AFTER_NOTICE = timedelta(hours=1)  # no reminder about an item within an hour of a message about it
PROGRESS_WORKING_DAYS = 2  # 即将到期 is not sent for an item with progress in the last 2 working days


def previous_working_day(calendar: WorkCalendar, day: date) -> date:
    for _ in range(60):
        day -= timedelta(days=1)
        if is_working_day(calendar, day):
            return day
    raise RuntimeError("no working day within 60 days")


def days_off_before(calendar: WorkCalendar, day: date) -> list[date]:
    """The days off just before ``day`` back to the last working day (empty after a working day)."""
    out: list[date] = []
    d = day - timedelta(days=1)
    while not is_working_day(calendar, d) and len(out) < 60:
        out.append(d)
        d -= timedelta(days=1)
    return out


async def nothing_for_nothing(
    session: AsyncSession, fresh: list[Planned], calendar: WorkCalendar, policy: Policy
) -> list[Planned]:
    """Take out the rungs that would only repeat what the person knows:

    * an urgent overdue item on a day off: reminded on the first day off only (the count of
      overdue working days does not change until the next working day);
    * 即将到期 for an assignment with progress in the last ``PROGRESS_WORKING_DAYS`` working days;
    * anything about an item the person got a message about within the hour.
    A rung taken out is not recorded: a later round reaches it if it is still due then.
    """
    if not fresh:
        return fresh
    # Urgent overdue on days off: reached on an earlier day of the same run of days off?
    off = [p for p in fresh if p.level == OVERDUE and not is_working_day(calendar, p.round_date)]
    earlier: set[tuple[int, int, date]] = set()
    if off:
        days = {d for p in off for d in days_off_before(calendar, p.round_date)}
        earlier = await _reached_overdue_rungs(session, days)
    repeated = {
        id(p)
        for p in off
        if any((p.due.assignment_id, p.person_id, d) in earlier for d in days_off_before(calendar, p.round_date))
    }
    # Recent progress silences 即将到期.
    soon = [p for p in fresh if p.level == DUE_SOON]
    progressed: set[int] = set()
    if soon:
        day = min(p.round_date for p in soon)
        since_day = day
        for _ in range(PROGRESS_WORKING_DAYS):
            since_day = previous_working_day(calendar, since_day)
        from store.workflow import Progress  # the ladder reads progress only here

        progressed = set(
            (
                await session.scalars(
                    select(Progress.assignment_id).where(
                        Progress.assignment_id.in_(sorted({p.due.assignment_id for p in soon})),
                        Progress.created_at >= policy.at(since_day, time(0)),
                    )
                )
            ).all()
        )
    # A message about the same item within the hour (a notice just before the round).
    earliest = min(p.deliver_at for p in fresh) - QUIET_AFTER_NOTICE
    recent = (
        await session.execute(
            select(
                OutboxMessage.person_id, OutboxMessage.item_ids, OutboxMessage.next_attempt_at, OutboxMessage.sent_at
            ).where(
                OutboxMessage.person_id.in_(sorted({p.person_id for p in fresh})),
                OutboxMessage.created_at >= earliest - timedelta(days=1),
                OutboxMessage.item_ids.is_not(None),
                # the rounds' own messages are not notices (a round run again must find its rungs)
                or_(OutboxMessage.dedupe_key.is_(None), ~OutboxMessage.dedupe_key.startswith("urge:")),
                OutboxMessage.status.in_(("pending", "sending", "sent", "held")),
            )
        )
    ).all()
    told: dict[tuple[int, int], list[datetime]] = defaultdict(list)
    for pid, item_ids, due_at, sent_at in recent:
        for i in item_ids or []:
            told[(pid, i)].append(sent_at or due_at)
    out = []
    for p in fresh:
        if id(p) in repeated:
            continue
        if p.level == DUE_SOON and p.due.assignment_id in progressed:
            continue
        if any(
            p.deliver_at - QUIET_AFTER_NOTICE <= at <= p.deliver_at for at in told.get((p.person_id, p.due.item_id), ())
        ):
            continue
        out.append(p)
    return out


@dataclass(frozen=True)
class Outgoing:
    person: Person
    text: str
    buttons: Keyboard | None
    dedupe_key: str
    urgent: bool
    deliver_at: datetime
    item_ids: list[int] | None = None


def _status(person: Person) -> str:
    """As ``bot.outbox.queue.enqueue`` decides it: not bound yet, blocked, or ready to send."""
    if person.telegram_id is None:
        return "unbound"
    return "pending" if person.unreachable_since is None else "unreachable"


async def enqueue_many(session: AsyncSession, messages: Sequence[Outgoing], now: datetime) -> dict[str, int]:
    """``bot.outbox.queue.enqueue`` for many messages in one statement (a round may address hundreds):
    INSERT … ON CONFLICT (dedupe_key) DO NOTHING RETURNING. Returns dedupe key → outbox id for the
    rows written; a key queued before is left out, exactly as ``enqueue`` returns None for it."""
    if not messages:
        return {}
    values = [
        {
            "created_at": now,
            "person_id": m.person.id,
            "chat_id": m.person.telegram_id,
            "kind": "text",
            "text": m.text,
            "buttons": [[{"text": b.text, "data": b.data} for b in row] for row in m.buttons] if m.buttons else None,
            "file_path": None,
            "file_name": None,
            "dedupe_key": m.dedupe_key,
            "urgent": m.urgent,
            "status": _status(m.person),
            "attempts": 0,
            "next_attempt_at": max(m.deliver_at, now),
            # a routine round goes out with the person's other parts of the morning (bot.domain.notices)
            # (an urgent one goes at once, and takes along the person's routine parts due then)
            "item_ids": m.item_ids or None,
            "bundle": "round" if _status(m.person) == "pending" else None,
        }
        for m in messages
    ]
    stmt = (
        _insert(session)(OutboxMessage)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxMessage.id, OutboxMessage.dedupe_key)
    )
    out: dict[str, int] = {}
    for chunk in _chunks(values, 500):
        for oid, key in (await session.execute(stmt, chunk)).all():
            out[key] = oid
    return out


def _chunks(seq: Sequence, n: int) -> Iterable[Sequence]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


# --------------------------------------------------------------------------------------------
# People the bot cannot reach
# --------------------------------------------------------------------------------------------


async def involvement(session: AsyncSession, person: Person) -> list[dict[str, Any]]:
    """The open items a person is involved in (their unit's, led, followed), number-only if confidential."""
    conditions: list[ColumnElement[bool]] = []
    if person.unit_id is not None and person.has_role(LIAISON, UNIT_HEAD):
        conditions.append(
            Item.id.in_(
                select(Assignment.item_id).where(
                    Assignment.unit_id == person.unit_id, Assignment.state.in_(sorted(LIVE_ASSIGNMENT_STATES))
                )
            )
        )
    if person.has_role("leader"):
        conditions.append(Item.id.in_(select(ItemLeader.item_id).where(ItemLeader.person_id == person.id)))
    conditions.append(Item.follower_id == person.id)
    rows = await session.execute(
        select(Item.id, Item.year, Item.number, Item.title, Item.confidential)
        .where(Item.state.in_(sorted(OPEN_ITEM_STATES - {"draft"})), or_(*conditions))
        .order_by(Item.id)
    )
    return [
        {"id": i, "label": format_number(y, n) or f"登记号{i}", "title": None if c else t, "confidential": bool(c)}
        for i, y, n, t, c in rows
    ]


def person_label(person: Person) -> str:
    """ "张三（城关镇 联络员）"."""
    roles = "、".join(ROLE_NAMES[r] for r in ROLE_NAMES if person.has_role(r))
    where = " ".join(x for x in (person.unit.name if person.unit else None, roles) if x)
    return f"{person.name}（{where}）" if where else person.name


async def tell_office_unreachable(
    session: AsyncSession, person: Person, now: datetime, *, calendar: WorkCalendar, settings: Settings
) -> int:
    """The person blocked the bot: every office person is told once, with who and which items.

    Called by the sender (403) and when Telegram reports the block. Their pending messages are
    marked unreachable at once, so they show in /outbox instead of being tried one by one.
    Returns how many office people were told.
    """
    policy = Policy.from_settings(settings)
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.person_id == person.id, OutboxMessage.status == "pending")
        .values(status="unreachable", last_error="收件人已屏蔽机器人")
        .execution_options(synchronize_session=False)
    )
    undelivered = (
        await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.person_id == person.id, OutboxMessage.status == "unreachable")
        )
        or 0
    )
    items = await involvement(session, person)
    since = person.unreachable_since or now
    told = 0
    office = await office_staff(session)
    deliver_at = routine_delivery(calendar, policy, now)
    text = render(
        "urging/unreachable.html.j2",
        who=person_label(person),
        phone=person.phone,
        items=items[:MAX_LISTED],
        more=max(0, len(items) - MAX_LISTED),
        undelivered=undelivered,
        since=since,
    )
    buttons = item_buttons((i["id"], i["label"]) for i in items)
    for staff in office:
        if staff.id == person.id:
            continue
        row = await enqueue(
            session,
            staff,
            text,
            now=now,
            buttons=buttons or None,
            dedupe_key=f"unreachable:{person.id}:{since.isoformat()}:{staff.id}",
            not_before=deliver_at if deliver_at > now else None,
        )
        told += row is not None
    log.warning("event=person_unreachable person=%s office_told=%s items=%s", person.id, told, len(items))
    return told


async def person_blocked(
    session: AsyncSession, person_id: int, now: datetime, *, calendar: WorkCalendar, settings: Settings
) -> bool:
    """Telegram says the person blocked the bot (before any send failed): mark and tell, once."""
    person = await session.get(Person, person_id)
    if person is None or person.unreachable_since is not None:
        return False
    person.unreachable_since = now
    await session.flush()
    await tell_office_unreachable(session, person, now, calendar=calendar, settings=settings)
    return True


async def person_unblocked(session: AsyncSession, person_id: int) -> bool:
    """The person allowed the bot again: new messages go to them (old ones stay visible in /outbox)."""
    person = await session.get(Person, person_id)
    if person is None or person.unreachable_since is None:
        return False
    person.unreachable_since = None
    await session.flush()
    return True


# --------------------------------------------------------------------------------------------
# Messages that did not arrive (/outbox, the office digest)
# --------------------------------------------------------------------------------------------

STATUS_TITLES = {"failed": "多次重试仍发送失败", "unreachable": "对方已屏蔽机器人", "unbound": "对方尚未绑定账号"}


@dataclass(frozen=True)
class Undelivered:
    person_id: int | None
    who: str
    status: str
    status_title: str
    count: int
    last_at: datetime
    headline: str  # the first line of the latest such message, without markup
    last_error: str | None


def headline(html_text: str) -> str:
    first = (html_text or "").strip().splitlines()[0] if (html_text or "").strip() else ""
    return unescape(re.sub(r"<[^>]+>", "", first))[:60]


def last_activity():  # noqa: ANN201 — a SQL expression
    """When a message was last tried (or, never tried, when it was due): what /outbox looks back by.
    Not ``created_at``: a message deferred over a long holiday that then fails is recent news."""
    return func.coalesce(OutboxMessage.claimed_at, OutboxMessage.next_attempt_at)


async def undelivered(session: AsyncSession, since: datetime) -> list[Undelivered]:
    """Messages last tried since ``since`` that did not reach their person, per person and reason."""
    rows = (
        await session.execute(
            select(OutboxMessage, Person)
            .outerjoin(Person, Person.id == OutboxMessage.person_id)
            .where(OutboxMessage.status.in_(UNDELIVERED_STATES), last_activity() >= since)
            .order_by(OutboxMessage.id)
        )
    ).all()
    grouped: dict[tuple[int | None, str], list[tuple[OutboxMessage, Person | None]]] = defaultdict(list)
    for msg, person in rows:
        grouped[(msg.person_id, msg.status)].append((msg, person))
    out = []
    for (pid, status), msgs in grouped.items():
        last, who = max(msgs, key=lambda mp: (_tried_at(mp[0]), mp[0].id))
        out.append(
            Undelivered(
                pid,
                person_label(who) if who else "（未知收件人）",
                status,
                STATUS_TITLES[status],
                len(msgs),
                _tried_at(last),
                headline(last.text),
                last.last_error,
            )
        )
    out.sort(key=lambda u: (UNDELIVERED_STATES.index(u.status), -u.count, u.who))
    return out


def _tried_at(msg: OutboxMessage) -> datetime:
    return msg.claimed_at or msg.next_attempt_at


async def retry_failed(session: AsyncSession, since: datetime, now: datetime) -> int:
    """Queue again, on the office's word, what did not arrive (last tried since ``since``): failed
    messages, and the ones that waited for a person who unblocked the bot or has bound their
    account since. Returns how many."""
    again = {"status": "pending", "attempts": 0, "next_attempt_at": now}
    recent = last_activity() >= since
    failed = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "failed", recent)
        .values(**again, last_error="督查室要求重新发送")
        .execution_options(synchronize_session=False)
    )
    reachable = select(Person.id).where(Person.unreachable_since.is_(None), Person.telegram_id.is_not(None))
    unblocked = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "unreachable", recent, OutboxMessage.person_id.in_(reachable))
        .values(**again, last_error="对方已恢复接收，重新发送")
        .execution_options(synchronize_session=False)
    )
    bound = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "unbound", recent, OutboxMessage.person_id.in_(reachable))
        .values(
            **again,
            chat_id=select(Person.telegram_id).where(Person.id == OutboxMessage.person_id).scalar_subquery(),
            last_error="对方已绑定账号，重新发送",
        )
        .execution_options(synchronize_session=False)
    )
    # UPDATEs return a CursorResult (SQLAlchemy types execute() as a plain Result).
    counts = {
        name: cast(CursorResult[Any], result).rowcount or 0
        for name, result in (("failed", failed), ("unreachable", unblocked), ("unbound", bound))
    }
    # Bulk UPDATEs pass by the mapper hooks: the office's decision is audited here, summed up.
    await audit_bulk(session, "outbox", "outbox.retry", sum(counts.values()), since=since, by_status=counts)
    return sum(counts.values())


OUTAGE_REASONS = {"readonly": "数据库处于只读状态", "locked": "数据库被占用（锁定）", "unavailable": "数据库无法访问"}
MAX_DELAYED_LISTED = 10


async def tell_office_delayed(
    session: AsyncSession, since: datetime, until: datetime, reason: str, *, now: datetime
) -> int:
    """The database refused writes from ``since`` to ``until`` and the sender waited: every office
    person is told once what was delayed (it is being sent now). Returns how many were told."""
    # Due by the end of the outage and not sent before it ended (some may have gone out since).
    due = (
        OutboxMessage.next_attempt_at <= until,
        or_(
            OutboxMessage.status.in_(("pending", "sending")),
            and_(OutboxMessage.status == "sent", OutboxMessage.sent_at >= until),
        ),
    )
    count = await session.scalar(select(func.count()).select_from(OutboxMessage).where(*due)) or 0
    per_person = (
        await session.execute(
            select(Person, func.count(OutboxMessage.id))
            .join(Person, Person.id == OutboxMessage.person_id)
            .where(*due)
            .group_by(Person.id)
            .order_by(func.count(OutboxMessage.id).desc(), Person.id)
        )
    ).all()
    text = render(
        "urging/outage.html.j2",
        since=since,
        until=until,
        reason=OUTAGE_REASONS.get(reason, reason),
        minutes=max(1, round((until - since).total_seconds() / 60)),
        count=count,
        people=[{"who": person_label(p), "count": n} for p, n in per_person[:MAX_DELAYED_LISTED]],
        more=max(0, len(per_person) - MAX_DELAYED_LISTED),
    )
    told = 0
    for staff in await office_staff(session):
        row = await enqueue(
            session, staff, text, now=now, urgent=True, dedupe_key=f"outage:{since.isoformat()}:{staff.id}"
        )
        told += row is not None
    return told


async def pending_count(session: AsyncSession) -> int:
    """Messages still waiting in the outbox (queued or being sent)."""
    return (
        await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status.in_(("pending", "sending")))
        )
        or 0
    )
