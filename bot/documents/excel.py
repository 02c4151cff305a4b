"""Excel files for the office: the year's score table and the item ledger (督办台账).

Both are built from the database, never from what a chat showed; headers are Chinese, columns have
widths, dates are real dates, the header row is frozen. Confidential items appear by number only
(these files travel through the messenger), marked 涉密. An empty year or range is refused with a
message rather than producing an empty file.

Built to scale (issue 11: 100,000 items): rows are read in keyset batches of plain columns (no ORM
graph, never the whole ledger at once) and streamed into the file by ``bot.documents.xlsx``. In the bot the
work runs in a worker thread with its own event loop and database connection (``export_off_loop``),
so the bot's loop keeps answering; the chat handler then queues the file in the outbox.

No telegram here: the chat handler and the CLI (``python -m bot export``) both call ``write_export``.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, overload

from sqlalchemy import DateTime, exists, func, or_, select, tuple_, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from bot.documents.xlsx import DATE_FORMAT, Book, Column
from bot.domain.dates import parse_full_date as parse_date  # the exports' date reader
from bot.domain.errors import DomainError
from bot.domain.ledger import _HANDLED_STATES, ScoreTable, format_score, score_table
from bot.domain.schedules import load_calendar
from bot.domain.score import DEFAULT_RULES, Rules, check_year, finished_on, format_points, rules_with_points
from bot.domain.workdays import WorkCalendar
from bot.domain.workflow import (
    ASSIGNMENT_STATES,
    IMPORTANCE,
    ITEM_STATES,
    SOURCES,
    UNIT_ROLES_OF_ASSIGNMENT,
    format_number,
    local_date,
)
from bot.kernel.clock import OFFICE_TZ
from bot.kernel.memory import give_back
from store.db import Database
from store.models import Person, Unit
from store.score import ScoreEvent, ScoreYear
from store.workflow import Assignment, CompletionReport, Item, Progress

__all__ = ["DATE_FORMAT", "Column"]

CONFIDENTIAL = "（涉密事项）"
MAX_RANGE_DAYS = 3 * 366
BATCH = 2000  # items (or score events) per query: bounded memory, few round trips
KEEP_FILES = timedelta(days=7)  # an exported file waits this long in the outbox's reach


def check_range(start: date, end: date) -> None:
    if end < start:
        raise DomainError(f"结束日期 {end.isoformat()} 早于开始日期 {start.isoformat()}")
    if (end - start).days > MAX_RANGE_DAYS:
        raise DomainError("时间段太长：一次最多导出三年")


# --------------------------------------------------------------------------------------------
# The score table
# --------------------------------------------------------------------------------------------

SCORE_COLUMNS = (
    Column("排名", 7),
    Column("单位", 26),
    Column("得分", 9),
    Column("加分", 8),
    Column("扣分", 8),
    Column("考核记录（条）", 10),
    Column("当年承办督办事项", 12),
    Column("评先评优资格", 16),
    Column("备注", 28, True),
)
EVENT_COLUMNS = (
    Column("记录号", 8),
    Column("记录日期", 12),
    Column("单位", 22),
    Column("考核规则", 34, True),
    Column("条款", 13),
    Column("分值", 7),
    Column("事项编号", 17),
    Column("事项名称", 30, True),
    Column("理由", 40, True),
    Column("记录方式", 9),
    Column("记录人", 10),
    Column("更正情况", 16),
)
PENDING_COLUMNS = (
    Column("单位", 22),
    Column("事项编号", 17),
    Column("承办", 7),
    Column("办结时限", 12),
    Column("考核规则", 34, True),
    Column("分值", 7),
)


def _no_scores(year: int) -> DomainError:
    return DomainError(f"{year}年度没有考核记录（没有单位承办督办事项，也没有加减分记录）")


async def check_scores(session: AsyncSession, year: int) -> None:
    """Refuse a year with nothing to score, cheaply (two EXISTS, not the whole table): the same
    "handled" as ``ledger.compute_table`` — a unit set up before the year's end that had an item
    in the year or a score event — or, for an approved year, its stored table."""
    frozen = await session.get(ScoreYear, year)
    if frozen is not None:
        if not any(r["handled"] for r in json.loads(frozen.snapshot)["rows"]):
            raise _no_scores(year)
        return
    start, end = datetime(year, 1, 1, tzinfo=OFFICE_TZ), datetime(year + 1, 1, 1, tzinfo=OFFICE_TZ)
    unit_then = Unit.created_at < end
    scored = exists().where(ScoreEvent.year == year, ScoreEvent.unit_id == Unit.id, unit_then)
    handled = exists().where(
        Assignment.unit_id == Unit.id,
        unit_then,
        Assignment.state.in_(_HANDLED_STATES),
        Assignment.notified_at.is_not(None),
        Assignment.notified_at < end,
        or_(Assignment.done_at.is_(None), Assignment.done_at >= start),
    )
    if not await session.scalar(select(or_(scored, handled))):
        raise _no_scores(year)


async def write_scores(
    session: AsyncSession,
    target: str | Path | BinaryIO,
    year: int,
    *,
    today: date,
    office_name: str,
    rules: Rules = DEFAULT_RULES,
) -> ScoreTable:
    """The year's table (汇总), every event (明细) and, before approval, the pending deductions."""
    table = await score_table(session, year, today, rules)
    if not any(r.handled for r in table.rows):
        raise _no_scores(year)
    book = Book(target)
    try:
        sheet = book.sheet("考核汇总", SCORE_COLUMNS)
        for r in table.rows:
            sheet.append(
                (
                    r.rank,
                    r.unit,
                    float(r.score),
                    r.bonus,
                    r.deduction,
                    r.events,
                    "是" if r.handled else "否",
                    "取消" if r.disqualified else "保留",
                    None if r.handled else f"当年未承办督办事项，按平均分{table.average_text}计",
                )
            )
        sheet.notes(_status(table, office_name))
        sheet = book.sheet("考核明细", EVENT_COLUMNS)
        async for row in _event_rows(session, year, table, rules):
            sheet.append(row)
        if table.pending:
            sheet = book.sheet("待结算扣分", PENDING_COLUMNS)
            for p in table.pending:
                sheet.append(
                    (
                        p.unit_name,
                        p.item_label,
                        UNIT_ROLES_OF_ASSIGNMENT.get(p.role, p.role),
                        p.due,
                        p.rule.name,
                        p.rule.points,
                    )
                )
    except BaseException:
        book.abort()
        raise
    book.close()
    return table


async def scores_workbook(
    session: AsyncSession, year: int, *, today: date, office_name: str, rules: Rules = DEFAULT_RULES
) -> bytes:
    """``write_scores`` into memory (a small table; tests and callers that want bytes)."""
    buf = io.BytesIO()
    await write_scores(session, buf, year, today=today, office_name=office_name, rules=rules)
    return buf.getvalue()


async def _event_rows(session: AsyncSession, year: int, table: ScoreTable, rules: Rules) -> AsyncIterator[tuple]:
    """The 明细 rows of the table's units, oldest event first, as ``ledger.unit_events`` shows them,
    read in batches with the item and the recorder joined (no query per event)."""
    units = {r.unit_id: r.unit for r in table.rows}
    reversed_by = {
        (unit_id, target): event_id
        for unit_id, target, event_id in (
            await session.execute(
                select(ScoreEvent.unit_id, ScoreEvent.reverses_id, ScoreEvent.id).where(
                    ScoreEvent.year == year, ScoreEvent.reverses_id.is_not(None)
                )
            )
        ).all()
    }
    q = (
        select(
            ScoreEvent.id,
            ScoreEvent.recorded_at,
            ScoreEvent.unit_id,
            ScoreEvent.rule,
            ScoreEvent.points,
            ScoreEvent.item_id,
            ScoreEvent.reason,
            ScoreEvent.automatic,
            ScoreEvent.reverses_id,
            Item.year,
            Item.number,
            Item.confidential,
            Item.title,
            Person.name,
        )
        .outerjoin(Item, Item.id == ScoreEvent.item_id)
        .outerjoin(Person, Person.id == ScoreEvent.recorded_by_id)
        .where(ScoreEvent.year == year)
        .order_by(ScoreEvent.id)
        .limit(BATCH)
    )
    last = 0
    while True:
        batch = (await session.execute(q.where(ScoreEvent.id > last))).all()
        if not batch:
            return
        last = batch[-1].id
        for (
            event_id,
            at,
            unit_id,
            code,
            points,
            _item_id,
            reason,
            automatic,
            reverses_id,
            item_year,
            number,
            confidential,
            title,
            recorder,
        ) in batch:
            if unit_id not in units:  # a unit outside the table (as unit_events per table row)
                continue
            rule = rules.get(code)
            hidden = bool(confidential)  # NULL when the event names no item
            undone_by = reversed_by.get((unit_id, event_id))
            yield (
                event_id,
                local_date(at),
                units[unit_id],
                rule.name if rule else code,
                rule.clause if rule else "",
                points,
                format_number(item_year, number) or "",
                CONFIDENTIAL if hidden else (title or ""),
                CONFIDENTIAL if hidden else reason,
                "自动" if automatic else "人工",
                recorder or "系统",
                f"撤销第{reverses_id}号" if reverses_id else f"已被第{undone_by}号撤销" if undone_by else "",
            )


def _status(table: ScoreTable, office_name: str) -> list[str]:
    lines = [f"{office_name}　{table.year}年度政务督查工作考核"]
    if table.frozen:
        when = table.approved_at.astimezone(OFFICE_TZ).date().isoformat() if table.approved_at else ""
        lines.append(f"状态：已审定（{table.approved_by or ''}，{when}）")
    else:
        lines.append("状态：尚未审定，分数随考核记录变化")
        if table.pending:
            points = sum(p.rule.points for p in table.pending)
            lines.append(
                f"另有超期未办结待结算扣分{len(table.pending)}项（合计{format_points(points)}分），"
                "审定时计入，见“待结算扣分”表"
            )
    if table.average is not None:
        lines.append(f"承办单位平均分：{format_score(table.average)}")
    lines.append("评先评优资格“取消”：有瞒报、谎报、弄虚作假行为（第八条（九））")
    return lines


# --------------------------------------------------------------------------------------------
# The item ledger
# --------------------------------------------------------------------------------------------

ITEM_COLUMNS = (
    Column("事项编号", 17),
    Column("事项名称", 32, True),
    Column("事项来源", 22, True),
    Column("重要程度", 9),
    Column("承办单位", 22),
    Column("承办方式", 9),
    Column("交办日期", 12),
    Column("签收日期", 12),
    Column("办结时限", 12),
    Column("延期次数", 9),
    Column("办结日期", 12),
    Column("承办状态", 14),
    Column("超期工作日", 11),
    Column("反馈次数", 9),
    Column("退回重办次数", 12),
    Column("事项状态", 14),
)


def _under_supervision(start: date, end: date) -> tuple:
    """Items under supervision at some time in [start, end]: approved by ``end``, not closed before ``start``."""
    lo = datetime.combine(start, datetime.min.time(), tzinfo=OFFICE_TZ)
    hi = datetime.combine(end, datetime.max.time(), tzinfo=OFFICE_TZ)
    return (Item.approved_at.is_not(None), Item.approved_at <= hi, or_(Item.closed_at.is_(None), Item.closed_at >= lo))


def _no_items(start: date, end: date) -> DomainError:
    return DomainError(f"{start.isoformat()}至{end.isoformat()}期间没有督查事项，未生成台账")


async def check_items(session: AsyncSession, start: date, end: date) -> None:
    """Refuse a bad or empty range before any work (one EXISTS)."""
    check_range(start, end)
    if not await session.scalar(select(exists().where(*_under_supervision(start, end)))):
        raise _no_items(start, end)


class _ItemRef(NamedTuple):
    """What ``score.finished_on`` reads of an assignment's item."""

    closed_at: datetime | None


class _Share(NamedTuple):
    """What ``score.finished_on`` reads of an assignment (a plain row, not an ORM object)."""

    id: int
    state: str
    done_at: datetime | None
    item: _ItemRef


@dataclass(frozen=True)
class LedgerCount:
    items: int
    rows: int


# The ledger's three always-shown timestamps are read as stored (naive UTC) and turned into office
# days by ``_OfficeDays``: the UTCDateTime wrapper per value was a third of the export's reading time.
_UTC_NAIVE = DateTime()


class _OfficeDays:
    """The office's calendar day of naive UTC datetimes, worked out once per UTC hour (Beijing
    time's offset has only ever changed on the hour)."""

    def __init__(self) -> None:
        self._days: dict[int, date] = {}

    @overload
    def __call__(self, utc: datetime) -> date: ...
    @overload
    def __call__(self, utc: None) -> None: ...
    def __call__(self, utc: datetime | None) -> date | None:
        if utc is None:
            return None
        hour = utc.toordinal() * 24 + utc.hour
        day = self._days.get(hour)
        if day is None:
            day = self._days[hour] = local_date(utc.replace(tzinfo=UTC))
        return day


async def _ledger_batches(
    session: AsyncSession, start: date, end: date, day: _OfficeDays
) -> AsyncIterator[tuple[Sequence[Any], Sequence[Any], dict[int, date]]]:
    """(items, their non-draft assignments, finished dates) ``BATCH`` items at a time, in number
    order: keyset on (year, number), unique for approved items. Each assignment row carries its
    progress count and its finished report's time (correlated subqueries on indexed columns)."""
    items_q = (
        select(
            Item.id,
            Item.year,
            Item.number,
            Item.title,
            Item.source,
            Item.importance,
            Item.confidential,
            Item.state,
            Item.closed_at,
        )
        .where(*_under_supervision(start, end))
        .order_by(Item.year, Item.number)
        .limit(BATCH)
    )
    feedback = (
        select(func.count()).select_from(Progress).where(Progress.assignment_id == Assignment.id).scalar_subquery()
    )
    # As score.finished_dates: the approved or pending completion report, the last one wins.
    reported_at = (
        select(CompletionReport.created_at)
        .where(CompletionReport.assignment_id == Assignment.id, CompletionReport.status.in_(("approved", "pending")))
        .order_by(CompletionReport.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    shares_q = (
        select(
            Assignment.id,
            Assignment.item_id,
            Unit.name,
            Assignment.role,
            Assignment.state,
            type_coerce(Assignment.notified_at, _UTC_NAIVE),
            type_coerce(Assignment.acknowledged_at, _UTC_NAIVE),
            Assignment.due_date,
            Assignment.extension_count,
            Assignment.redo_count,
            Assignment.done_at,
            feedback,
            type_coerce(reported_at, _UTC_NAIVE),
        )
        .join(Unit, Unit.id == Assignment.unit_id)
        .where(Assignment.state != "draft")
        .order_by(Assignment.item_id, Assignment.id)
    )
    conn = await session.connection()  # Core rows: no ORM bookkeeping per row
    after = None
    while True:
        q = items_q if after is None else items_q.where(tuple_(Item.year, Item.number) > tuple_(*after))
        items = (await conn.execute(q)).all()
        if not items:
            return
        after = (items[-1].year, items[-1].number)
        shares: Sequence[Any] = (
            await conn.execute(shares_q.where(Assignment.item_id.in_([i.id for i in items])))
        ).all()
        reported = {a[0]: day(a[-1]) for a in shares if a[-1] is not None}
        yield items, shares, reported


async def write_items(
    session: AsyncSession,
    target: str | Path | BinaryIO,
    start: date,
    end: date,
    *,
    today: date,
    calendar: WorkCalendar,
    office_name: str,
) -> LedgerCount:
    """Every item under supervision at some time in [start, end] (approved by ``end`` and not closed
    before ``start``) with one row per unit: dates, deadline, state, working days overdue (as of
    ``today`` for a share still open) and how many progress reports it sent."""
    check_range(start, end)
    book: Book | None = None
    n_items = n_rows = 0
    late: dict[tuple[date, date], int] = {}  # (due, finished or today) repeats across thousands of rows
    day = _OfficeDays()
    try:
        async for items, shares, reported in _ledger_batches(session, start, end, day):
            if book is None:
                book = Book(target)
                sheet = book.sheet("督办台账", ITEM_COLUMNS)
            n_items += len(items)
            by_item: dict[int, list] = {}
            for a in shares:
                by_item.setdefault(a.item_id, []).append(a)
            for item in items:
                label = format_number(item.year, item.number) or f"登记号{item.id}"  # as workflow.item_label
                title = CONFIDENTIAL if item.confidential else item.title
                source = SOURCES.get(item.source, item.source)
                importance = IMPORTANCE.get(item.importance, item.importance)
                state = ITEM_STATES.get(item.state, item.state)
                ref = _ItemRef(item.closed_at)
                for (
                    share_id,
                    _,
                    unit,
                    role,
                    share_state,
                    notified_at,
                    acknowledged_at,
                    due,
                    extensions,
                    redos,
                    done_at,
                    feedback,
                    _,
                ) in by_item.get(item.id, ()):
                    finished = reported.get(share_id)  # finished_on's first rule, without building a _Share
                    if finished is None and share_state == "done":
                        finished = finished_on(_Share(share_id, share_state, done_at, ref), reported)
                    overdue = None
                    if due is not None and share_state not in ("transferred", "declined"):
                        key = (due, finished or today)
                        overdue = late.get(key)
                        if overdue is None:
                            overdue = late[key] = max(calendar.working_days_between(*key).days, 0)
                    sheet.append(
                        (
                            label,
                            title,
                            source,
                            importance,
                            unit,
                            UNIT_ROLES_OF_ASSIGNMENT.get(role, role),
                            day(notified_at),
                            day(acknowledged_at),
                            due,
                            extensions,
                            finished if share_state == "done" else None,
                            ASSIGNMENT_STATES.get(share_state, share_state),
                            overdue,
                            feedback,
                            redos,
                            state,
                        )
                    )
                    n_rows += 1
        if book is None:
            raise _no_items(start, end)
        sheet.notes(
            [
                f"{office_name}　督办事项台账　{start.isoformat()}至{end.isoformat()}",
                f"共{n_items}个事项、{n_rows}条承办记录；超期工作日：已办结的按办结报告提交日计，"
                f"未办结的计至{today.isoformat()}",
                "涉密事项只列编号，内容请到督查室查阅",
            ]
        )
    except BaseException:
        if book is not None:
            book.abort()
        raise
    book.close()
    return LedgerCount(n_items, n_rows)


async def items_workbook(
    session: AsyncSession, start: date, end: date, *, today: date, calendar: WorkCalendar, office_name: str
) -> bytes:
    """``write_items`` into memory (tests and small ranges; the bot and the CLI write to a file)."""
    buf = io.BytesIO()
    await write_items(session, buf, start, end, today=today, calendar=calendar, office_name=office_name)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# One export, to a file: the CLI in its own loop, the bot in a worker thread
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportJob:
    """What to export: ``scores`` of ``year``, or ``items`` from ``start`` to ``end``."""

    kind: str
    today: date
    office_name: str
    year: int | None = None
    start: date | None = None
    end: date | None = None
    rules: Rules = field(default_factory=lambda: DEFAULT_RULES)  # the deployment's (Services.score_rules)

    def scores_year(self) -> int:
        if self.year is None:
            raise ValueError("a scores export names its year")
        return self.year

    def items_range(self) -> tuple[date, date]:
        if self.start is None or self.end is None:
            raise ValueError("an items export names its first and last day")
        return self.start, self.end


@dataclass(frozen=True)
class ExportResult:
    path: Path
    size: int
    frozen: bool = False  # scores: the year's table is approved
    rows: int = 0  # items: rows of the ledger


async def check_export(session: AsyncSession, job: ExportJob) -> None:
    """The cheap refusals (bad or empty range, a year without records), to answer at once."""
    if job.kind == "scores":
        await check_scores(session, job.scores_year())
    else:
        await check_items(session, *job.items_range())


async def write_export(
    database_url: str, job: ExportJob, path: str | Path, calendar: WorkCalendar | None = None
) -> ExportResult:
    """Write ``job`` to ``path`` with a database connection of its own. The file appears whole or
    not at all: it is written beside ``path`` and renamed at the end."""
    path = Path(path)
    part = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    db = Database(database_url)
    try:
        async with db.session() as s:
            if job.kind == "scores":
                table = await write_scores(
                    s, part, job.scores_year(), today=job.today, office_name=job.office_name, rules=job.rules
                )
                frozen, rows = table.frozen, 0
            else:
                count = await write_items(
                    s,
                    part,
                    *job.items_range(),
                    today=job.today,
                    calendar=calendar or await load_calendar(s),
                    office_name=job.office_name,
                )
                frozen, rows = False, count.rows
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
        await db.dispose()
    return ExportResult(path, path.stat().st_size, frozen, rows)


# One export at a time in the bot: each holds a batch of rows and a CPU; more would only queue
# for the same two cores and add their memory up.
_ONE_AT_A_TIME = threading.Lock()


def _in_thread(database_url: str, job: ExportJob, path: Path, calendar: WorkCalendar | None) -> ExportResult:
    with _ONE_AT_A_TIME:
        try:
            return asyncio.run(write_export(database_url, job, path, calendar))
        finally:
            give_back()  # the export's rows and workbook are gone: their pages go back to the system


async def export_off_loop(
    database_url: str, job: ExportJob, path: str | Path, calendar: WorkCalendar | None = None
) -> ExportResult:
    """``write_export`` in a worker thread with its own event loop and connection, so the caller's
    loop keeps answering: it only waits. A thread rather than a process: nothing to import again
    (a fresh interpreter with SQLAlchemy takes 2–3 s and ~85 MB before the first row), and the file
    and its memory are gone with the export; the loop stays responsive because the thread gives the
    GIL back every few milliseconds and the database waits release it."""
    return await asyncio.to_thread(_in_thread, database_url, job, Path(path), calendar)


def export_path(files_dir: str | os.PathLike[str], suffix: str = ".xlsx", now: float | None = None) -> Path:
    """A fresh file name under ``files_dir/exports`` for the outbox to send; files older than
    ``KEEP_FILES`` (long sent, or given up) are removed on the way."""
    folder = Path(files_dir) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = (now if now is not None else time.time()) - KEEP_FILES.total_seconds()
    for old in folder.iterdir():
        try:
            if old.is_file() and old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            pass  # another export removed it first
    return folder / f"{uuid.uuid4().hex}{suffix}"


# --------------------------------------------------------------------------------------------
# The command line: python -m bot export {scores,items,notice,dossier} FILE
# --------------------------------------------------------------------------------------------

_SUFFIX = {"scores": ".xlsx", "items": ".xlsx", "notice": ".docx", "dossier": ".docx"}


async def export_command(
    settings: Any,
    kind: str,
    file: str,
    *,
    year: int | None,
    start: str | None,
    end: str | None,
    item: str | None,
    now: datetime,
    out: Any,
    err: Any,
) -> int:
    """Write one export to ``file``; a problem is one Chinese line on ``err`` and status 2."""
    from bot.documents.word import dossier_document, notice_document  # python-docx: only for the Word files
    from bot.domain.views import find_item

    path = Path(file)
    try:
        if path.suffix.lower() != _SUFFIX[kind]:
            raise DomainError(f"输出文件应以 {_SUFFIX[kind]} 结尾，实际为 {path.name}")
        if not path.parent.is_dir():
            raise DomainError(f"目录 {path.parent} 不存在")
        if kind == "scores" and year is None:
            raise DomainError("导出考核表须指定年度，例如 --year 2026")
        if kind == "items" and (start is None or end is None):
            raise DomainError("导出督办台账须指定时间段，例如 --from 2026-01-01 --to 2026-12-31")
        if kind in ("notice", "dossier") and not item:
            raise DomainError("须指定事项编号，例如 --item 2026-3")
        rules = rules_with_points(settings.score.points)
        today = now.astimezone(OFFICE_TZ).date()
        db = Database(settings.database.url)
        try:
            await db.upgrade()
            if kind in ("scores", "items"):
                job = (
                    ExportJob("scores", today, settings.office.name, year=check_year(year, today), rules=rules)
                    if kind == "scores"
                    else ExportJob(
                        "items",
                        today,
                        settings.office.name,
                        start=parse_date(start, "开始日期"),
                        end=parse_date(end, "结束日期"),
                    )
                )
                size = (await write_export(db.url, job, path)).size
            else:
                async with db.session() as s:
                    item_id = (await find_item(s, item or "", now)).id  # given: checked above
                    if kind == "notice":
                        _, data = await notice_document(
                            s, item_id, office_name=settings.office.name, files_dir=settings.storage.files_dir
                        )
                    else:
                        _, data = await dossier_document(s, item_id, office_name=settings.office.name, now=now)
                path.write_bytes(data)
                size = len(data)
        finally:
            await db.dispose()
    except DomainError as exc:
        print(exc.message, file=err)
        return 2
    print(f"已导出到 {path}（{size / 1024:.1f} KB）", file=out)
    return 0
