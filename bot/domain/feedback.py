"""Weekly feedback (每周反馈, regulation §5(三)): an item that runs longer than a week needs each
unit's progress every week until it is done; a missed week costs points (§8(七)).

Weeks are calendar weeks, Monday to Sunday, in the office's time zone — one week for both the
reminder and the penalty (issue 12 point 4). §5(三) asks for feedback *each week* (每周向县政府督查室
反馈) and §8(七) docks a unit that did not feed back as required (每次扣2分), so the week the
reminder speaks of is the week that is judged: a unit is reminded in week W when it has sent
nothing in W so far (what it sent on the Friday before counts for that earlier week, not for W),
and docked for W only when W ended without its feedback. Some units' habit is "every seven days";
the regulation's week is the calendar one, and the bot follows it.

The weekly sweep (default Monday 08:30, with the morning round; ``[reminders] weekly_day``/``weekly_time``):

1. closes every open week that has ended: ``received`` if the unit sent progress (or its
   completion report) during that week; ``excused`` if it no longer owed work (transferred,
   declined, done) and sent nothing; otherwise ``missed``, with an automatic ``late_feedback``
   score event (once: its dedupe key names the assignment and the week);
2. opens this week for every live assignment of an item with ``weekly_feedback`` that was
   assigned before the week began;
3. reminds the liaisons of the units among them that sent no feedback (progress or completion
   report) in this calendar week yet — one grouped message per person, with a 反馈进展 button
   per item, in working hours.

Only weeks the bot opened are judged: a week that passed entirely while the bot was off (when
nobody could report through it) costs nothing. Every step is idempotent: rows have a unique
(assignment, week) key, reminders are stamped and deduplicated.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.confidential import progress_button, shown_label
from bot.domain.errors import DomainError
from bot.domain.score import DEFAULT_RULES, Rules, record_event, rules_with_points
from bot.domain.urging import (
    Policy,
    SweepResult,
    load_directory,
    routine_delivery,
)
from bot.domain.workdays import WorkCalendar
from bot.domain.workflow import (
    ACTIVE_ASSIGNMENT_STATES,
    OPEN_ITEM_STATES,
    UNIT_ROLES_OF_ASSIGNMENT,
    due_text,
    format_number,
)
from bot.kernel.config import Settings
from bot.kernel.render import render
from bot.outbox.queue import Keyboard, enqueue
from store.models import Unit
from store.urging import FeedbackWeek
from store.workflow import Assignment, CompletionReport, Item, Progress

log = logging.getLogger("duban.feedback")

OPEN, RECEIVED, MISSED, EXCUSED = "open", "received", "missed", "excused"


def week_start(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def late_key(assignment_id: int, week: date) -> str:
    return f"late_feedback:{assignment_id}:{week.isoformat()}"


async def _feedback_times(
    session: AsyncSession, assignment_ids: list[int], since: datetime
) -> dict[int, list[datetime]]:
    """When each assignment sent progress or a completion report since ``since``."""
    out: dict[int, list[datetime]] = defaultdict(list)
    if not assignment_ids:
        return out
    for model in (Progress, CompletionReport):
        for i in range(0, len(assignment_ids), 500):
            chunk = assignment_ids[i : i + 500]
            rows = await session.execute(
                select(model.assignment_id, model.created_at).where(
                    model.assignment_id.in_(chunk), model.created_at >= since
                )
            )
            for aid, at in rows:
                out[aid].append(at)
    return out


async def close_weeks(
    session: AsyncSession,
    policy: Policy,
    this_week: date,
    now: datetime,
    result: SweepResult,
    rules: Rules = DEFAULT_RULES,
) -> None:
    rows = (
        await session.execute(
            select(
                FeedbackWeek, Assignment.state, Assignment.unit_id, Assignment.item_id, Item.year, Item.number, Item.id
            )
            .join(Assignment, Assignment.id == FeedbackWeek.assignment_id)
            .join(Item, Item.id == Assignment.item_id)
            .where(FeedbackWeek.status == OPEN, FeedbackWeek.week_start < this_week)
            .order_by(FeedbackWeek.week_start, FeedbackWeek.id)
        )
    ).all()
    if not rows:
        return
    first = min(w.week_start for w, *_ in rows)
    times = await _feedback_times(session, sorted({w.assignment_id for w, *_ in rows}), policy.at(first, time(0)))
    for week, state, unit_id, item_id, year, number, iid in rows:
        start, end = policy.at(week.week_start, time(0)), policy.at(week.week_start + timedelta(days=7), time(0))
        if any(start <= t < end for t in times.get(week.assignment_id, ())):
            week.status = RECEIVED
        elif state not in ACTIVE_ASSIGNMENT_STATES:
            week.status = EXCUSED
        else:
            week.status = MISSED
            label = format_number(year, number) or f"登记号{iid}"
            last_day = week.week_start + timedelta(days=6)
            try:
                event = await record_event(
                    session,
                    year=last_day.year,
                    unit_id=unit_id,
                    rule_code="late_feedback",
                    reason=f"{label}：{week.week_start.isoformat()}至{last_day.isoformat()}一周未按要求反馈办理进展",
                    now=now,
                    item_id=item_id,
                    assignment_id=week.assignment_id,
                    automatic=True,
                    dedupe_key=late_key(week.assignment_id, week.week_start),
                    rules=rules,
                )
            except DomainError as exc:  # e.g. the year's score was already approved: recorded, not scored
                log.warning(
                    "event=late_feedback_not_scored assignment=%s week=%s reason=%s",
                    week.assignment_id,
                    week.week_start,
                    exc,
                )
                event = None
            if event is not None:
                week.score_event_id = event.id
        week.closed_at = now
        result.by_level[week.status] = result.by_level.get(week.status, 0) + 1
    await session.flush()


async def open_week(session: AsyncSession, policy: Policy, this_week: date, now: datetime) -> list[int]:
    """Create this week's rows; returns the ids of the assignments that owe feedback this week."""
    owed = (
        (
            await session.execute(
                select(Assignment.id)
                .join(Item, Item.id == Assignment.item_id)
                .where(
                    Item.weekly_feedback.is_(True),
                    Item.state.in_(sorted(OPEN_ITEM_STATES)),
                    Assignment.state.in_(sorted(ACTIVE_ASSIGNMENT_STATES)),
                    Assignment.notified_at < policy.at(this_week, time(0)),
                )
                .order_by(Assignment.id)
            )
        )
        .scalars()
        .all()
    )
    have = set(
        (await session.execute(select(FeedbackWeek.assignment_id).where(FeedbackWeek.week_start == this_week)))
        .scalars()
        .all()
    )
    for aid in owed:
        if aid not in have:
            session.add(FeedbackWeek(assignment_id=aid, week_start=this_week, status=OPEN))
    await session.flush()
    return list(owed)


async def feedback_sweep(
    session: AsyncSession, calendar: WorkCalendar, now: datetime, settings: Settings
) -> SweepResult:
    """Close ended weeks, open this one, remind the quiet units (see the module docstring)."""
    policy = Policy.from_settings(settings)
    result = SweepResult("weekly_feedback")
    this_week = week_start(policy.day(now))
    # The deployment's points: the rules are a function of the settings the sweep is given.
    await close_weeks(session, policy, this_week, now, result, rules_with_points(settings.score.points))
    owed = await open_week(session, policy, this_week, now)
    result.considered = len(owed)

    weeks = (
        await session.execute(
            select(
                FeedbackWeek,
                Assignment.id,
                Assignment.unit_id,
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
            .join(Assignment, Assignment.id == FeedbackWeek.assignment_id)
            .join(Unit, Unit.id == Assignment.unit_id)
            .join(Item, Item.id == Assignment.item_id)
            .where(
                FeedbackWeek.week_start == this_week,
                FeedbackWeek.status == OPEN,
                FeedbackWeek.reminded_at.is_(None),
                Assignment.state.in_(sorted(ACTIVE_ASSIGNMENT_STATES)),
            )
            .order_by(Item.id, Assignment.id)
        )
    ).all()
    if not weeks:
        return result
    # The week judged at its end (``close_weeks``: feedback in [Monday, next Monday)) is the week
    # reminded: a unit with feedback in this week so far is not reminded, whatever it sent before.
    reported = await _feedback_times(session, [w[1] for w in weeks], policy.at(this_week, time(0)))
    quiet = [w for w in weeks if not reported.get(w[1])]
    if not quiet:
        return result

    directory = await load_directory(session)
    deliver_at = routine_delivery(calendar, policy, now)
    per_person: dict[int, list] = defaultdict(list)
    for row in quiet:
        for person in directory.liaisons.get(row[2], []):
            per_person[person.id].append(row)
    for person_id, rows in per_person.items():
        person = directory.people[person_id]
        entries = []
        buttons: Keyboard = []
        for _week, aid, _unit_id, role, due, prov, unit_name, item_id, year, number, title, conf in rows:
            label = format_number(year, number) or f"登记号{item_id}"
            entries.append(
                {
                    "label": label,
                    "confidential": bool(conf),
                    "title": title,
                    "name": shown_label(title, bool(conf)),
                    "unit": unit_name,
                    "role": UNIT_ROLES_OF_ASSIGNMENT.get(role, role),
                    "due": due_text(due, bool(prov)),
                }
            )
            if len(buttons) < 8:
                buttons.append([progress_button(aid, bool(conf), f"反馈进展 {label}")])
        text = render(
            "urging/weekly.html.j2",
            person_name=person.name,
            entries=entries,
            week_start=this_week,
            week_end=this_week + timedelta(days=6),
        )
        row_ = await enqueue(
            session,
            person,
            text,
            now=now,
            buttons=buttons,
            dedupe_key=f"weekly:{person.id}:{this_week.isoformat()}",
            not_before=deliver_at if deliver_at > now else None,
            # held, to go out in one message with the same morning's 催办 round
            item_ids=list(dict.fromkeys(r[7] for r in rows)),
            bundle="round",
        )
        if row_ is not None:
            result.messages += 1
            result.deferred += deliver_at > now
    for row in quiet:
        row[0].reminded_at = now
        result.reminders += 1
    await session.flush()
    log.info(
        "event=sweep name=weekly_feedback owed=%s reminded=%s messages=%s closed=%s",
        result.considered,
        result.reminders,
        result.messages,
        result.by_level,
    )
    return result
