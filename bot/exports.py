"""Excel files for the office (openpyxl): the year's score table and the item ledger (督办台账).

Both are built from the database, never from what a chat showed; headers are Chinese, columns have
widths, dates are real dates, the header row is frozen. Confidential items appear by number only
(these files travel through the messenger), marked 涉密. An empty year or range is refused with a
message rather than producing an empty file.

No telegram here: the chat handler and the CLI (``python -m bot export``) both call these.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.calendar_store import load_calendar
from bot.documents import dossier_document, notice_document
from bot.domain.errors import DomainError
from bot.domain.ledger import ScoreTable, format_score, score_table, unit_events
from bot.domain.score import Rule, check_year, finished_dates, finished_on, format_points, rules_with_points, use_rules
from bot.domain.views import find_item
from bot.domain.workdays import WorkCalendar
from bot.domain.workflow import (
    ASSIGNMENT_STATES,
    IMPORTANCE,
    ITEM_OPTIONS,
    ITEM_STATES,
    OFFICE_TZ,
    SOURCES,
    UNIT_ROLES_OF_ASSIGNMENT,
    item_label,
    local_date,
)
from store.db import Database
from store.workflow import Item, Progress

CONFIDENTIAL = "（涉密事项）"
DATE_FORMAT = "yyyy-mm-dd"
MAX_RANGE_DAYS = 3 * 366
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


@dataclass(frozen=True)
class Column:
    title: str
    width: float
    wrap: bool = False


def _sheet(ws: Worksheet, title: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]],
           notes: Sequence[str] = ()) -> None:
    """Fill ``ws``: a bold, frozen header row, set widths, dates formatted as dates, and ``notes``
    a blank row below the table."""
    ws.title = title
    ws.append([c.title for c in columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for row in rows:
        ws.append(list(row))
    for i, c in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = c.width
        for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
            if isinstance(cell.value, (date, datetime)):
                cell.number_format = DATE_FORMAT
            if c.wrap:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A2"
    if notes:
        ws.append([])
        for note in notes:
            ws.append([note])


def _bytes(wb: Workbook) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def save(data: bytes, path: str | Path) -> Path:
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise DomainError(f"目录 {path.parent} 不存在")
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------------------------
# Dates as people type them
# --------------------------------------------------------------------------------------------

_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


def parse_date(text: str | None, label: str = "日期") -> date:
    """``2026-01-01``, ``2026/1/1``, ``2026年1月1日``."""
    s = (text or "").strip()
    m = _DATE.fullmatch(s)
    try:
        if m is None:
            raise ValueError
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise DomainError(f"{label}「{s[:20]}」格式不对，应为 YYYY-MM-DD，如 2026-01-01") from None


def check_range(start: date, end: date) -> None:
    if end < start:
        raise DomainError(f"结束日期 {end.isoformat()} 早于开始日期 {start.isoformat()}")
    if (end - start).days > MAX_RANGE_DAYS:
        raise DomainError("时间段太长：一次最多导出三年")


# --------------------------------------------------------------------------------------------
# The score table
# --------------------------------------------------------------------------------------------

SCORE_COLUMNS = (
    Column("排名", 7), Column("单位", 26), Column("得分", 9), Column("加分", 8), Column("扣分", 8),
    Column("考核记录（条）", 10), Column("当年承办督办事项", 12), Column("评先评优资格", 16), Column("备注", 28, True),
)
EVENT_COLUMNS = (
    Column("记录号", 8), Column("记录日期", 12), Column("单位", 22), Column("考核规则", 34, True), Column("条款", 13),
    Column("分值", 7), Column("事项编号", 17), Column("事项名称", 30, True), Column("理由", 40, True),
    Column("记录方式", 9), Column("记录人", 10), Column("更正情况", 16),
)
PENDING_COLUMNS = (
    Column("单位", 22), Column("事项编号", 17), Column("承办", 7), Column("办结时限", 12), Column("考核规则", 34, True),
    Column("分值", 7),
)


async def scores_workbook(session: AsyncSession, year: int, *, today: date, office_name: str,
                          rules: dict[str, Rule] | None = None) -> bytes:
    """The year's table (汇总), every event (明细) and, before approval, the pending deductions."""
    table = await score_table(session, year, today, rules)
    if not any(r.handled for r in table.rows):
        raise DomainError(f"{year}年度没有考核记录（没有单位承办督办事项，也没有加减分记录）")
    wb = Workbook()
    rows = [(r.rank, r.unit, float(r.score), r.bonus, r.deduction, r.events, "是" if r.handled else "否",
             "取消" if r.disqualified else "保留",
             "" if r.handled else f"当年未承办督办事项，按平均分{table.average_text}计") for r in table.rows]
    _sheet(wb.active, "考核汇总", SCORE_COLUMNS, rows, notes=_status(table, office_name))

    events = []
    for r in sorted(table.rows, key=lambda r: r.unit_id):
        for e in await unit_events(session, year, r.unit_id, rules):
            correction = (f"撤销第{e.reverses_id}号" if e.reverses_id else
                          f"已被第{e.reversed_by_id}号撤销" if e.reversed_by_id else "")
            events.append((e.id, local_date(e.at), r.unit, e.rule_name, e.clause, e.points, e.item_label or "",
                           CONFIDENTIAL if e.confidential else await _title(session, e.item_id),
                           CONFIDENTIAL if e.confidential else e.reason, "自动" if e.automatic else "人工",
                           e.recorded_by or "系统", correction))
    events.sort(key=lambda row: row[0])
    _sheet(wb.create_sheet(), "考核明细", EVENT_COLUMNS, events)
    if table.pending:
        _sheet(wb.create_sheet(), "待结算扣分", PENDING_COLUMNS, [
            (p.unit_name, p.item_label, UNIT_ROLES_OF_ASSIGNMENT.get(p.role, p.role), p.due, p.rule.name,
             p.rule.points) for p in table.pending])
    return _bytes(wb)


async def _title(session: AsyncSession, item_id: int | None) -> str:
    if item_id is None:
        return ""
    return await session.scalar(select(Item.title).where(Item.id == item_id)) or ""


def _status(table: ScoreTable, office_name: str) -> list[str]:
    lines = [f"{office_name}　{table.year}年度政务督查工作考核"]
    if table.frozen:
        when = table.approved_at.astimezone(OFFICE_TZ).date().isoformat() if table.approved_at else ""
        lines.append(f"状态：已审定（{table.approved_by or ''}，{when}）")
    else:
        lines.append("状态：尚未审定，分数随考核记录变化")
        if table.pending:
            points = sum(p.rule.points for p in table.pending)
            lines.append(f"另有逾期未办结待结算扣分{len(table.pending)}项（合计{format_points(points)}分），"
                         "审定时计入，见“待结算扣分”表")
    if table.average is not None:
        lines.append(f"承办单位平均分：{format_score(table.average)}")
    lines.append("评先评优资格“取消”：有瞒报、谎报、弄虚作假行为（第八条（九））")
    return lines


# --------------------------------------------------------------------------------------------
# The item ledger
# --------------------------------------------------------------------------------------------

ITEM_COLUMNS = (
    Column("事项编号", 17), Column("事项名称", 32, True), Column("事项来源", 22, True), Column("重要程度", 9),
    Column("承办单位", 22), Column("承办方式", 9), Column("交办日期", 12), Column("签收日期", 12),
    Column("办结时限", 12), Column("延期次数", 9), Column("办结日期", 12), Column("承办状态", 14),
    Column("逾期工作日", 11), Column("反馈次数", 9), Column("退回重办次数", 12), Column("事项状态", 14),
)


async def items_workbook(session: AsyncSession, start: date, end: date, *, today: date, calendar: WorkCalendar,
                         office_name: str) -> bytes:
    """Every item under supervision at some time in [start, end] (approved by ``end`` and not closed
    before ``start``) with one row per unit: dates, deadline, state, working days overdue (as of
    ``today`` for a share still open) and how many progress reports it sent."""
    check_range(start, end)
    lo = datetime.combine(start, datetime.min.time(), tzinfo=OFFICE_TZ)
    hi = datetime.combine(end, datetime.max.time(), tzinfo=OFFICE_TZ)
    items = (await session.scalars(
        select(Item).options(*ITEM_OPTIONS)
        .where(Item.approved_at.is_not(None), Item.approved_at <= hi, or_(Item.closed_at.is_(None), Item.closed_at >= lo))
        .order_by(Item.year, Item.number)
    )).all()
    if not items:
        raise DomainError(f"{start.isoformat()}至{end.isoformat()}期间没有督查事项，未生成台账")
    shares = [a for item in items for a in item.assignments if a.state != "draft"]
    reported = await finished_dates(session, shares)
    feedback = Counter(dict((await session.execute(
        select(Progress.assignment_id, func.count()).where(Progress.assignment_id.in_([a.id for a in shares] or [-1]))
        .group_by(Progress.assignment_id))).all()))
    rows = []
    for item in items:
        for a in item.assignments:
            if a.state == "draft":
                continue
            finished = finished_on(a, reported)
            overdue = None
            if a.due_date is not None and a.state not in ("transferred", "declined"):
                late = calendar.working_days_between(a.due_date, finished or today).days
                overdue = max(late, 0)
            rows.append((
                item_label(item), CONFIDENTIAL if item.confidential else item.title, SOURCES.get(item.source, item.source),
                IMPORTANCE.get(item.importance, item.importance), a.unit.name,
                UNIT_ROLES_OF_ASSIGNMENT.get(a.role, a.role), local_date(a.notified_at) if a.notified_at else None,
                local_date(a.acknowledged_at) if a.acknowledged_at else None, a.due_date, a.extension_count,
                finished if a.state == "done" else None, ASSIGNMENT_STATES.get(a.state, a.state), overdue,
                feedback.get(a.id, 0), a.redo_count, ITEM_STATES.get(item.state, item.state),
            ))
    notes = [f"{office_name}　督办事项台账　{start.isoformat()}至{end.isoformat()}",
             f"共{len(items)}个事项、{len(rows)}条承办记录；逾期工作日：已办结的按办结报告提交日计，未办结的计至{today.isoformat()}",
             "涉密事项只列编号，内容请到督查室查阅"]
    wb = Workbook()
    _sheet(wb.active, "督办台账", ITEM_COLUMNS, rows, notes=notes)
    return _bytes(wb)


# --------------------------------------------------------------------------------------------
# The command line: python -m bot export {scores,items,notice,dossier} FILE
# --------------------------------------------------------------------------------------------

_SUFFIX = {"scores": ".xlsx", "items": ".xlsx", "notice": ".docx", "dossier": ".docx"}


async def export_command(settings: Any, kind: str, file: str, *, year: int | None, start: str | None,
                         end: str | None, item: str | None, now: datetime, out: Any, err: Any) -> int:
    """Write one export to ``file``; a problem is one Chinese line on ``err`` and status 2."""
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
        use_rules(rules_with_points(settings.score.points))
        today = now.astimezone(OFFICE_TZ).date()
        db = Database(settings.database.url)
        try:
            await db.upgrade()
            async with db.session() as s:
                if kind == "scores":
                    data = await scores_workbook(s, check_year(year, today), today=today,
                                                 office_name=settings.office.name)
                elif kind == "items":
                    data = await items_workbook(s, parse_date(start, "开始日期"), parse_date(end, "结束日期"),
                                                today=today, calendar=await load_calendar(s),
                                                office_name=settings.office.name)
                else:
                    item_id = (await find_item(s, item, now)).id
                    if kind == "notice":
                        _, data = await notice_document(s, item_id, office_name=settings.office.name,
                                                        files_dir=settings.storage.files_dir)
                    else:
                        _, data = await dossier_document(s, item_id, office_name=settings.office.name, now=now)
        finally:
            await db.dispose()
        save(data, path)
    except DomainError as exc:
        print(exc.message, file=err)
        return 2
    print(f"已导出到 {path}（{len(data) / 1024:.1f} KB）", file=out)
    return 0
