"""The round's other rungs (issue 12 point 4): a 督办通知单 nobody signed for (签收), and the
时间节点 of a unit's 工作方案. They are rungs of the daily round (``bot.domain.urging``): a
``Reminder`` row each, in the same grouped message per person as the deadline ladder, in working
hours (urgent items any time, as the ladder), nothing twice.

Unsigned notice. Regulation §5(三): a unit that receives an item brings it to its head (呈主要负责人
审阅) and plans the work; §5(四): once the notice is out, the office urges. Counted in working days
after the day the notice reached the unit (that day does not count; one sent after hours reached
it the next working morning):

=====================================  ==============================================
working days without 签收              who is reminded (each step once)
=====================================  ==============================================
1                                      the unit's liaisons (``unsigned``)
2 or more                              the unit's head(s), and the liaisons again
                                       (``unsigned_head``)
=====================================  ==============================================

签收 (or any action that implies it) ends it; the deadline ladder goes on as before.

Milestones: the open (not 节点完成) milestones of each live assignment's latest plan, on the
deadline ladder's rhythm and settings: ``ms_soon`` within ``due_soon_days`` working days and
``ms_today`` on the day (the liaisons, once per milestone), ``ms_late`` every
``overdue_every_days`` working days once it has passed (the liaisons and the unit's heads). The
office is not told per milestone: it sees the plan on /item and the item's own deadline on the
ladder. A milestone's rung names it (``ms_soon:17``), so two milestones of one share are two rungs.

The office's one-tap 催办 (``bot.domain.manual_urge``) is a rung too (``manual``): a liaison it
reached on a round day is left out of that day's round for that item (``without_manual``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.urging import (
    LIAISON,
    MANUAL,
    MS_LATE,
    MS_SOON,
    MS_TODAY,
    UNIT_HEAD,
    UNSIGNED,
    UNSIGNED_HEAD,
    Directory,
    DueAssignment,
    MilestoneDue,
    Planned,
    Policy,
    delivery,
    due_rows,
    due_select,
    horizon,
    load_directory,
    routine_delivery,
)
from bot.domain.workdays import WorkCalendar
from bot.domain.workflow import ACTIVE_ASSIGNMENT_STATES
from bot.kernel.config import ReminderSettings
from store.urging import Reminder
from store.workflow import Assignment, Item, Milestone, Plan

# Items whose units are at work (a suspended item is not chased; a closed one has no open share).
WORKING_ITEM_STATES = ("assigned", "in_progress", "reported")
ONCE = (UNSIGNED, UNSIGNED_HEAD, MS_SOON, MS_TODAY)  # reached once per person; ms_late per round day
CHUNK = 500


def unsigned_step(days: int) -> tuple[str, tuple[str, ...]] | None:
    """The rung of a notice unsigned for ``days`` working days, and who hears (pure)."""
    if days >= 2:
        return UNSIGNED_HEAD, (LIAISON, UNIT_HEAD)
    if days == 1:
        return UNSIGNED, (LIAISON,)
    return None


def milestone_step(days_left: int, r: ReminderSettings) -> tuple[str, tuple[str, ...]] | None:
    """A milestone's rung with ``days_left`` working days left (the deadline ladder's rhythm)."""
    if days_left < 0:
        if (-days_left - 1) % r.overdue_every_days:
            return None
        return MS_LATE, (LIAISON, UNIT_HEAD)
    if days_left == 0:
        return (MS_TODAY, (LIAISON,)) if r.due_day else None
    if days_left <= r.due_soon_days:
        return MS_SOON, (LIAISON,)
    return None


async def _dues(session: AsyncSession, ids: Iterable[int]) -> dict[int, DueAssignment]:
    ids = sorted(set(ids))
    out: dict[int, DueAssignment] = {}
    for i in range(0, len(ids), CHUNK):
        for d in await due_rows(session, due_select().where(Assignment.id.in_(ids[i : i + CHUNK]))):
            out[d.assignment_id] = d
    return out


async def unsigned_notices(session: AsyncSession) -> list[tuple[DueAssignment, datetime]]:
    """Shares whose notice went out and nobody signed for yet, with when it went."""
    rows = (
        await session.execute(
            select(Assignment.id, Assignment.notified_at)
            .join(Item, Item.id == Assignment.item_id)
            .where(
                Assignment.state == "assigned",  # index ix_assignments_state_due
                Assignment.acknowledged_at.is_(None),
                Assignment.notified_at.is_not(None),
                Assignment.due_date.is_not(None),
                Item.state.in_(WORKING_ITEM_STATES),
            )
        )
    ).all()
    dues = await _dues(session, (aid for aid, _ in rows))
    return [(dues[aid], at) for aid, at in rows if aid in dues and at is not None]


async def open_milestones(session: AsyncSession, until: date) -> list[tuple[DueAssignment, MilestoneDue]]:
    """The milestones due by ``until`` and not done, of each live share's latest plan."""
    latest = (
        select(func.max(Plan.id)).where(Plan.assignment_id == Assignment.id).correlate(Assignment).scalar_subquery()
    )
    rows = (
        await session.execute(
            select(Plan.assignment_id, Milestone.id, Milestone.due_date, Milestone.title)
            .join(Plan, Plan.id == Milestone.plan_id)
            .join(Assignment, Assignment.id == Plan.assignment_id)
            .join(Item, Item.id == Assignment.item_id)
            .where(
                Milestone.done_at.is_(None),
                Milestone.due_date <= until,
                Plan.id == latest,
                Assignment.state.in_(sorted(ACTIVE_ASSIGNMENT_STATES)),
                Assignment.due_date.is_not(None),
                Item.state.in_(WORKING_ITEM_STATES),
            )
            .order_by(Milestone.due_date, Milestone.id)
        )
    ).all()
    dues = await _dues(session, (r[0] for r in rows))
    return [(dues[aid], MilestoneDue(mid, due, title)) for aid, mid, due, title in rows if aid in dues]


async def milestones_of(session: AsyncSession, assignment_ids: Sequence[int]) -> list[MilestoneDue]:
    """The open milestones of these shares' latest plans, by date (the 节点完成 buttons on /item)."""
    if not assignment_ids:
        return []
    latest = select(func.max(Plan.id)).where(Plan.assignment_id.in_(assignment_ids)).group_by(Plan.assignment_id)
    rows = await session.execute(
        select(Milestone.id, Milestone.due_date, Milestone.title)
        .where(Milestone.plan_id.in_(latest), Milestone.done_at.is_(None))
        .order_by(Milestone.due_date, Milestone.id)
    )
    return [MilestoneDue(mid, due, title) for mid, due, title in rows]


def _plan(
    due: DueAssignment,
    step: tuple[str, tuple[str, ...]] | None,
    days: int,
    directory: Directory,
    day: date,
    deliver_at: datetime,
    milestone: MilestoneDue | None = None,
) -> list[Planned]:
    if step is None:
        return []
    level, roles = step
    out: list[Planned] = []
    seen: set[int] = set()
    for role in roles:  # a person in two roles: the first one
        for person in directory.recipients(role, due):
            if person.id not in seen:
                seen.add(person.id)
                out.append(Planned(person.id, due, level, day, days, role, deliver_at, due.urgent, milestone))
    return out


def plan_rungs(
    unsigned: Sequence[tuple[DueAssignment, datetime]],
    milestones: Sequence[tuple[DueAssignment, MilestoneDue]],
    directory: Directory,
    calendar: WorkCalendar,
    policy: Policy,
    now: datetime,
) -> list[Planned]:
    """Every unsigned-notice and milestone rung due in this round, per person (pure)."""
    r = policy.reminders
    routine_at = routine_delivery(calendar, policy, now)
    out: list[Planned] = []
    for due, notified_at in unsigned:
        deliver_at = now if due.urgent and r.urgent_any_time else routine_at
        day = policy.day(deliver_at)
        reached = policy.day(delivery(calendar, policy, notified_at, due.urgent))  # the day the unit got it
        days = calendar.working_days_left(reached, day) if reached < day else 0
        out += _plan(due, unsigned_step(days), days, directory, day, deliver_at)
    for due, m in milestones:
        deliver_at = now if due.urgent and r.urgent_any_time else routine_at
        day = policy.day(deliver_at)
        left = calendar.working_days_left(day, m.due)
        out += _plan(due, milestone_step(left, r), left, directory, day, deliver_at, m)
    return out


async def _reached(session: AsyncSession, planned: Sequence[Planned]) -> set[tuple]:
    """(assignment, person, rung) reached on any day, and (…, round day) for the daily rungs."""
    ids = sorted({p.due.assignment_id for p in planned})
    rungs = sorted({p.rung for p in planned})
    out: set[tuple] = set()
    for i in range(0, len(ids), CHUNK):
        rows = await session.execute(
            select(Reminder.assignment_id, Reminder.person_id, Reminder.level, Reminder.round_date).where(
                Reminder.assignment_id.in_(ids[i : i + CHUNK]), Reminder.level.in_(rungs)
            )
        )
        for aid, pid, level, day in rows:
            out.add((aid, pid, level))
            out.add((aid, pid, level, day))
    return out


async def round_rungs(
    session: AsyncSession, calendar: WorkCalendar, policy: Policy, now: datetime, directory: Directory
) -> tuple[list[Planned], Directory]:
    """The unsigned-notice and milestone rungs this round reaches that were not reached before,
    and the directory that names their people (``directory`` itself, read if it was not yet)."""
    r = policy.reminders
    routine_day = policy.day(routine_delivery(calendar, policy, now))
    until = max(horizon(calendar, routine_day, r), horizon(calendar, policy.day(now), r))
    unsigned = await unsigned_notices(session)
    milestones = await open_milestones(session, until)
    if not unsigned and not milestones:
        return [], directory
    if not directory.people:
        directory = await load_directory(session)
    planned = plan_rungs(unsigned, milestones, directory, calendar, policy, now)
    if not planned:
        return [], directory
    reached = await _reached(session, planned)
    fresh = [
        p
        for p in planned
        if (
            (p.due.assignment_id, p.person_id, p.rung)
            if p.level in ONCE
            else (p.due.assignment_id, p.person_id, p.rung, p.round_date)
        )
        not in reached
    ]
    return fresh, directory


async def without_manual(session: AsyncSession, fresh: list[Planned]) -> list[Planned]:
    """Leave out a liaison's rungs about an item the office chased them about by hand on that
    round day (``manual`` rungs): one 催办 a day per item is enough. Not recorded, so a later
    round still reaches a rung that is still due."""
    days = sorted({p.round_date for p in fresh if p.as_role == LIAISON})
    if not days:
        return fresh
    chased = set(
        (
            await session.execute(
                select(Reminder.assignment_id, Reminder.person_id, Reminder.round_date).where(
                    Reminder.level == MANUAL, Reminder.round_date.in_(days)
                )
            )
        ).all()
    )
    if not chased:
        return fresh
    return [p for p in fresh if p.as_role != LIAISON or (p.due.assignment_id, p.person_id, p.round_date) not in chased]
