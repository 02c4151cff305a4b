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
* 按时办结率 = finished on time / done; 逾期未办结 = still owing work past the deadline today.

Read in keyset batches of plain rows (no ORM objects, never all assignments at once); what is
kept per item is a few numbers.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import DateTime, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.errors import DomainError
from bot.domain.workflow import ACTIVE_ASSIGNMENT_STATES, SOURCES, local_date
from store.models import Person, Unit
from store.workflow import Assignment, CompletionReport, Item, ItemLeader

BATCH = 2000
DONE_ITEM_STATES = frozenset({"closed", "archived"})
KINDS = {"unit": "承办单位", "leader": "责任领导", "source": "事项来源"}
KIND_WORDS = {"单位": "unit", "按单位": "unit", "领导": "leader", "按领导": "leader", "来源": "source",
              "按来源": "source", "unit": "unit", "leader": "leader", "source": "source"}
_NAIVE = DateTime()


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


def _finished(report_at: datetime | None, state: str, done_at: datetime | None,
              closed_at: datetime | None) -> date | None:
    """As ``score.finished_on``, from plain row values (naive UTC)."""
    if report_at is not None:
        return local_date(report_at.replace(tzinfo=UTC))
    if state == "done":
        at = done_at or closed_at
        return local_date(at.replace(tzinfo=UTC)) if at else None
    return None


def _count(row: StatRow, done: bool, finished: date | None, due: date | None, overdue_open: bool) -> None:
    row.total += 1
    if done:
        row.done += 1
        if due is None or (finished is not None and finished <= due):
            row.on_time += 1
        else:
            row.late_done += 1
    elif overdue_open:
        row.overdue_open += 1


def _order(rows: Iterable[StatRow]) -> list[StatRow]:
    """Most overdue first, then the lowest on-time rate, then by name: what needs attention on top."""
    return sorted(rows, key=lambda r: (-r.overdue_open, r.rate if r.rate is not None else 2.0, -r.total, r.name))


@dataclass
class _ItemAcc:
    source: str
    done: bool
    lead_finished: date | None = None
    lead_due: date | None = None
    overdue: bool = False


async def year_stats(session: AsyncSession, year: int, today: date) -> Stats:
    """The year's figures as of ``today``."""
    if not 2000 <= year <= 2100:
        raise DomainError(f"年度「{year}」不对，应为四位年份，如 2026")
    stats = Stats(year, today)
    reported_at = (select(type_coerce(CompletionReport.created_at, _NAIVE))
                   .where(CompletionReport.assignment_id == Assignment.id,
                          CompletionReport.status.in_(("approved", "pending")))
                   .order_by(CompletionReport.id.desc()).limit(1).scalar_subquery())
    q = (select(Assignment.id, Assignment.item_id, Assignment.unit_id, Assignment.role, Assignment.state,
                Assignment.due_date, type_coerce(Assignment.done_at, _NAIVE), Item.state, Item.source,
                type_coerce(Item.closed_at, _NAIVE), reported_at)
         .join(Item, Item.id == Assignment.item_id)
         .where(Item.year == year, Item.number.is_not(None),
                Assignment.state.not_in(("draft", "transferred", "declined")))
         .order_by(Assignment.id).limit(BATCH))
    units: dict[int, StatRow] = {}
    items: dict[int, _ItemAcc] = {}
    conn = await session.connection()
    last = 0
    while True:
        batch = (await conn.execute(q.where(Assignment.id > last))).all()
        if not batch:
            break
        last = batch[-1][0]
        for (_aid, item_id, unit_id, role, state, due, done_at, item_state, source, closed_at, report_at) in batch:
            finished = _finished(report_at, state, done_at, closed_at)
            owing_late = state in ACTIVE_ASSIGNMENT_STATES and due is not None and due < today
            row = units.get(unit_id)
            if row is None:
                row = units[unit_id] = StatRow("")
            _count(row, state == "done", finished, due, owing_late)
            acc = items.get(item_id)
            if acc is None:
                acc = items[item_id] = _ItemAcc(source, item_state in DONE_ITEM_STATES)
            acc.overdue = acc.overdue or owing_late
            if role == "lead":
                acc.lead_finished, acc.lead_due = finished, due
    if units:
        names = dict((await session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(list(units))))).all())
        for unit_id, row in units.items():
            row.name = names.get(unit_id, f"单位{unit_id}")
    stats.by_unit = _order(units.values())

    sources = {code: StatRow(name) for code, name in SOURCES.items()}
    leaders: dict[int, StatRow] = {}
    leader_rows = (await session.execute(
        select(ItemLeader.item_id, ItemLeader.person_id, Person.name).join(Person, Person.id == ItemLeader.person_id)
        .join(Item, Item.id == ItemLeader.item_id).where(Item.year == year, Item.number.is_not(None)))).all()
    leaders_of: dict[int, list[int]] = {}
    for item_id, person_id, name in leader_rows:
        leaders_of.setdefault(item_id, []).append(person_id)
        leaders.setdefault(person_id, StatRow(name))
    for item_id, acc in items.items():
        figures = (acc.done, acc.lead_finished, acc.lead_due, acc.overdue)
        _count(stats.items, *figures)
        _count(sources.setdefault(acc.source, StatRow(SOURCES.get(acc.source, acc.source))), *figures)
        for person_id in leaders_of.get(item_id, ()):
            _count(leaders[person_id], *figures)
    stats.by_source = [r for r in sources.values() if r.total]
    stats.by_leader = _order(r for r in leaders.values() if r.total)
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
    head = f"{fit(first, NAME_COLUMNS)} 事项 办结 按时率 逾期"
    lines = [head]
    for r in rows:
        lines.append(f"{fit(r.name, NAME_COLUMNS)} {r.total:>4} {r.done:>4} {r.rate_text:>6} {r.overdue_open:>4}")
    return lines
