"""The annual 100-point score (regulation §8): rules with stable codes, and recording events.

Every event names its unit, rule and (for workflow events) item, and who recorded it. Points
come from the rule (configurable per deployment, ``[score.points]``), never from the caller, so
nobody can record "−7" quietly. A frozen year accepts nothing. A correction is a new event that
reverses an earlier one, never an edit.

Where events come from:

* bulletins (通报) — ``bot.domain.records.issue_bulletin`` records the rule the office chose;
* late weekly feedback — the urging sweep calls ``record_event(rule_code="late_feedback", ...)``;
* items of leaders/superiors and NPC/CPPCC proposals finished after a unit's deadline —
  ``record_late_closure`` (called when the item closes) and ``settle_year`` (items still open
  past their deadline: shown as pending in ``/score``, recorded when the year's table is approved);
* the office, by hand, with a reason (``add_manual_event``), and reversals (``reverse_event``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Select, String, cast, exists, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.errors import DomainError
from bot.domain.workflow import (
    UNIT_ROLES_OF_ASSIGNMENT,
    AlreadyHandled,
    act,
    clean_text,
    format_number,
    item_label,
    load_item,
    local_date,
    require_role,
)
from bot.kernel.config import SCORE_RULES
from store.models import Person, Unit
from store.score import ScoreEvent, ScoreYear
from store.workflow import Assignment, CompletionReport, Item

log = logging.getLogger("duban.score")

BASE_SCORE = 100
MAX_POINTS = 100  # a configured rule worth more than the whole score is a typo


@dataclass(frozen=True)
class Rule:
    code: str
    points: int
    name: str  # Chinese, as shown in tables and messages
    clause: str  # where the regulation says it
    disqualifies: bool = False


# The table itself is data in the configuration module, which checks [score.points] against it.
DEFAULT_RULES: dict[str, Rule] = {
    code: Rule(code, points, name, clause, disqualifies)
    for code, (points, name, clause, disqualifies) in SCORE_RULES.items()
}
COMMENDATION = "commendation"
# The rules a criticism bulletin may count under (the office chooses one).
CRITICISM_RULES = tuple(code for code in DEFAULT_RULES if code.startswith("criticism."))

# Items whose lateness costs points by itself (regulation §8(4), §8(5)): source → (lead, assisting).
LATE_RULES: dict[str, tuple[str, str]] = {
    "leader": ("late.leader_or_superior", "late.leader_or_superior"),
    "superior": ("late.leader_or_superior", "late.leader_or_superior"),
    "proposal": ("late.npc_cppcc.lead", "late.npc_cppcc.assist"),
}
# A unit's share that is still owed or finished counts; one passed on (转办) or declined does not.
_COUNTED_STATES = ("assigned", "in_progress", "reported", "done")


# The rules a service records and shows with. The deployment's (``[score.points]``) are built once
# at start-up and held by the runtime (``Services.score_rules``), which passes them down; a caller
# that passes none (a test, the sandbox's seed) gets the regulation's defaults.
Rules = Mapping[str, Rule]


def rules_with_points(overrides: Mapping[str, int] | None) -> dict[str, Rule]:
    """The default rules with the deployment's points (config ``[score.points]``)."""
    rules = dict(DEFAULT_RULES)
    for code, points in (overrides or {}).items():
        if code not in rules:
            raise DomainError(f"未知的考核规则「{code}」（可选：{'、'.join(rules)}）")
        rules[code] = Rule(code, points, rules[code].name, rules[code].clause, rules[code].disqualifies)
    return rules


def rule_label(rule: Rule) -> str:
    """ "重要工作部署落实不到位被通报批评（第八条（一），−5分）"."""
    return f"{rule.name}（{rule.clause}，{format_points(rule.points)}分）"


def format_points(points: int) -> str:
    return f"+{points}" if points > 0 else f"−{-points}" if points < 0 else "0"


async def is_frozen(session: AsyncSession, year: int) -> bool:
    return await session.get(ScoreYear, year) is not None


async def record_event(
    session: AsyncSession,
    *,
    year: int,
    unit_id: int,
    rule_code: str,
    reason: str,
    now: datetime,
    item_id: int | None = None,
    assignment_id: int | None = None,
    recorded_by_id: int | None = None,
    automatic: bool = False,
    dedupe_key: str | None = None,
    rules: Rules = DEFAULT_RULES,
) -> ScoreEvent | None:
    """Append an event; None when ``dedupe_key`` was recorded before. Refuses frozen years."""
    rule = rules.get(rule_code)
    if rule is None:
        raise DomainError(f"未知的考核规则「{rule_code}」（可选：{'、'.join(rules)}）")
    if not reason or not reason.strip():
        raise DomainError("考核记录必须写明理由")
    # Already recorded comes first: a sweep repeating itself after the year froze is not an error.
    if (
        dedupe_key is not None
        and await session.scalar(select(ScoreEvent.id).where(ScoreEvent.dedupe_key == dedupe_key)) is not None
    ):
        return None
    if await is_frozen(session, year):
        raise DomainError(f"{year}年度考核结果已审定，不能再增加记录")
    event = ScoreEvent(
        year=year,
        unit_id=unit_id,
        rule=rule.code,
        points=rule.points,
        disqualifies=rule.disqualifies,
        item_id=item_id,
        assignment_id=assignment_id,
        reason=reason.strip(),
        automatic=automatic,
        recorded_by_id=recorded_by_id,
        recorded_at=now,
        dedupe_key=dedupe_key,
    )
    session.add(event)
    await session.flush()
    return event


# --------------------------------------------------------------------------------------------
# The office by hand: manual events and reversals
# --------------------------------------------------------------------------------------------


def check_year(year: object, today: date) -> int:
    """A year the office may keep score for: a whole number, not in the future."""
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= today.year:
        raise DomainError(f"年度应为 2000–{today.year} 之间的年份")
    return year


async def add_manual_event(
    session: AsyncSession,
    person: Person,
    *,
    unit_id: int,
    rule_code: str,
    item_id: int | None,
    reason: str | None,
    now: datetime,
    year: int | None = None,
    rules: Rules = DEFAULT_RULES,
) -> ScoreEvent:
    """An event the office records by hand (e.g. 处理不到位, 弄虚作假): unit, rule, item and reason
    are all required; the unit must have been assigned the item. ``year`` defaults to this year."""
    me = await act(session, person, "score.add")
    require_role(me, "office", "增加考核记录")
    if rule_code not in rules:
        raise DomainError(f"考核规则「{rule_code}」不在本县配置的规则内")
    reason = clean_text(reason, "考核理由")
    if item_id is None:
        raise DomainError("考核记录必须关联一个督查事项（请填写事项编号）")
    today = local_date(now)
    year = check_year(today.year if year is None else year, today)
    item = await load_item(session, item_id)
    unit = await session.get(Unit, unit_id) if isinstance(unit_id, int) else None
    if unit is None:
        raise DomainError("找不到该单位")
    if item.number is None:
        raise DomainError(f"{item_label(item)}尚未审批交办，不能据此考核")
    if not any(a.unit_id == unit.id and a.state != "draft" for a in item.assignments):
        raise DomainError(f"{unit.name}未承办{item_label(item)}，不能据此考核该单位")
    event = await record_event(
        session,
        year=year,
        unit_id=unit.id,
        rule_code=rule_code,
        reason=reason,
        now=now,
        item_id=item.id,
        recorded_by_id=me.id,
        rules=rules,
    )
    assert event is not None  # no dedupe key: always recorded
    return event


async def reverse_event(
    session: AsyncSession, person: Person, event_id: int, *, reason: str | None, now: datetime
) -> ScoreEvent:
    """Cancel an event by a new one with the opposite points (the original stays as it was).

    A fraud event's reversal lifts the disqualification. A reversal is not reversed again: record
    the event anew instead."""
    me = await act(session, person, "score.reverse")
    require_role(me, "office", "撤销考核记录")
    reason = clean_text(reason, "撤销理由")
    original = await session.get(ScoreEvent, event_id) if isinstance(event_id, int) else None
    if original is None:
        raise DomainError(f"找不到第{event_id}号考核记录")
    if original.reverses_id is not None:
        raise DomainError(f"第{event_id}号记录本身是撤销记录，不能再撤销；如需恢复，请重新增加一条记录")
    if await session.scalar(select(ScoreEvent.id).where(ScoreEvent.reverses_id == original.id)) is not None:
        raise AlreadyHandled(f"第{event_id}号考核记录已撤销过，无需重复操作。")
    if await is_frozen(session, original.year):
        raise DomainError(f"{original.year}年度考核结果已审定，不能再撤销记录")
    event = ScoreEvent(
        year=original.year,
        unit_id=original.unit_id,
        rule=original.rule,
        points=-original.points,
        disqualifies=False,
        item_id=original.item_id,
        assignment_id=original.assignment_id,
        reason=reason,
        automatic=False,
        recorded_by_id=me.id,
        recorded_at=now,
        reverses_id=original.id,
    )
    session.add(event)
    await session.flush()
    return event


# --------------------------------------------------------------------------------------------
# Lateness of leader/superior items and NPC/CPPCC proposals
# --------------------------------------------------------------------------------------------


def late_rule(source: str, role: str) -> str | None:
    """The rule a late unit's share counts under, or None when lateness alone costs nothing."""
    pair = LATE_RULES.get(source)
    return None if pair is None else pair[0 if role == "lead" else 1]


def late_key(assignment_id: int) -> str:
    """One lateness event per unit's share, whether found at closing or at the year's settlement."""
    return f"late:{assignment_id}"


@dataclass(frozen=True)
class PendingDeduction:
    """A unit's share past its deadline that will cost points (not recorded yet)."""

    assignment_id: int
    item_id: int
    item_label: str
    confidential: bool
    unit_id: int
    unit_name: str
    role: str  # lead | assist
    rule: Rule
    due: date
    finished: date | None  # when the unit finished (report later approved), None while still open


class _HasId(Protocol):
    @property
    def id(self) -> int: ...


async def finished_dates(session: AsyncSession, assignments: Iterable[_HasId] | Select[Any]) -> dict[int, date]:
    """When each unit finished its share: the day it sent the completion report that was approved
    (or is awaiting review). The office's and the leader's review time is not the unit's delay.

    ``assignments``: the shares, or a query of their ids — for a county's shares (the month's
    report): their ids as a list would make a statement of 100,000s of parameters, which SQLite
    and SQLAlchemy keep compiled (tens of MB) after it ran."""
    ids = assignments if isinstance(assignments, Select) else [a.id for a in assignments] or [-1]
    rows = (
        await session.execute(
            select(CompletionReport.assignment_id, CompletionReport.created_at)
            .where(CompletionReport.assignment_id.in_(ids), CompletionReport.status.in_(("approved", "pending")))
            .order_by(CompletionReport.id)
        )
    ).all()
    return {assignment_id: local_date(at) for assignment_id, at in rows}  # the last one wins


class _ClosedItem(Protocol):
    @property
    def closed_at(self) -> datetime | None: ...


class _Finishable(Protocol):
    """What ``finished_on`` reads of a share: an Assignment, or a plain row with the same names."""

    @property
    def id(self) -> int: ...
    @property
    def state(self) -> str: ...
    @property
    def done_at(self) -> datetime | None: ...
    @property
    def item(self) -> _ClosedItem: ...


def finished_on(a: _Finishable, reported: dict[int, date]) -> date | None:
    """The day a unit finished its share (see ``finished_dates``), or None while it is still open."""
    if a.id in reported:
        return reported[a.id]
    if a.state == "done":  # closed with the item without a report of its own (assisting units)
        when = a.done_at or a.item.closed_at
        return local_date(when) if when else None
    return None


async def _late(session: AsyncSession, rows: list[Assignment], today: date, rules: Rules) -> list[PendingDeduction]:
    """The shares among ``rows`` finished after, or still open past, their deadline, not yet recorded."""
    rows = [
        a
        for a in rows
        if a.state in _COUNTED_STATES and a.due_date is not None and late_rule(a.item.source, a.role) is not None
    ]
    if not rows:
        return []
    keys = {late_key(a.id) for a in rows}
    recorded = set((await session.scalars(select(ScoreEvent.dedupe_key).where(ScoreEvent.dedupe_key.in_(keys)))).all())
    reported = await finished_dates(session, rows)
    out = []
    for a in rows:
        if late_key(a.id) in recorded:
            continue
        finished = finished_on(a, reported)
        code, due = late_rule(a.item.source, a.role), a.due_date
        if code is None or due is None or (finished or today) <= due:  # (rows has none of the first two)
            continue
        rule = rules[code]
        out.append(
            PendingDeduction(
                assignment_id=a.id,
                item_id=a.item_id,
                item_label=item_label(a.item),
                confidential=a.item.confidential,
                unit_id=a.unit_id,
                unit_name=a.unit.name,
                role=a.role,
                rule=rule,
                due=due,
                finished=finished,
            )
        )
    return out


@asynccontextmanager
async def _audited_as(session: AsyncSession, action: str) -> AsyncIterator[None]:
    """Rows written inside are audited as ``action``; what the caller wrote before keeps its own."""
    await session.flush()
    saved = session.info.get("action")
    session.info["action"] = action
    try:
        yield
        await session.flush()
    finally:
        session.info["action"] = saved


def _late_reason(p: PendingDeduction) -> str:
    role = UNIT_ROLES_OF_ASSIGNMENT[p.role]
    when = f"{p.finished.isoformat()}办结" if p.finished else "年度结算时仍未办结"
    return f"{p.item_label}（{role}）办结时限{p.due.isoformat()}，{when}，超期"


async def _record_late(
    session: AsyncSession, p: PendingDeduction, year: int, now: datetime, rules: Rules
) -> ScoreEvent | None:
    return await record_event(
        session,
        year=year,
        unit_id=p.unit_id,
        rule_code=p.rule.code,
        reason=_late_reason(p),
        now=now,
        item_id=p.item_id,
        assignment_id=p.assignment_id,
        automatic=True,
        dedupe_key=late_key(p.assignment_id),
        rules=rules,
    )


async def record_late_closure(
    session: AsyncSession, item: Item, now: datetime, rules: Rules = DEFAULT_RULES
) -> list[ScoreEvent]:
    """When an item closes: each unit that finished its share after its deadline loses points
    (leader/superior items: every late unit; NPC/CPPCC proposals: lead −2, assisting −1).

    The event counts in the year of the missed deadline; if that year's table is already approved,
    in the current year. Never raises for the score's sake: closing the item must not fail."""
    if item.source not in LATE_RULES:
        return []
    events = []
    async with _audited_as(session, "score.late_closure"):
        for p in await _late(session, list(item.assignments), local_date(now), rules):
            year = p.due.year
            if await is_frozen(session, year):
                year = local_date(now).year
                if await is_frozen(session, year):
                    log.warning("event=late_not_recorded assignment=%s reason=frozen", p.assignment_id)
                    continue
            event = await _record_late(session, p, year, now, rules)
            if event is not None:
                events.append(event)
    return events


async def pending_deductions(
    session: AsyncSession, year: int, today: date, rules: Rules = DEFAULT_RULES
) -> list[PendingDeduction]:
    """Shares whose deadline fell in ``year`` and passed before ``today`` that are still open, or
    were finished late while their item has not closed yet: what ``settle_year`` would record."""
    last = min(date(year, 12, 31), today - timedelta(days=1))
    if last < date(year, 1, 1):
        return []
    # Columns streamed, not ORM objects: at county scale (100,000 items) loading the shares with
    # their items and units cost ~+280 MB in the score export. Same rules as ``_late``: recorded
    # ones and shares finished in time are left out, in SQL where it can tell.
    a, i = Assignment, Item
    finished = (
        select(CompletionReport.created_at)
        .where(CompletionReport.assignment_id == a.id, CompletionReport.status.in_(("approved", "pending")))
        .order_by(CompletionReport.id.desc())
        .limit(1)
        .correlate(a)
        .scalar_subquery()
    )
    recorded = exists().where(ScoreEvent.dedupe_key == literal("late:") + cast(a.id, String))
    stmt = (
        select(
            a.id,
            a.item_id,
            a.role,
            a.state,
            a.due_date,
            a.done_at,
            a.unit_id,
            Unit.name,
            i.year,
            i.number,
            i.source,
            i.confidential,
            i.closed_at,
            finished,
        )
        .join(i, i.id == a.item_id)
        .join(Unit, Unit.id == a.unit_id)
        .where(
            i.source.in_(tuple(LATE_RULES)),
            a.state.in_(_COUNTED_STATES),
            a.due_date >= date(year, 1, 1),
            a.due_date <= last,
            ~recorded,
        )
        .order_by(a.item_id, a.id)
    )
    out = []
    result = await session.stream(stmt.execution_options(yield_per=2000))
    async for (
        a_id,
        item_id,
        role,
        state,
        due,
        done_at,
        unit_id,
        unit_name,
        item_year,
        number,
        source,
        confidential,
        closed_at,
        reported_at,
    ) in result:
        code = late_rule(source, role)
        if code is None:
            continue
        if reported_at is not None:
            done_on = local_date(reported_at)
        elif state == "done" and (done_at or closed_at):
            done_on = local_date(done_at or closed_at)
        else:
            done_on = None
        if due is None or (done_on or today) <= due:
            continue
        out.append(
            PendingDeduction(
                assignment_id=a_id,
                item_id=item_id,
                item_label=format_number(item_year, number) or f"登记号{item_id}",
                confidential=confidential,
                unit_id=unit_id,
                unit_name=unit_name,
                role=role,
                rule=rules[code],
                due=due,
                finished=done_on,
            )
        )
    return out


async def settle_year(
    session: AsyncSession, year: int, now: datetime, rules: Rules = DEFAULT_RULES
) -> list[ScoreEvent]:
    """Record every pending deduction of ``year`` (run when the office head approves the table)."""
    events = []
    async with _audited_as(session, "score.settle"):
        for p in await pending_deductions(session, year, local_date(now), rules):
            event = await _record_late(session, p, year, now, rules)
            if event is not None:
                events.append(event)
    return events
