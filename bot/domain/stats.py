"""Statistics of a year's items by unit, by responsible leader and by source (§3's seven kinds):
how many, how many done, the on-time rate and the overdue count — for the chat (/stats) and as
an Excel sheet.

What counts (the same rules as the score, ``bot.domain.score``):

* The year is the year of the item's number (督字〔year〕N号), i.e. of its approval.
* By unit, each unit's share (承办) counts once; a share passed on (转办) counts for the unit that
  took it over, and an assisting unit's 无法协办 is not counted.
* A share is finished on the day its completion report was sent (the approved or pending one,
  the last wins) — the office's and the leader's review time is not the unit's delay — or, for an
  assisting unit closed with the item without a report, the day it was closed. It is on time when
  that day is not after its deadline (an approved extension moved the deadline).
* By leader and by source, each item counts once, with its lead unit's (主办) finish and deadline;
  an item is done once closed or archived; overdue while open with any unit past its deadline.
* 按时办结率 = finished on time / done; 超期未办结 = still owing work past the deadline today.

Everything is counted by the database (GROUP BY unit, leader, source), the on-time test too
(the moment the office's day ends, ``_day_end``): no row is read one by one, whatever the year's
size (bench/find_stats.py).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Interval, and_, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.errors import DomainError
from bot.domain.workflow import ACTIVE_ASSIGNMENT_STATES, SOURCES
from bot.kernel.clock import OFFICE_TZ
from store.models import Person, Unit
from store.workflow import Assignment, CompletionReport, Item, ItemLeader

DONE_ITEM_STATES = frozenset({"closed", "archived"})
KINDS = {"unit": "承办单位", "leader": "责任领导", "source": "事项来源"}
KIND_WORDS = {
    "单位": "unit",
    "按单位": "unit",
    "领导": "leader",
    "按领导": "leader",
    "来源": "source",
    "按来源": "source",
    "unit": "unit",
    "leader": "leader",
    "source": "source",
}


@dataclass
class StatRow:
    name: str
    total: int = 0
    done: int = 0
    on_time: int = 0
    late_done: int = 0
    overdue_open: int = 0

    @property
    def rate(self) -> float | None:
        """On-time share of the done ones; None when nothing is done yet."""
        return self.on_time / self.done if self.done else None

    @property
    def rate_text(self) -> str:
        return "—" if self.rate is None else f"{self.rate * 100:.0f}%"

    @property
    def open(self) -> int:
        return self.total - self.done


@dataclass
class Stats:
    year: int
    today: date
    by_unit: list[StatRow] = field(default_factory=list)
    by_leader: list[StatRow] = field(default_factory=list)
    by_source: list[StatRow] = field(default_factory=list)
    items: StatRow = field(default_factory=lambda: StatRow("全部事项"))

    def rows(self, kind: str) -> list[StatRow]:
        return {"unit": self.by_unit, "leader": self.by_leader, "source": self.by_source}[kind]


def _order(rows: Iterable[StatRow]) -> list[StatRow]:
    """Most overdue first, then the lowest on-time rate, then by name: what needs attention on top."""
    return sorted(rows, key=lambda r: (-r.overdue_open, r.rate if r.rate is not None else 2.0, -r.total, r.name))


def _flag(condition) -> ColumnElement[Any]:  # noqa: ANN001
    return func.sum(case((condition, 1), else_=0))


def _day_end(session: AsyncSession, due):  # noqa: ANN001, ANN202
    """The UTC moment the office's day ``due`` ends, as the database stores timestamps (naive
    UTC): a share finished before it finished on time. Beijing time has had no daylight saving
    since 1991, so the day ends at a fixed UTC hour (16:00)."""
    offset = OFFICE_TZ.utcoffset(datetime(2000, 1, 1))
    if offset is None:  # a ZoneInfo always has one
        raise ValueError(f"{OFFICE_TZ} gives no UTC offset")
    hours = 24 - int(offset.total_seconds() // 3600)
    if session.get_bind().dialect.name == "sqlite":
        # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff': text order is time order.
        return func.strftime("%Y-%m-%d %H:%M:%S", due, f"+{hours} hours")
    return due + literal(timedelta(hours=hours), Interval)


async def year_stats(session: AsyncSession, year: int, today: date) -> Stats:
    """The year's figures as of ``today``: a few GROUP BYs, nothing read row by row."""
    if not 2000 <= year <= 2100:
        raise DomainError(f"年度「{year}」不对，应为四位年份，如 2026")
    stats = Stats(year, today)
    in_year = (Item.year == year, Item.number.is_not(None))
    counted = Assignment.state.not_in(("draft", "transferred", "declined", "cancelled", "removed"))  # issue 12
    share_late = and_(Assignment.state.in_(ACTIVE_ASSIGNMENT_STATES), Assignment.due_date < today)
    item_done = Item.state.in_(DONE_ITEM_STATES)
    item_late = and_(~item_done, Item.owing_due < today)
    # Finished: the last completion report sent (approved or pending), else when the share was
    # closed with the item (an assisting unit without a report of its own).
    reports = (
        select(CompletionReport.assignment_id.label("assignment_id"), func.max(CompletionReport.created_at).label("at"))
        .where(CompletionReport.status.in_(("approved", "pending")))
        .group_by(CompletionReport.assignment_id)
        .subquery()
    )
    finished = func.coalesce(reports.c.at, Assignment.done_at, Item.closed_at)
    on_time = or_(Assignment.due_date.is_(None), finished < _day_end(session, Assignment.due_date))

    units: dict[int, StatRow] = {}
    for unit_id, name, total, done, in_time, late in (
        await session.execute(
            select(
                Assignment.unit_id,
                Unit.name,
                func.count(),
                _flag(Assignment.state == "done"),
                _flag(and_(Assignment.state == "done", on_time)),
                _flag(share_late),
            )
            .join(Item, Item.id == Assignment.item_id)
            .join(Unit, Unit.id == Assignment.unit_id)
            .outerjoin(reports, reports.c.assignment_id == Assignment.id)
            .where(*in_year, counted)
            .group_by(Assignment.unit_id, Unit.name)
        )
    ).all():
        units[unit_id] = StatRow(name, total, int(done or 0), int(in_time or 0), overdue_open=int(late or 0))

    # Items: each once, with its lead unit's finish (an item done without one counts as on time,
    # like a share without a deadline: nothing says it was late).
    lead = (
        select(Assignment.item_id.label("item_id"), case((on_time, 1), else_=0).label("on_time"))
        .join(Item, Item.id == Assignment.item_id)
        .outerjoin(reports, reports.c.assignment_id == Assignment.id)
        .where(*in_year, Assignment.role == "lead", Assignment.state == "done")
        .subquery()
    )
    figures = (
        func.count(),
        _flag(item_done),
        _flag(and_(item_done, func.coalesce(lead.c.on_time, 1) == 1)),
        _flag(item_late),
    )

    def items_by(*keys):  # noqa: ANN002, ANN202
        return select(*keys, *figures).select_from(Item).outerjoin(lead, lead.c.item_id == Item.id).where(*in_year)

    sources: dict[str, StatRow] = {}
    for source, total, done, in_time, late in (
        await session.execute(items_by(Item.source).group_by(Item.source))
    ).all():
        sources[source] = StatRow(
            SOURCES.get(source, source), total, int(done or 0), int(in_time or 0), overdue_open=int(late or 0)
        )
    leaders: list[StatRow] = [
        StatRow(name, total, int(done or 0), int(in_time or 0), overdue_open=int(late or 0))
        for _pid, name, total, done, in_time, late in (
            await session.execute(
                items_by(ItemLeader.person_id, Person.name)
                .join(ItemLeader, ItemLeader.item_id == Item.id)
                .join(Person, Person.id == ItemLeader.person_id)
                .group_by(ItemLeader.person_id, Person.name)
            )
        ).all()
    ]
    total, done, in_time, late = (await session.execute(items_by())).one()
    stats.items = StatRow("全部事项", total, int(done or 0), int(in_time or 0), overdue_open=int(late or 0))
    for row in (*units.values(), *sources.values(), *leaders, stats.items):
        row.late_done = row.done - row.on_time

    stats.by_unit = _order(units.values())
    stats.by_leader = _order(leaders)
    stats.by_source = [sources[code] for code in SOURCES if code in sources] + [
        r for code, r in sources.items() if code not in SOURCES
    ]
    return stats


# --- a compact table for the chat ----------------------------------------------------------------


def width(text: str) -> int:
    """Columns a monospaced font gives the text (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def fit(text: str, columns: int) -> str:
    """``text`` cut to ``columns`` (with "…") and padded with spaces to exactly that width."""
    if width(text) > columns:
        out = ""
        for ch in text:
            if width(out + ch) > columns - 1:
                break
            out += ch
        text = out + "…"
    return text + " " * (columns - width(text))


NAME_COLUMNS = 14


def table_lines(rows: Iterable[StatRow], first: str) -> list[str]:
    """Fixed-width lines: name, items, done, on-time rate, overdue (shown in <pre>)."""
    head = f"{fit(first, NAME_COLUMNS)} 事项 办结 按时率 超期"
    lines = [head]
    for r in rows:
        lines.append(f"{fit(r.name, NAME_COLUMNS)} {r.total:>4} {r.done:>4} {r.rate_text:>6} {r.overdue_open:>4}")
    return lines
