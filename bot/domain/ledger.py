"""The year's score table (考核汇总) computed from the events, and its approval by the office head.

Each unit starts at 100 and its events add up; a unit that handled no item that year gets the
average of the units that did (regulation §8), rounded to two decimals. Units with the same score
share a rank (1, 2, 2, 4). A unit with an unreversed fraud event is disqualified from year-end
honours; it keeps its score and rank, marked. Once the office head approves the table it is
stored as it stood (``ScoreYear.snapshot``) and the year is frozen: that snapshot is the table
from then on, whatever units are added or renamed later.

Who sees what: office staff, the office head and county leaders see the whole table and any
unit's events; a liaison or unit head sees only their own unit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.errors import DomainError, NotAllowed
from bot.domain.score import (
    BASE_SCORE,
    DEFAULT_RULES,
    PendingDeduction,
    Rules,
    check_year,
    is_frozen,
    pending_deductions,
    settle_year,
)
from bot.domain.workflow import (
    AlreadyHandled,
    act,
    format_number,
    local_date,
    office_staff,
    require_role,
)
from bot.kernel.clock import OFFICE_TZ
from bot.kernel.render import render
from bot.outbox.queue import enqueue
from store.models import Person, Unit
from store.score import ScoreEvent, ScoreYear
from store.workflow import Assignment, Item

TABLE_ROLES = ("office", "office_head", "leader")
OWN_UNIT_ROLES = ("liaison", "unit_head")
CENT = Decimal("0.01")
# A unit's share that counts as "handled an item": not passed on (转办) and not declined (无法协办).
_HANDLED_STATES = ("assigned", "in_progress", "reported", "done")


@dataclass(frozen=True)
class ScoreRow:
    unit_id: int
    unit: str
    score: Decimal
    rank: int
    disqualified: bool
    handled: bool  # handled an item (or was scored) that year; otherwise the score is the average
    bonus: int  # points added by events still in force
    deduction: int  # points taken (negative)
    events: int  # events still in force (reversed pairs left out)

    @property
    def score_text(self) -> str:
        return format_score(self.score)


@dataclass(frozen=True)
class ScoreTable:
    year: int
    rows: tuple[ScoreRow, ...]
    average: Decimal | None  # of the units that handled items; None when none did
    frozen: bool
    approved_at: datetime | None
    approved_by: str | None
    pending: tuple[PendingDeduction, ...]  # not counted yet; recorded at approval
    units: int  # units in the whole table (a unit's own view keeps only its row)

    def row(self, unit_id: int) -> ScoreRow | None:
        return next((r for r in self.rows if r.unit_id == unit_id), None)

    @property
    def average_text(self) -> str | None:
        return format_score(self.average) if self.average is not None else None

    def pending_for(self, unit_id: int) -> tuple[PendingDeduction, ...]:
        return tuple(p for p in self.pending if p.unit_id == unit_id)


@dataclass(frozen=True)
class EventView:
    id: int
    at: datetime
    rule: str
    rule_name: str
    clause: str
    points: int
    item_id: int | None
    item_label: str | None
    confidential: bool
    reason: str
    automatic: bool
    recorded_by: str | None
    reverses_id: int | None  # this event cancels that one
    reversed_by_id: int | None  # this event was cancelled by that one
    disqualifies: bool


def format_score(score: Decimal) -> str:
    """97.80 → "97.8", 100.00 → "100"."""
    text = f"{score.quantize(CENT, ROUND_HALF_UP):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _bounds(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=OFFICE_TZ), datetime(year + 1, 1, 1, tzinfo=OFFICE_TZ)


def rank_rows(rows: list[ScoreRow]) -> list[ScoreRow]:
    """Highest score first; equal scores share a rank (1, 2, 2, 4)."""
    rows = sorted(rows, key=lambda r: (-r.score, r.unit))
    ranked: list[ScoreRow] = []
    for i, r in enumerate(rows):
        rank = ranked[-1].rank if ranked and ranked[-1].score == r.score else i + 1
        ranked.append(
            ScoreRow(r.unit_id, r.unit, r.score, rank, r.disqualified, r.handled, r.bonus, r.deduction, r.events)
        )
    return ranked


async def _events(session: AsyncSession, year: int, unit_id: int | None = None) -> list[ScoreEvent]:
    q = select(ScoreEvent).where(ScoreEvent.year == year)
    if unit_id is not None:
        q = q.where(ScoreEvent.unit_id == unit_id)
    return list((await session.scalars(q.order_by(ScoreEvent.id))).all())


def _in_force(events: list[ScoreEvent]) -> list[ScoreEvent]:
    """Events not reversed, without the reversals themselves (a pair adds up to nothing)."""
    reversed_ids = {e.reverses_id for e in events if e.reverses_id is not None}
    return [e for e in events if e.reverses_id is None and e.id not in reversed_ids]


async def compute_table(session: AsyncSession, year: int, today: date, rules: Rules = DEFAULT_RULES) -> ScoreTable:
    """The table as the events make it now (ignores a snapshot; see ``score_table``)."""
    start, end = _bounds(year)
    events = await _events(session, year)
    handled_units = set(
        (
            await session.scalars(
                select(Assignment.unit_id)
                .where(
                    Assignment.state.in_(_HANDLED_STATES),
                    Assignment.notified_at.is_not(None),
                    Assignment.notified_at < end,
                    or_(Assignment.done_at.is_(None), Assignment.done_at >= start),
                )
                .distinct()
            )
        ).all()
    )
    scored_units = {e.unit_id for e in events}
    units = (await session.scalars(select(Unit).where(Unit.created_at < end).order_by(Unit.id))).all()
    units = [u for u in units if u.active or u.id in handled_units or u.id in scored_units]

    in_force = _in_force(events)
    raw: list[ScoreRow] = []
    for u in units:
        mine = [e for e in in_force if e.unit_id == u.id]
        handled = u.id in handled_units or u.id in scored_units
        raw.append(
            ScoreRow(
                unit_id=u.id,
                unit=u.name,
                score=Decimal(BASE_SCORE + sum(e.points for e in mine)),
                rank=0,
                disqualified=any(e.disqualifies for e in mine),
                handled=handled,
                bonus=sum(e.points for e in mine if e.points > 0),
                deduction=sum(e.points for e in mine if e.points < 0),
                events=len(mine),
            )
        )
    scored = [r.score for r in raw if r.handled]
    average = (sum(scored, Decimal(0)) / len(scored)).quantize(CENT, ROUND_HALF_UP) if scored else None
    rows = [
        r
        if r.handled
        else ScoreRow(
            r.unit_id,
            r.unit,
            average if average is not None else Decimal(BASE_SCORE),
            0,
            r.disqualified,
            False,
            r.bonus,
            r.deduction,
            r.events,
        )
        for r in raw
    ]
    pending = await pending_deductions(session, year, today, rules)
    return ScoreTable(year, tuple(rank_rows(rows)), average, False, None, None, tuple(pending), len(rows))


def _snapshot(table: ScoreTable) -> str:
    return json.dumps(
        {
            "average": str(table.average) if table.average is not None else None,
            "rows": [
                {
                    "unit_id": r.unit_id,
                    "unit": r.unit,
                    "score": str(r.score),
                    "rank": r.rank,
                    "disqualified": r.disqualified,
                    "handled": r.handled,
                    "bonus": r.bonus,
                    "deduction": r.deduction,
                    "events": r.events,
                }
                for r in table.rows
            ],
        },
        ensure_ascii=False,
    )


def _from_snapshot(row: ScoreYear, approved_by: str | None) -> ScoreTable:
    data = json.loads(row.snapshot)
    rows = tuple(
        ScoreRow(
            r["unit_id"],
            r["unit"],
            Decimal(r["score"]),
            r["rank"],
            r["disqualified"],
            r["handled"],
            r["bonus"],
            r["deduction"],
            r["events"],
        )
        for r in data["rows"]
    )
    average = Decimal(data["average"]) if data["average"] is not None else None
    return ScoreTable(row.year, rows, average, True, row.frozen_at, approved_by, (), len(rows))


async def score_table(session: AsyncSession, year: int, today: date, rules: Rules = DEFAULT_RULES) -> ScoreTable:
    """The approved table of a frozen year, else the table as it stands with pending deductions."""
    frozen = await session.get(ScoreYear, year)
    if frozen is not None:
        head = await session.get(Person, frozen.approved_by_id) if frozen.approved_by_id else None
        return _from_snapshot(frozen, head.name if head else None)
    return await compute_table(session, year, today, rules)


async def unit_events(session: AsyncSession, year: int, unit_id: int, rules: Rules = DEFAULT_RULES) -> list[EventView]:
    """Every event of a unit in a year, reversals included, oldest first."""
    events = await _events(session, year, unit_id)
    reversed_by = {e.reverses_id: e.id for e in events if e.reverses_id is not None}
    items = {
        i.id: i
        for i in (
            await session.scalars(select(Item).where(Item.id.in_({e.item_id for e in events if e.item_id} or {-1})))
        ).all()
    }
    out = []
    for e in events:
        rule = rules.get(e.rule)
        item = items.get(e.item_id) if e.item_id else None
        out.append(
            EventView(
                id=e.id,
                at=e.recorded_at,
                rule=e.rule,
                rule_name=rule.name if rule else e.rule,
                clause=rule.clause if rule else "",
                points=e.points,
                item_id=e.item_id,
                item_label=format_number(item.year, item.number) if item else None,
                confidential=bool(item and item.confidential),
                reason=e.reason,
                automatic=e.automatic,
                recorded_by=e.recorded_by.name if e.recorded_by else None,
                reverses_id=e.reverses_id,
                reversed_by_id=reversed_by.get(e.id),
                disqualifies=e.disqualifies,
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# What a person may see
# --------------------------------------------------------------------------------------------


async def _viewer(session: AsyncSession, person: Person) -> Person:
    me = await act(session, person, "score.view")
    if not me.has_role(*TABLE_ROLES, *OWN_UNIT_ROLES):
        raise NotAllowed("您没有查看考核结果的权限")
    if not me.has_role(*TABLE_ROLES) and me.unit_id is None:
        raise NotAllowed("您未关联单位，无法查看考核结果")
    return me


def sees_all(me: Person) -> bool:
    return me.has_role(*TABLE_ROLES)


async def view_table(
    session: AsyncSession, person: Person, year: int, *, now: datetime, rules: Rules = DEFAULT_RULES
) -> ScoreTable:
    """The table for ``person``: whole for the office and leaders, else only their own unit's row
    (with its rank) and its pending deductions."""
    me = await _viewer(session, person)
    today = local_date(now)
    table = await score_table(session, check_year(year, today), today, rules)
    if sees_all(me):
        return table
    unit_id = me.unit_id
    if unit_id is None:  # _viewer refuses a unit role without a unit; this tells the type checker
        raise NotAllowed("您未关联单位，无法查看考核结果")
    return ScoreTable(
        table.year,
        tuple(r for r in table.rows if r.unit_id == unit_id),
        table.average,
        table.frozen,
        table.approved_at,
        table.approved_by,
        table.pending_for(unit_id),
        table.units,
    )


@dataclass(frozen=True)
class UnitView:
    table: ScoreTable  # as the person may see it
    unit: str
    row: ScoreRow | None  # None: the unit is not in that year's table (e.g. set up later)
    events: list[EventView]
    pending: tuple[PendingDeduction, ...]


async def view_unit(
    session: AsyncSession, person: Person, year: int, unit_id: int, *, now: datetime, rules: Rules = DEFAULT_RULES
) -> UnitView:
    """One unit's row and events; a liaison or unit head may ask only for their own unit."""
    me = await _viewer(session, person)
    if not sees_all(me) and me.unit_id != unit_id:
        raise NotAllowed("您只能查看本单位的考核情况")
    unit = await session.get(Unit, unit_id) if isinstance(unit_id, int) else None
    if unit is None:
        raise DomainError("找不到该单位")
    table = await view_table(session, person, year, now=now, rules=rules)
    return UnitView(
        table,
        unit.name,
        table.row(unit_id),
        await unit_events(session, year, unit_id, rules),
        table.pending_for(unit_id),
    )


# --------------------------------------------------------------------------------------------
# Approval (审定)
# --------------------------------------------------------------------------------------------


async def check_approvable(session: AsyncSession, year: int, today: date) -> None:
    if await is_frozen(session, year):
        raise AlreadyHandled(f"{year}年度考核结果已审定，无需重复操作。")
    if year >= today.year:
        raise DomainError(f"{year}年度尚未结束，年度考核结果须在年度结束后审定")


async def approvable(session: AsyncSession, year: int, today: date) -> bool:
    """Whether the year's table may be approved now (the year is over and not approved yet)."""
    try:
        await check_approvable(session, year, today)
    except DomainError:
        return False
    return True


async def approve_year(
    session: AsyncSession, person: Person, year: int, *, now: datetime, rules: Rules = DEFAULT_RULES
) -> ScoreTable:
    """审定 (office head): the year's pending deductions are recorded, the table is stored as it
    stands and the year is frozen. Office staff are told."""
    me = await act(session, person, "score.approve")
    require_role(me, "office_head", "审定年度考核结果")
    today = local_date(now)
    year = check_year(year, today)
    await check_approvable(session, year, today)
    await settle_year(session, year, now, rules)
    table = await compute_table(session, year, today, rules)
    session.add(ScoreYear(year=year, frozen_at=now, approved_by_id=me.id, snapshot=_snapshot(table)))
    await session.flush()
    frozen = ScoreTable(year, table.rows, table.average, True, now, me.name, (), table.units)
    text = render("score/approved.html.j2", t=frozen, by=me.name)
    for p in await office_staff(session):
        await enqueue(session, p, text, now=now, dedupe_key=f"score-approved:{year}:{p.id}")
    return frozen
