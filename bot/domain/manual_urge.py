"""催办 by hand (issue 12 point 4): office staff tap 「催办」 on an item's card and the liaisons of
every unit still at work on it (签收 pending or in progress) get a 督查室催办 message.

Regulation §5(四): after the notice the office urges by whatever means fit (采取多种形式进行催办);
this is the written one, recorded. Each unit reached is an ``urge`` event in the item's trail (who
chased, which unit) and a ``manual`` rung of the daily round (``store.urging.Reminder``), so:

* a unit is chased by hand at most once per item and working day: a second tap that day says so
  and sends nothing;
* a unit the daily round already reminded about the item that day is not chased again (the
  office is told why);
* the round leaves out, for that day, the liaison's rungs about the item (``bot.domain.chasing.
  without_manual``): one 催办 a day is enough.

Timing is a routine message's (``bot.domain.notices``): in working hours at once; otherwise with
the next working morning's round, merged into the liaison's one morning message — unless the item
is urgent, when it goes at once. The day it counts for is the day it is delivered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.actions import button
from bot.domain.errors import DomainError
from bot.domain.events import record_item_event
from bot.domain.notices import morning
from bot.domain.urging import MANUAL, Policy, days_text, in_working_hours
from bot.domain.workdays import WorkCalendar
from bot.domain.workflow import (
    ACTIVE_ASSIGNMENT_STATES,
    ITEM_STATES,
    UNIT_ROLES_OF_ASSIGNMENT,
    AlreadyHandled,
    InvalidState,
    act,
    due_text,
    item_label,
    liaisons,
    locked,
    require_role,
)
from bot.kernel.clock import OFFICE_TZ
from bot.kernel.config import Settings
from bot.kernel.render import render
from bot.outbox.queue import enqueue
from store.models import Person
from store.urging import Reminder
from store.workflow import Assignment, Item

URGE_STATES = ("assigned", "in_progress", "reported")  # items whose units are at work


@dataclass
class Urged:
    """What one tap did: the units chased (with the liaisons reached) and the ones left out, why."""

    item_id: int
    label: str
    deliver_at: datetime
    waits: bool  # after hours: goes with the next working morning's round
    chased: list[tuple[str, list[str]]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> dict:
        return {"chased": self.chased, "skipped": self.skipped, "waits": self.waits, "deliver_at": self.deliver_at}


def when_delivered(calendar: WorkCalendar, settings: Settings, now: datetime, urgent: bool) -> datetime:
    """In working hours (or urgent): now; otherwise the next working morning's round."""
    policy = Policy.from_settings(settings)
    if (urgent and settings.reminders.urgent_any_time) or in_working_hours(calendar, policy, now):
        return now
    return morning(calendar, policy, settings, now)


def _hhmm(at: datetime) -> str:
    return at.astimezone(OFFICE_TZ).strftime("%H:%M")


async def _reached_on(session: AsyncSession, ids: list[int], day: date) -> dict[int, list[tuple[int, str, datetime]]]:
    """Per assignment, the rungs (person, level, when) reached for round day ``day``."""
    out: dict[int, list[tuple[int, str, datetime]]] = {}
    rows = await session.execute(
        select(Reminder.assignment_id, Reminder.person_id, Reminder.level, Reminder.created_at).where(
            Reminder.assignment_id.in_(ids), Reminder.round_date == day
        )
    )
    for aid, pid, level, at in rows:
        out.setdefault(aid, []).append((pid, level, at))
    return out


async def urge_item(
    session: AsyncSession, person: Person, item_id: int, *, calendar: WorkCalendar, settings: Settings, now: datetime
) -> Urged:
    """Chase the liaisons of ``item_id``'s open units (see the module docstring)."""
    me = await act(session, person, "item.urge")
    require_role(me, "office", "催办")
    item, _ = await locked(session, Item, item_id, "督查事项")
    label = item_label(item)
    if item.state not in URGE_STATES:
        raise InvalidState(f"{label}当前为「{ITEM_STATES.get(item.state, item.state)}」，不能催办。")
    shares = [a for a in item.assignments if a.state in ACTIVE_ASSIGNMENT_STATES]
    if not shares:
        raise InvalidState(f"{label}的承办单位都已报送办结报告或办结，无需催办。")
    urgent = item.importance == "urgent"
    deliver_at = when_delivered(calendar, settings, now, urgent)
    policy = Policy.from_settings(settings)
    day = policy.day(deliver_at)
    result = Urged(item.id, label, deliver_at, deliver_at > now)
    reached = await _reached_on(session, [a.id for a in shares], day)
    by_hand = 0
    for a in shares:
        people = await liaisons(session, a.unit_id)
        ids = {p.id for p in people}
        rungs = reached.get(a.id, [])
        manual = [at for pid, level, at in rungs if level == MANUAL]
        rounds = [at for pid, level, at in rungs if level != MANUAL and pid in ids]
        if manual:
            by_hand += 1
            result.skipped.append((a.unit.name, f"今天已催办过（{_hhmm(min(manual))}）"))
        elif rounds:
            result.skipped.append((a.unit.name, "今天的催办提醒已发送"))
        elif not people:
            result.skipped.append((a.unit.name, "该单位尚无联络员，请电话联系"))
        else:
            await _chase(session, me, item, a, people, day=day, deliver_at=deliver_at, now=now, calendar=calendar)
            result.chased.append((a.unit.name, [p.name for p in people]))
    if not result.chased:
        why = "；".join(f"{unit}：{reason}" for unit, reason in result.skipped)
        if by_hand == len(shares):
            raise AlreadyHandled(f"今天已催办过{label}（每个单位每个工作日催办一次），未重复发送。")
        raise DomainError(f"{label}本次未催办任何单位：{why}")
    await session.flush()
    return result


async def _chase(
    session: AsyncSession,
    me: Person,
    item: Item,
    a: Assignment,
    people: list[Person],
    *,
    day: date,
    deliver_at: datetime,
    now: datetime,
    calendar: WorkCalendar,
) -> None:
    """One unit: a message per liaison, a ``manual`` rung each, one ``urge`` event."""
    label = item_label(item)
    unsigned = a.state == "assigned"
    left = calendar.working_days_left(day, a.due_date) if a.due_date else None
    text = render(
        "urging/manual.html.j2",
        by=me.name,
        label=label,
        confidential=item.confidential,
        title=item.title,
        urgent=item.importance == "urgent",
        unit=a.unit.name,
        role=UNIT_ROLES_OF_ASSIGNMENT.get(a.role, a.role),
        due=due_text(a.due_date, a.due_provisional),
        days=days_text("due_today" if left == 0 else "overdue", left) if left is not None else None,
        unsigned=unsigned,
    )
    buttons = ([[button("a:ack", a.id, f"签收 {label}")]] if unsigned else []) + [
        [button("i:v", item.id, f"查看 {label}")]
    ]
    for liaison in people:
        row = await enqueue(
            session,
            liaison,
            text,
            now=now,
            buttons=buttons,
            dedupe_key=f"manual:{a.id}:{liaison.id}:{day.isoformat()}",
            urgent=item.importance == "urgent",
            not_before=deliver_at if deliver_at > now else None,
            item_ids=[item.id],
            bundle="round",  # with the liaison's round that morning, if it waits for one
        )
        session.add(
            Reminder(
                assignment_id=a.id,
                person_id=liaison.id,
                level=MANUAL,
                round_date=day,
                outbox_id=row.id if row is not None else None,
                created_at=now,
            )
        )
    await record_item_event(session, "urge", item.id, now, actor_id=me.id, assignment_id=a.id)
