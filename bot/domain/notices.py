"""When routine messages go out, and bundled how (issue 13: respect for people's time).

An event notice (a new 督办通知单, a review result, an approval, a closure …) is queued by
``bot.domain.workflow.notify`` as a routine *part* (``bundle="notice"``) unless it is urgent or
answers the acting person's own action; the 催办 round and the weekly reminder queue theirs as
``bundle="round"`` (due at their delivery time). ``release_due`` (the sender's hook, before each
pass) decides when each part may go and sends each person's due parts as one message:

* a notice caused outside working hours (evening, weekend, holiday): with the next working
  day's morning round (``morning``: the later of ``work_start`` and ``round_time``);
* caused in working hours and asking the person to act (it carries action buttons): at once;
* caused in working hours and only for information: at once, or, with ``[reminders]
  bundle_time`` set, at that time (all of the day's in one message; after it, with the next
  morning round);
* with ``bundle_time`` set, people at a desk (the office, its head, leaders) get every notice at
  the next desk time (``desk_times``: the morning round, 11:30, the bundle time);
* whenever a person gets a message anyway, the parts still waiting for a later time of the same
  working day ride along in it (fewer messages, nothing later than it would have been).

Parts are queued ``pending`` with ``bundle`` set; the running bot's sender claims only rows
without ``bundle`` (a sender without the hook, as in tools and some tests, sends them as
before). A part whose time has not come becomes ``held`` with that time in ``next_attempt_at``,
so the sender's pass only reads the parts that are due.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.urging import Policy, in_working_hours, is_working_day, next_working_day
from bot.domain.workdays import WorkCalendar
from bot.kernel.config import Settings
from bot.outbox.bundles import merge_parts
from store.models import OutboxMessage, Person, PersonRole
from store.workflow import Item

HELD = "held"
MAX_ROUTINE_PER_DAY = 2  # with bundling on, a unit's people get at most this many routine messages a day
DESK_MIDDAY = time(11, 30)
DESK_ROLES = ("office", "office_head", "leader")


def bundle_time(settings: Settings) -> time | None:
    return getattr(settings.reminders, "bundle_time", None)


def morning_time(settings: Settings) -> time:
    """The morning round: held notices join it, so a person's morning is one message."""
    r = settings.reminders
    return max(r.work_start, r.round_time) if r.round_time < r.work_end else r.work_start


def morning(calendar: WorkCalendar, policy: Policy, settings: Settings, at: datetime) -> datetime:
    """The first morning round at or after ``at``."""
    day = policy.day(at)
    t = morning_time(settings)
    if is_working_day(calendar, day) and policy.local(at).time() <= t:
        return policy.at(day, t)
    return policy.at(next_working_day(calendar, day), t)


def _not_before_round(calendar: WorkCalendar, policy: Policy, settings: Settings, at: datetime) -> datetime:
    """``at``, or that working day's morning round when ``at`` is earlier in the day."""
    day = policy.day(at)
    round_at = policy.at(day, morning_time(settings))
    return round_at if is_working_day(calendar, day) and at < round_at else at


def actionable(buttons: list | None) -> bool:
    """A notice that asks its reader to act: it carries a button other than 查看详情."""
    return any(not str(b.get("data", "")).startswith("i:v:") for row in buttons or [] for b in row)


def desk_times(settings: Settings) -> list[time]:
    """When people at a desk (the office, its head, leaders) get their requests, with bundling on:
    the morning round, late morning and the bundle time — with the digest, four messages a day."""
    daily = bundle_time(settings)
    return sorted({morning_time(settings), DESK_MIDDAY, *([daily] if daily else [])})


def slot(
    calendar: WorkCalendar,
    policy: Policy,
    settings: Settings,
    created_at: datetime,
    buttons: list | None,
    desk: bool = False,
) -> datetime:
    """When a notice caused at ``created_at`` may be delivered (see the module docstring)."""
    if not in_working_hours(calendar, policy, created_at):
        return morning(calendar, policy, settings, created_at)
    daily = bundle_time(settings)
    if desk and daily is not None:
        for t in desk_times(settings):
            at = policy.at(policy.day(created_at), t)
            if at >= created_at and in_working_hours(calendar, policy, at):
                return at
        return morning(calendar, policy, settings, created_at)
    if actionable(buttons) or daily is None:
        return created_at
    at = policy.at(policy.day(created_at), daily)
    if policy.local(created_at).time() < daily and in_working_hours(calendar, policy, at):
        return at
    return morning(calendar, policy, settings, created_at)


async def release_due(
    session: AsyncSession, calendar: WorkCalendar, settings: Settings, now: datetime, *, hold_rounds: bool = False
) -> int:
    """Send (as ``pending``) every person's held parts that are due at ``now``, one message each;
    returns how many messages were released. Idempotent: a released part is no longer held.
    ``hold_rounds``: routine round parts wait (the weekly reminder is about to join them)."""
    policy = Policy.from_settings(settings)
    rows = (
        await session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.status.in_(("pending", HELD)),
                OutboxMessage.bundle.is_not(None),
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.person_id, OutboxMessage.id)
        )
    ).all()
    if not rows:
        return 0
    desk = (
        set(
            (
                await session.scalars(
                    select(PersonRole.person_id).where(
                        PersonRole.person_id.in_({r.person_id for r in rows if r.person_id is not None}),
                        PersonRole.role.in_(DESK_ROLES),
                    )
                )
            ).all()
        )
        if bundle_time(settings)
        else set()
    )
    due: dict[int | None, list[OutboxMessage]] = defaultdict(list)
    for row in rows:
        if hold_rounds and row.bundle == "round" and not row.urgent:
            continue
        # A round's part (催办, weekly reminders) already carries its time, at the earliest the
        # morning round (a weekly reminder held over a holiday must not go at work_start alone,
        # half an hour before the round it belongs with); a notice's is computed.
        at = (
            _not_before_round(calendar, policy, settings, row.next_attempt_at)
            if row.bundle == "round"
            else max(
                row.next_attempt_at,
                slot(calendar, policy, settings, row.created_at, row.buttons, row.person_id in desk),
            )
        )
        if at > now:
            row.status, row.next_attempt_at = HELD, at  # looked at again only when it is due
        else:
            due[row.person_id].append(row)
    if not due:
        await session.flush()
        return 0
    # Parts of the same people still waiting for later today ride along.
    end_of_day = policy.at(policy.day(now), settings.reminders.work_end)
    later = (
        (
            await session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.status == HELD,
                    OutboxMessage.person_id.in_([p for p in due if p is not None]),
                    OutboxMessage.next_attempt_at > now,
                    OutboxMessage.next_attempt_at <= end_of_day,
                )
                .order_by(OutboxMessage.id)
            )
        ).all()
        if in_working_hours(calendar, policy, now)
        else []
    )
    for row in later:
        if row not in due[row.person_id]:
            due[row.person_id].append(row)
    if bundle_time(settings) is not None:
        await _cap(session, calendar, policy, settings, now, due, desk)
    tags = await _tags(session, [r for parts in due.values() for r in parts if r.buttons and r.item_ids])
    released = 0
    for parts in due.values():
        parts.sort(key=lambda r: r.id)
        for group in merge_parts(parts, tags):
            head, rest = group.rows[0], group.rows[1:]
            head.text, head.buttons, head.item_ids = group.text, group.buttons, group.item_ids
            head.status, head.next_attempt_at, head.bundle = "pending", now, None
            head.urgent = any(r.urgent for r in group.rows)
            for r in rest:
                r.status, r.bundled_into = "bundled", head.id
            released += 1
    await session.flush()
    return released


async def _tags(session: AsyncSession, rows: list[OutboxMessage]) -> dict[int, str]:
    """A short name of each part's item ("3号"), put before its buttons in a bundle."""
    first = {r.id: r.item_ids[0] for r in rows if r.item_ids}  # the caller passes parts with items
    ids = set(first.values())
    if not ids:
        return {}
    numbers = dict((await session.execute(select(Item.id, Item.number).where(Item.id.in_(ids)))).all())
    return {
        part: f"{numbers[item_id]}号" if numbers.get(item_id) else f"登记号{item_id}" for part, item_id in first.items()
    }


def _actor_id(session: AsyncSession) -> int | None:
    actor = session.info.get("actor")
    return getattr(actor, "id", None)


def held(session: AsyncSession, person: Person, urgent: bool) -> bool:
    """A notice waits for working hours and its bundle unless it is urgent or answers the
    person's own action (they are looking at the chat right now)."""
    return not urgent and _actor_id(session) != person.id


def follower_id(item: Item) -> int | None:
    """The office person who follows ``item`` (跟踪专人): the named follower, else its registrant."""
    for p in (item.follower, item.created_by):
        if p is not None and p.active and p.has_role("office"):
            return p.id
    return None


def hears_about(session: AsyncSession, person: Person, item: Item) -> bool:
    """Office staff other than the item's follower do not get its event notices: they see the
    item in their digest (issue 13: no message to every staff member for every event)."""
    if not person.has_role("office") or person.has_role("office_head", "leader", "liaison", "unit_head"):
        return True
    if _actor_id(session) == person.id:
        return True
    follower = follower_id(item)
    return follower is None or follower == person.id


async def _cap(
    session: AsyncSession,
    calendar: WorkCalendar,
    policy: Policy,
    settings: Settings,
    now: datetime,
    due: dict[int | None, list[OutboxMessage]],
    desk: set[int],
) -> None:
    """With bundling on, a unit's liaison or head who already got ``MAX_ROUTINE_PER_DAY`` routine
    messages today gets further routine parts with the next morning round (people at a desk have
    their desk times instead)."""
    people = [p for p, parts in due.items() if p is not None and p not in desk and not any(r.urgent for r in parts)]
    if not people:
        return
    day_start = policy.at(policy.day(now), time(0))
    sent = dict(
        (
            await session.execute(
                select(OutboxMessage.person_id, func.count())
                .where(
                    OutboxMessage.person_id.in_(people),
                    OutboxMessage.status.in_(("pending", "sending", "sent")),
                    OutboxMessage.bundle.is_(None),
                    OutboxMessage.urgent.is_(False),
                    OutboxMessage.next_attempt_at >= day_start,
                    OutboxMessage.next_attempt_at <= now,
                )
                .group_by(OutboxMessage.person_id)
            )
        ).all()
    )
    later = morning(calendar, policy, settings, policy.at(policy.day(now), settings.reminders.work_end))
    for p in people:
        if sent.get(p, 0) >= MAX_ROUTINE_PER_DAY:
            for row in due.pop(p):
                row.status, row.next_attempt_at = HELD, later
